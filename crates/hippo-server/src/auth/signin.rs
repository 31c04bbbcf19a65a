//! Signing in and out: password, then a second factor (TOTP or a recovery code), or enrolment of
//! one; sessions and their cookie; the caller's own session; break-glass elevation.
//!
//! Every failure answers the same 401 whether the account exists or not, after the same
//! Argon2id work (a decoy hash for unknown names), and is audited (`auth.failed`).

use super::caller::SESSION_COOKIE;
use crate::ctx::{refuse, Caller, Credential, RequestMeta};
use crate::problem::ApiError;
use crate::routes::read_json;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hippo_core::principal::ActorKind;
use hippo_core::time_fmt::rfc3339;
use hippo_core::{Action, Actor, AuditDraft, Outcome};
use hippo_identity::{password, recovery, session, totp};
use hippo_proto::{
    BreakGlassRequest, LoginRequest, MfaRequest, SessionView, SignInView, TotpEnrolment,
};
use hippo_store::identity::{
    normalize_username, session_id, Emergency, FactorUse, NewSession, SessionRow, SessionStage,
    UserChange,
};

/// The issuer name shown in authenticator apps.
const TOTP_ISSUER: &str = "Hippo";

pub(super) fn source(meta: &RequestMeta) -> String {
    meta.source_addr.clone().unwrap_or_else(|| "-".into())
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
    shape: &str,
) -> Result<T, ApiError> {
    serde_json::from_value(v)
        .map_err(|_| ApiError::BadParameter(format!("expected {shape} and no other fields")))
}

/// A sign-in failure: counted by the throttle, audited without the name typed, answered 401.
pub(super) async fn failed(
    state: &AppState,
    mut draft: AuditDraft,
    account: &str,
    meta: &RequestMeta,
    why: &str,
) -> ApiError {
    let now = state.now_ms();
    state.throttle.failure(account, &source(meta), now);
    state.telemetry.sign_in_failed(&draft, account, meta, now);
    draft.detail("reason", why.to_owned());
    refuse(state, draft, Outcome::Denied, ApiError::SignInFailed).await
}

fn session_cookie(token: &str, max_age_secs: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}"
    ))
    .expect("token and numbers are header-safe")
}

pub(super) fn with_cookie(view: SignInView, token: &str, max_age_secs: u64) -> Response {
    let mut resp = Json(view).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(token, max_age_secs));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub(super) fn active_view(
    state: &AppState,
    token: &str,
    now_ms: i64,
    recovery_codes: Vec<String>,
) -> SignInView {
    let t = state.config.auth.timeouts();
    SignInView {
        stage: SessionStage::Active.as_str().into(),
        token: token.to_owned(),
        csrf_token: Some(session::csrf_token(token)),
        expires_at: rfc3339(now_ms + t.idle_ms.min(t.absolute_ms)),
        recovery_codes,
    }
}

#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SignInView), (status = 401, body = hippo_proto::Problem), (status = 429, body = hippo_proto::Problem), (status = 503, body = hippo_proto::Problem), (status = 400, body = hippo_proto::Problem), (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem)))]
pub async fn login(
    State(s): State<AppState>,
    parts: Parts,
    body: Body,
) -> Result<Response, ApiError> {
    let meta = RequestMeta::from_parts(&parts);
    let now = s.now_ms();
    let mut draft = meta.draft(None, Actor::anonymous(), Action::AuthFailed);
    draft.detail("route", meta.route.clone());
    let req: LoginRequest = match read_json(&parts.headers, body, s.config.max_body_bytes).await {
        Ok(v) => match parse(v, "{\"username\", \"password\", \"tenant\" (optional)}") {
            Ok(r) => r,
            Err(e) => return Err(refuse(&s, draft, Outcome::Error, e).await),
        },
        Err(e) => return Err(refuse(&s, draft, Outcome::Error, e).await),
    };
    let name = normalize_username(&req.username).unwrap_or_default();
    if let Err(retry_after_secs) = s.throttle.check(&name, &source(&meta), now) {
        s.telemetry.sign_in_throttled(&draft, &name, &meta, now);
        draft.detail("reason", "locked");
        return Err(refuse(
            &s,
            draft,
            Outcome::Denied,
            ApiError::SignInLocked { retry_after_secs },
        )
        .await);
    }
    let record = if name.is_empty() {
        None
    } else {
        s.store.user_for_login(&name).await?
    };
    let stored = record
        .as_ref()
        .map(|r| r.password_hash.clone())
        .unwrap_or_else(|| s.decoy_hash.as_str().to_owned());
    let pw = zeroize::Zeroizing::new(req.password);
    let verified = tokio::task::spawn_blocking(move || password::verify(&pw, &stored))
        .await
        .map_err(|_| ApiError::Internal)?
        .unwrap_or(false);
    let Some(record) = record.filter(|_| verified) else {
        return Err(failed(&s, draft, &name, &meta, "bad_password_or_unknown_user").await);
    };
    let user = &record.user;
    draft.actor = Actor {
        id: user.id.clone(),
        kind: ActorKind::User,
    };
    if user.disabled_at_ms.is_some() {
        return Err(failed(&s, draft, &name, &meta, "disabled").await);
    }
    let membership = match &req.tenant {
        Some(t) => user.memberships.iter().find(|m| m.tenant.as_str() == t),
        None if user.memberships.len() == 1 => user.memberships.first(),
        None => {
            let e = ApiError::BadParameter(
                "you belong to several tenants: say which one with \"tenant\"".into(),
            );
            return Err(refuse(&s, draft, Outcome::Error, e).await);
        }
    };
    let Some(m) = membership.cloned() else {
        return Err(failed(&s, draft, &name, &meta, "no_membership").await);
    };
    s.throttle.success(&name);
    let stage = if record.totp_confirmed || user.passkeys > 0 {
        SessionStage::Mfa
    } else if s.config.auth.mfa_optional_for(&m.tenant, m.role) {
        SessionStage::Active
    } else {
        SessionStage::Enrol
    };
    let minted = session::mint(&hippo_store::random::bytes::<{ session::RANDOM_BYTES }>()?);
    let mut ok = meta.draft(
        Some(m.tenant.clone()),
        draft.actor.clone(),
        Action::AuthLogin,
    );
    ok.detail("stage", stage.as_str());
    ok.detail("factor", "password");
    s.store
        .create_session(
            NewSession {
                token_hash: minted.token_hash,
                user_id: user.id.clone(),
                tenant: m.tenant,
                role: m.role,
                stage,
                now_ms: now,
            },
            ok,
        )
        .await?;
    if stage == SessionStage::Active {
        let max_age = s.config.auth.session_absolute_secs;
        return Ok(with_cookie(
            active_view(&s, &minted.token, now, Vec::new()),
            &minted.token,
            max_age,
        ));
    }
    Ok(Json(SignInView {
        stage: stage.as_str().into(),
        token: minted.token,
        csrf_token: None,
        expires_at: rfc3339(now + s.config.auth.sign_in_window_secs as i64 * 1000),
        recovery_codes: Vec::new(),
    })
    .into_response())
}

/// The `{"code"}` body of a second-factor step; a bad body is refused and audited on `draft`.
async fn read_code(
    s: &AppState,
    headers: &HeaderMap,
    body: Body,
    draft: &AuditDraft,
) -> Result<MfaRequest, ApiError> {
    match read_json(headers, body, 4096)
        .await
        .and_then(|v| parse(v, "{\"code\"}"))
    {
        Ok(r) => Ok(r),
        Err(e) => Err(refuse(s, draft.clone(), Outcome::Error, e).await),
    }
}

/// A sign-in that has passed the password step and waits for its second factor.
pub struct PendingSignIn {
    pub row: SessionRow,
    pub token: String,
    pub hash: [u8; 32],
    pub meta: RequestMeta,
    pub now_ms: i64,
}

impl PendingSignIn {
    pub(super) fn draft(&self, action: Action) -> AuditDraft {
        let actor = Actor {
            id: self.row.user_id.clone(),
            kind: ActorKind::User,
        };
        let mut d = self
            .meta
            .draft(Some(self.row.tenant.clone()), actor, action);
        d.detail("session", self.row.session_id.clone());
        d
    }
}

impl PendingSignIn {
    /// The session a sign-in step presents as its bearer token: one whose password step is
    /// done and whose second factor is due (within `auth.sign_in_window_secs`) or, with
    /// `also_active`, a live signed-in session (adding a passkey). Anything else is refused
    /// and audited.
    pub(super) async fn open(
        parts: &Parts,
        s: &AppState,
        also_active: bool,
    ) -> Result<Self, ApiError> {
        let meta = RequestMeta::from_parts(parts);
        let now_ms = s.now_ms();
        let mut draft = meta.draft(None, Actor::anonymous(), Action::AuthFailed);
        draft.detail("route", meta.route.clone());
        let token = crate::ctx::bearer(&parts.headers).ok().map(str::to_owned);
        let Some((token, hash)) = token.and_then(|t| session::parse(&t).map(|h| (t, h))) else {
            let e = ApiError::MissingCredentials(
                "send the token from POST /v1/auth/login as 'Authorization: Bearer <token>'",
            );
            return Err(refuse(s, draft, Outcome::Denied, e).await);
        };
        draft.detail("session", session_id(&hash));
        let row = s.store.session(&hash).await?;
        let window = s.config.auth.sign_in_window_secs as i64 * 1000;
        let usable = row.filter(|r| {
            let live = match r.stage {
                SessionStage::Active => {
                    also_active
                        && matches!(
                            session::evaluate(
                                r.created_at_ms,
                                r.last_seen_ms,
                                false,
                                now_ms,
                                s.config.auth.timeouts()
                            ),
                            session::SessionState::Active { .. }
                        )
                }
                _ => now_ms < r.created_at_ms + window,
            };
            live && r.revoked_at_ms.is_none() && !r.user_disabled
        });
        match usable {
            Some(row) => Ok(PendingSignIn {
                row,
                token,
                hash,
                meta,
                now_ms,
            }),
            None => {
                let e = ApiError::SessionEnded(
                    "this sign-in is not pending any more (or the session has ended); sign in again at POST /v1/auth/login",
                );
                Err(refuse(s, draft, Outcome::Denied, e).await)
            }
        }
    }
}

impl FromRequestParts<AppState> for PendingSignIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        Self::open(parts, s, false).await
    }
}

#[utoipa::path(post, path = "/v1/auth/mfa", tag = "auth", request_body = MfaRequest,
    responses((status = 200, body = SignInView), (status = 400, body = hippo_proto::Problem), (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn mfa(
    State(s): State<AppState>,
    pending: PendingSignIn,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let draft = pending.draft(Action::AuthFailed);
    if pending.row.stage != SessionStage::Mfa {
        let e = ApiError::SignInStep("enrol an authenticator first: POST /v1/auth/mfa/totp");
        return Err(refuse(&s, draft, Outcome::Denied, e).await);
    }
    let req = read_code(&s, &headers, body, &draft).await?;
    let account = pending.row.username.clone();
    if let Err(retry_after_secs) =
        s.throttle
            .check(&account, &source(&pending.meta), pending.now_ms)
    {
        s.telemetry
            .sign_in_throttled(&draft, &account, &pending.meta, pending.now_ms);
        return Err(refuse(
            &s,
            draft,
            Outcome::Denied,
            ApiError::SignInLocked { retry_after_secs },
        )
        .await);
    }
    let user_id = pending.row.user_id.clone();
    let code = req.code.trim();
    let (factor, outcome) = if recovery::looks_like_code(code) {
        let used = s
            .store
            .use_recovery_code(&user_id, &recovery::hash(code), pending.now_ms)
            .await?;
        ("recovery_code", used)
    } else {
        let record = s.store.user_for_login(&account).await?;
        let secret = record.and_then(|r| r.totp_secret.filter(|_| r.totp_confirmed));
        let step = secret.and_then(|sec| {
            totp::matching_step(&sec, code, (pending.now_ms / 1000) as u64)
                .ok()
                .flatten()
        });
        match step {
            Some(step) => ("totp", s.store.use_totp_step(&user_id, step).await?),
            None => {
                return Err(failed(&s, draft, &account, &pending.meta, "wrong_code").await);
            }
        }
    };
    if outcome == FactorUse::Replayed {
        let why = if factor == "totp" {
            "totp_replayed"
        } else {
            "recovery_code_unknown_or_used"
        };
        return Err(failed(&s, draft, &account, &pending.meta, why).await);
    }
    s.throttle.success(&account);
    complete(&s, &pending, factor).await
}

/// Ends a sign-in whose second factor was accepted: a fresh token for the signed-in session
/// (the pending one, which may have been seen before the second factor, never becomes a session:
/// no session fixation), the pending one revoked, the cookie set.
pub(super) async fn complete(
    s: &AppState,
    pending: &PendingSignIn,
    factor: &str,
) -> Result<Response, ApiError> {
    // A fresh token for the signed-in session: the pending one (which may have been seen
    // before the second factor) never becomes a session (no session fixation).
    let minted = session::mint(&hippo_store::random::bytes::<{ session::RANDOM_BYTES }>()?);
    let mut ok = pending.draft(Action::AuthLogin);
    ok.detail("stage", "active");
    ok.detail("factor", factor);
    s.store
        .create_session(
            NewSession {
                token_hash: minted.token_hash,
                user_id: pending.row.user_id.clone(),
                tenant: pending.row.tenant.clone(),
                role: pending.row.role,
                stage: SessionStage::Active,
                now_ms: pending.now_ms,
            },
            ok,
        )
        .await?;
    s.telemetry.session_issued();
    s.store
        .revoke_session(
            &pending.hash,
            pending.now_ms,
            pending.draft(Action::AuthLogout),
        )
        .await?;
    let max_age = s.config.auth.session_absolute_secs;
    Ok(with_cookie(
        active_view(s, &minted.token, pending.now_ms, Vec::new()),
        &minted.token,
        max_age,
    ))
}

#[utoipa::path(post, path = "/v1/auth/mfa/totp", tag = "auth",
    responses((status = 200, body = TotpEnrolment), (status = 409, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn enrol_totp(
    State(s): State<AppState>,
    pending: PendingSignIn,
) -> Result<Response, ApiError> {
    if pending.row.stage != SessionStage::Enrol {
        let e = ApiError::SignInStep(
            "an authenticator is already enrolled: send its code to POST /v1/auth/mfa",
        );
        return Err(refuse(&s, pending.draft(Action::AuthFailed), Outcome::Denied, e).await);
    }
    let secret = zeroize::Zeroizing::new(hippo_store::random::bytes::<{ totp::SECRET_BYTES }>()?);
    let p = totp::provision(secret.as_slice(), TOTP_ISSUER, &pending.row.username)
        .map_err(|_| ApiError::Internal)?;
    s.store
        .begin_totp(&pending.row.user_id, secret.as_slice())
        .await?;
    let mut resp = Json(TotpEnrolment {
        otpauth_uri: p.uri,
        qr_svg: p.qr_svg,
        secret_base32: p.secret_base32,
    })
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[utoipa::path(post, path = "/v1/auth/mfa/totp/confirm", tag = "auth", request_body = MfaRequest,
    responses((status = 200, body = SignInView), (status = 400, body = hippo_proto::Problem), (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn confirm_totp(
    State(s): State<AppState>,
    pending: PendingSignIn,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let draft = pending.draft(Action::AuthFailed);
    let req = read_code(&s, &headers, body, &draft).await?;
    let account = pending.row.username.clone();
    let record = s.store.user_for_login(&account).await?;
    let secret = record.and_then(|r| r.totp_secret.filter(|_| !r.totp_confirmed));
    let Some(secret) = secret else {
        let e =
            ApiError::SignInStep("no enrolment is pending: start one with POST /v1/auth/mfa/totp");
        return Err(refuse(&s, draft, Outcome::Denied, e).await);
    };
    let step = totp::matching_step(&secret, req.code.trim(), (pending.now_ms / 1000) as u64)
        .ok()
        .flatten();
    let Some(step) = step else {
        return Err(failed(&s, draft, &account, &pending.meta, "wrong_code").await);
    };
    let mut codes = Vec::with_capacity(recovery::COUNT);
    for _ in 0..recovery::COUNT {
        codes.push(recovery::format_code(&hippo_store::random::bytes::<
            { recovery::RANDOM_BYTES_EACH },
        >()?));
    }
    let hashes = codes.iter().map(|c| recovery::hash(c)).collect();
    let mut ok = pending.draft(Action::MfaEnrol);
    ok.detail("factor", "totp");
    s.store
        .confirm_totp(
            &pending.row.user_id,
            step,
            hashes,
            &pending.hash,
            pending.now_ms,
            ok,
        )
        .await?;
    let max_age = s.config.auth.session_absolute_secs;
    Ok(with_cookie(
        active_view(&s, &pending.token, pending.now_ms, codes),
        &pending.token,
        max_age,
    ))
}

pub(super) fn session_hash(caller: &Caller) -> Result<[u8; 32], ApiError> {
    match &caller.credential {
        Credential::Session { token_hash, .. } => Ok(*token_hash),
        _ => Err(ApiError::SignInStep(
            "this needs a person's session, not an API key or identity-provider token",
        )),
    }
}

#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    params(("everywhere" = Option<bool>, Query, description = "true: end every session of the signed-in person (all browsers and devices), not only this one")),
    responses((status = 204), (status = 400, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn logout(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = crate::routes::QueryParams::parse(raw.as_deref(), &["everywhere"])?;
    let everywhere = match params.get("everywhere") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::BadParameter(
                "everywhere must be true or false".into(),
            ))
        }
    };
    let hash = session_hash(&caller)?;
    let mut draft = caller.authorize(&s, Action::AuthLogout).await?;
    if everywhere {
        // The same change an administrator's "revoke sessions" makes, on oneself: every
        // session of the user ends in one commit, this one included.
        draft.detail("everywhere", true);
        s.store
            .change_user(
                Some(&caller.principal.tenant),
                &caller.principal.id,
                UserChange::RevokeSessions,
                caller.now_ms,
                draft,
            )
            .await?;
    } else {
        s.store.revoke_session(&hash, caller.now_ms, draft).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", 0));
    Ok(resp)
}

#[utoipa::path(get, path = "/v1/auth/session", tag = "auth",
    responses((status = 200, body = SessionView)), security(("bearer" = [])))]
pub async fn current(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<SessionView>, ApiError> {
    let hash = session_hash(&caller)?;
    let row = s
        .store
        .session(&hash)
        .await?
        .ok_or(ApiError::BadCredentials)?;
    let t = s.config.auth.timeouts();
    let absolute = row.created_at_ms + t.absolute_ms;
    Ok(Json(SessionView {
        session_id: row.session_id,
        user_id: row.user_id,
        tenant: row.tenant.to_string(),
        role: row.role.to_string(),
        idle_expires_at: rfc3339((caller.now_ms + t.idle_ms).min(absolute)),
        absolute_expires_at: rfc3339(absolute),
        emergency_until: caller.emergency().map(|e| rfc3339(e.until_ms)),
    }))
}

#[utoipa::path(post, path = "/v1/auth/break-glass", tag = "auth", request_body = BreakGlassRequest,
    responses((status = 200, body = SessionView), (status = 400, body = hippo_proto::Problem), (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem), (status = 409, body = hippo_proto::Problem)), security(("bearer" = [])))]
pub async fn break_glass(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SessionView>, ApiError> {
    let mut draft = caller.authorize(&s, Action::BreakGlassOpen).await?;
    // The body is read before the credential is judged, so a refusal never leaves an unread
    // body on the connection (HTTP/1.1 would have to close it mid-request).
    let req: BreakGlassRequest = match read_json(&headers, body, 4096)
        .await
        .and_then(|v| parse(v, "{\"reason\": \"10 to 500 characters\", \"minutes\": n}"))
    {
        Ok(r) => r,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    let hash = match session_hash(&caller) {
        Ok(h) => h,
        Err(e) => return Err(caller.reject(&s, draft, e).await),
    };
    let reason = req.reason.trim();
    let max = s.config.auth.break_glass_max_minutes;
    let problem = if !(10..=500).contains(&reason.chars().count()) {
        Some("reason must be 10 to 500 characters: say why emergency access is needed".to_owned())
    } else if !(1..=max).contains(&req.minutes) {
        Some(format!(
            "minutes must be from 1 to {max} (auth.break_glass_max_minutes)"
        ))
    } else {
        None
    };
    if let Some(p) = problem {
        return Err(caller.reject(&s, draft, ApiError::BadParameter(p)).await);
    }
    let e = Emergency {
        opened_at_ms: caller.now_ms,
        until_ms: caller.now_ms + i64::from(req.minutes) * 60_000,
        reason_len: reason.chars().count() as u32,
    };
    // `note` is a free-text key: the audit store keeps it redacted (HMAC and length).
    draft.detail("note", reason.to_owned());
    draft.detail("minutes", req.minutes);
    draft.detail("emergency", true);
    let row = s.store.open_emergency(&hash, e, draft).await?;
    super::alert::break_glass_opened(&s, &row, e);
    let t = s.config.auth.timeouts();
    let absolute = row.created_at_ms + t.absolute_ms;
    Ok(Json(SessionView {
        session_id: row.session_id,
        user_id: row.user_id,
        tenant: row.tenant.to_string(),
        role: row.role.to_string(),
        idle_expires_at: rfc3339((caller.now_ms + t.idle_ms).min(absolute)),
        absolute_expires_at: rfc3339(absolute),
        emergency_until: Some(rfc3339(e.until_ms)),
    }))
}
