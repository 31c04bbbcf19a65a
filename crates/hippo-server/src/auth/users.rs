//! Admin endpoints for people and keys: a tenant admin creates, lists, disables and resets
//! users of their tenant, rotates API keys; auditors and admins ask "what can X see?".

use crate::ctx::Caller;
use crate::problem::ApiError;
use crate::routes::admin::{view as key_view, MAX_KEY_LIFETIME_SECS};
use crate::routes::read_json;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use hippo_core::time_fmt::rfc3339;
use hippo_core::{apikey, Action, Role, TenantId};
use hippo_identity::password;
use hippo_proto::{ApiKeyRotate, PolicyAnswer, PolicyQuestion, UserCreate, UserList, UserView};
use hippo_store::identity::{normalize_username, Membership, NewUser, UserChange, UserInfo};
use hippo_store::KeyRotation;

pub fn user_view(u: UserInfo) -> UserView {
    UserView {
        id: u.id,
        username: u.username,
        memberships: u
            .memberships
            .iter()
            .map(|m| format!("{}:{}", m.tenant, m.role))
            .collect(),
        created_at: rfc3339(u.created_at_ms),
        created_by: u.created_by,
        disabled_at: u.disabled_at_ms.map(rfc3339),
        totp_enrolled: u.totp_enrolled,
        passkeys: u.passkeys,
        recovery_codes_left: u.recovery_codes_left,
    }
}

/// Checks a new password against the configured policy and hashes it (off the async threads:
/// Argon2id is deliberately slow). Shared by the admin endpoint and `hippo user add`.
pub async fn hash_new_password(
    cost: hippo_identity::Argon2Cost,
    min_length: usize,
    username: &str,
    pw: String,
) -> Result<String, ApiError> {
    let pw = zeroize::Zeroizing::new(pw);
    password::check_policy(&pw, min_length, &[username])
        .map_err(|e| ApiError::WeakPassword(e.to_string()))?;
    let salt = hippo_store::random::bytes::<16>()?;
    tokio::task::spawn_blocking(move || password::hash(&pw, cost, &salt))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(|_| ApiError::Internal)
}

#[utoipa::path(post, path = "/v1/admin/users", tag = "admin", request_body = UserCreate,
    responses((status = 201, body = UserView), (status = 400, body = hippo_proto::Problem), (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem), (status = 409, body = hippo_proto::Problem)),
    security(("bearer" = [])))]
pub async fn create_user(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let mut draft = caller.authorize(&s, Action::UserCreate).await?;
    let parsed = async {
        let v = read_json(&headers, body, 8192).await?;
        let req: UserCreate = serde_json::from_value(v).map_err(|_| {
            ApiError::BadParameter(
                "expected {\"username\", \"password\", \"role\"} and no other fields".into(),
            )
        })?;
        let username = normalize_username(&req.username)
            .map_err(|why| ApiError::BadParameter(format!("username: {why}")))?;
        let role: Role = req
            .role
            .parse()
            .map_err(|e: hippo_core::policy::UnknownRole| ApiError::BadParameter(e.to_string()))?;
        let auth = &s.config.auth;
        let hash = hash_new_password(
            auth.argon2,
            auth.password_min_length,
            &username,
            req.password,
        )
        .await?;
        Ok::<_, ApiError>((username, role, hash))
    }
    .await;
    let (username, role, password_hash) = match parsed {
        Ok(p) => p,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    draft.detail("role", role.as_str());
    let user = NewUser {
        username,
        password_hash,
        memberships: vec![Membership {
            tenant: caller.principal.tenant.clone(),
            role,
        }],
        created_by: caller.principal.id.clone(),
    };
    let u = s.store.create_user(user, draft).await?;
    Ok((StatusCode::CREATED, Json(user_view(u))))
}

#[utoipa::path(get, path = "/v1/admin/users", tag = "admin",
    responses((status = 200, body = UserList)), security(("bearer" = [])))]
pub async fn list_users(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<UserList>, ApiError> {
    let draft = caller.authorize(&s, Action::UserList).await?;
    let users = s
        .store
        .list_users(Some(&caller.principal.tenant), draft)
        .await?;
    Ok(Json(UserList {
        items: users.into_iter().map(user_view).collect(),
    }))
}

async fn change(
    s: AppState,
    caller: Caller,
    user_id: String,
    change: UserChange,
    action: Action,
) -> Result<Json<UserView>, ApiError> {
    let draft = caller.authorize(&s, action).await?;
    let u = s
        .store
        .change_user(
            Some(&caller.principal.tenant),
            &user_id,
            change,
            caller.now_ms,
            draft,
        )
        .await?;
    Ok(Json(user_view(u)))
}

#[utoipa::path(post, path = "/v1/admin/users/{id}/disable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn disable_user(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    change(s, caller, id, UserChange::Disable, Action::UserDisable).await
}

#[utoipa::path(post, path = "/v1/admin/users/{id}/enable", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn enable_user(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    change(s, caller, id, UserChange::Enable, Action::UserDisable).await
}

#[utoipa::path(post, path = "/v1/admin/users/{id}/reset-mfa", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn reset_mfa(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    change(s, caller, id, UserChange::ResetMfa, Action::UserResetMfa).await
}

#[utoipa::path(post, path = "/v1/admin/users/{id}/revoke-sessions", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn revoke_sessions(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    change(
        s,
        caller,
        id,
        UserChange::RevokeSessions,
        Action::SessionRevoke,
    )
    .await
}

#[utoipa::path(post, path = "/v1/admin/apikeys/{key_id}/rotate", tag = "admin", params(("key_id" = String, Path)),
    request_body = ApiKeyRotate,
    responses((status = 201, body = hippo_proto::ApiKeyCreated), (status = 404, body = hippo_proto::Problem), (status = 400, body = hippo_proto::Problem), (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn rotate_key(
    State(s): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<hippo_proto::ApiKeyCreated>), ApiError> {
    let draft = caller.authorize(&s, Action::ApiKeyRotate).await?;
    let parsed = async {
        let v = read_json(&headers, body, 4096).await?;
        let req: ApiKeyRotate = serde_json::from_value(v).map_err(|_| {
            ApiError::BadParameter(
                "expected {\"overlap_secs\": optional, \"expires_in_secs\": optional} and no other fields".into(),
            )
        })?;
        if req.overlap_secs.is_some_and(|o| o > 30 * 24 * 3600) {
            return Err(ApiError::BadParameter(
                "overlap_secs must be at most 2592000 (30 days)".into(),
            ));
        }
        if req
            .expires_in_secs
            .is_some_and(|e| !(60..=MAX_KEY_LIFETIME_SECS).contains(&e))
        {
            return Err(ApiError::BadParameter(format!(
                "expires_in_secs must be from 60 to {MAX_KEY_LIFETIME_SECS}"
            )));
        }
        Ok(req)
    }
    .await;
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    let minted = apikey::mint(&hippo_store::random::bytes::<{ apikey::RANDOM_BYTES }>()?);
    let token = minted.token.clone();
    let overlap = req
        .overlap_secs
        .unwrap_or(s.config.auth.api_key_rotation_overlap_secs);
    let rotation = KeyRotation {
        minted,
        overlap_ms: overlap as i64 * 1000,
        expires_at_ms: req.expires_in_secs.map(|e| caller.now_ms + e as i64 * 1000),
        now_ms: caller.now_ms,
        created_by: caller.principal.id.clone(),
    };
    let info = s
        .store
        .rotate_api_key(Some(&caller.principal.tenant), &key_id, rotation, draft)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(hippo_proto::ApiKeyCreated {
            token,
            key: key_view(info),
        }),
    ))
}

/// Turns a policy question into the engine's input (shared with `hippo policy explain`).
pub fn question_input(
    q: &PolicyQuestion,
    default_tenant: &TenantId,
    now_ms: i64,
) -> Result<hippo_policy::PolicyInput, ApiError> {
    let tenant = |t: &Option<String>, key: &str| -> Result<TenantId, ApiError> {
        match t {
            None => Ok(default_tenant.clone()),
            Some(t) => t
                .parse()
                .map_err(|_| ApiError::BadParameter(format!("{key} is not a tenant id"))),
        }
    };
    let role: Role = q
        .role
        .parse()
        .map_err(|e: hippo_core::policy::UnknownRole| ApiError::BadParameter(e.to_string()))?;
    let action = Action::parse(&q.action).ok_or_else(|| {
        ApiError::BadParameter("action is not a known action name, e.g. record.read".into())
    })?;
    Ok(hippo_policy::PolicyInput {
        principal: hippo_policy::PrincipalFacts {
            id: "explain".into(),
            kind: hippo_core::principal::ActorKind::User,
            tenant: tenant(&q.principal_tenant, "principal_tenant")?,
            role,
            attributes: Default::default(),
        },
        action,
        resource: hippo_policy::ResourceFacts {
            tenant: tenant(&q.resource_tenant, "resource_tenant")?,
            record_type: q.record_type.clone(),
            subject: None,
            labels: q.labels.clone(),
        },
        context: hippo_policy::ContextFacts {
            purpose: None,
            emergency: q.emergency.then(|| hippo_policy::EmergencyFacts {
                session_id: "explain".into(),
                reason_len: 0,
                expires_at_ms: now_ms + 60_000,
            }),
            now_ms,
            source_addr: None,
        },
    })
}

pub fn answer(d: hippo_policy::Decision) -> PolicyAnswer {
    PolicyAnswer {
        allowed: d.allowed,
        rule: d.rule,
        reason: d.reason,
        remove_fields: d.obligations.remove_fields,
        widened_by_emergency: d.widened_by_emergency,
    }
}

#[utoipa::path(post, path = "/v1/admin/policy/explain", tag = "admin", request_body = PolicyQuestion,
    responses((status = 200, body = PolicyAnswer), (status = 400, body = hippo_proto::Problem), (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn explain(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PolicyAnswer>, ApiError> {
    let mut draft = caller.authorize(&s, Action::PolicyExplain).await?;
    let parsed = async {
        let v = read_json(&headers, body, 8192).await?;
        let q: PolicyQuestion = serde_json::from_value(v).map_err(|_| {
            ApiError::BadParameter("expected {\"role\", \"action\", \"principal_tenant\", \"resource_tenant\", \"record_type\", \"labels\", \"emergency\"}".into())
        })?;
        question_input(&q, &caller.principal.tenant, caller.now_ms)
    }
    .await;
    let input = match parsed {
        Ok(i) => i,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    // An auditor asks about their own tenant only: the answer is about policy, but which
    // tenants have rules is itself a fact of other tenants.
    if input.principal.tenant != caller.principal.tenant
        || input.resource.tenant != caller.principal.tenant
    {
        let e = ApiError::BadParameter(
            "questions are about your own tenant: principal_tenant and resource_tenant must be it"
                .into(),
        );
        return Err(caller.reject(&s, draft, e).await);
    }
    let decision = s.policy.decide(&input);
    draft.detail("asked_action", input.action.as_str());
    draft.detail("answer", decision.allowed);
    s.store.append_audit(draft).await?;
    Ok(Json(answer(decision)))
}
