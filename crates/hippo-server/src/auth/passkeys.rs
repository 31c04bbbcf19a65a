//! Passkeys (WebAuthn, `webauthn-rs`): registering one as the first second factor during
//! enrolment or as a further credential from a signed-in session, and signing in with one.
//!
//! A ceremony's state (its challenge) is kept on the session in the store, so a ceremony begun
//! on one instance can finish on another; it is taken once and expires after
//! [`CEREMONY_MS`]. Credentials hold public keys and counters only.

use super::signin::{active_view, complete, failed, parse, with_cookie, PendingSignIn};
use crate::ctx::refuse;
use crate::problem::ApiError;
use crate::routes::read_json;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hippo_core::{Action, Outcome};
use hippo_identity::recovery;
use hippo_store::identity::{Activation, SessionStage, StoredPasskey};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid,
};

/// How long a ceremony's challenge may be answered.
pub const CEREMONY_MS: i64 = 5 * 60 * 1000;

/// What is kept on the session between the two halves of a ceremony.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Ceremony {
    Register { state: PasskeyRegistration },
    Authenticate { state: PasskeyAuthentication },
}

/// A session that may run a ceremony: an enrolling or second-factor sign-in in its window, or
/// an active session (adding another passkey). Bearer tokens only.
pub struct CeremonySession(PendingSignIn);

impl std::ops::Deref for CeremonySession {
    type Target = PendingSignIn;
    fn deref(&self) -> &PendingSignIn {
        &self.0
    }
}

impl FromRequestParts<AppState> for CeremonySession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        PendingSignIn::open(parts, s, true).await.map(Self)
    }
}

fn webauthn_user(user_id: &str) -> Result<Uuid, ApiError> {
    user_id
        .strip_prefix("u-")
        .and_then(|u| u.parse().ok())
        .ok_or(ApiError::Internal)
}

/// A credential's id as WebAuthn writes it (base64url, no padding).
fn credential_id(pk: &Passkey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pk.cred_id())
}

async fn stored(s: &AppState, user_id: &str) -> Result<Vec<(StoredPasskey, Passkey)>, ApiError> {
    s.store
        .passkeys(user_id)
        .await?
        .into_iter()
        .map(|p| {
            let pk: Passkey = serde_json::from_str(&p.passkey).map_err(|_| {
                hippo_store::StoreError::Corrupt("a stored passkey is malformed".into())
            })?;
            Ok((p, pk))
        })
        .collect()
}

/// Takes the session's ceremony; a missing or expired one is refused (and audited).
async fn take(s: &AppState, c: &CeremonySession) -> Result<Ceremony, ApiError> {
    let found = s.store.take_ceremony(&c.hash).await?;
    let refused = |slug, message: &str| ApiError::Passkey {
        slug,
        message: message.into(),
    };
    let err = match found {
        None => refused(
            "no-ceremony",
            "no passkey ceremony is pending on this session: start one first",
        ),
        Some((_, expires)) if expires <= c.now_ms => refused(
            "challenge-expired",
            "the passkey challenge has expired: start the ceremony again",
        ),
        Some((state, _)) => match serde_json::from_str(&state) {
            Ok(ceremony) => return Ok(ceremony),
            Err(_) => ApiError::Internal,
        },
    };
    Err(refuse(s, c.draft(Action::AuthFailed), Outcome::Denied, err).await)
}

async fn keep(s: &AppState, c: &CeremonySession, ceremony: &Ceremony) -> Result<(), ApiError> {
    let state = serde_json::to_string(ceremony).map_err(|_| ApiError::Internal)?;
    s.store
        .put_ceremony(&c.hash, state, c.now_ms + CEREMONY_MS)
        .await?;
    Ok(())
}

#[utoipa::path(post, path = "/v1/auth/passkeys/register/start", tag = "auth",
    responses((status = 200, description = "WebAuthn CreationChallengeResponse for navigator.credentials.create"), (status = 409, body = hippo_proto::Problem)),
    security(("bearer" = [])))]
pub async fn register_start(
    State(s): State<AppState>,
    c: CeremonySession,
) -> Result<Response, ApiError> {
    if c.row.stage == SessionStage::Mfa {
        let e = ApiError::SignInStep(
            "finish signing in with your second factor before adding a passkey",
        );
        return Err(refuse(&s, c.draft(Action::AuthFailed), Outcome::Denied, e).await);
    }
    let existing: Vec<_> = stored(&s, &c.row.user_id)
        .await?
        .into_iter()
        .map(|(_, pk)| pk.cred_id().clone())
        .collect();
    let (challenge, state) = s
        .webauthn
        .start_passkey_registration(
            webauthn_user(&c.row.user_id)?,
            &c.row.username,
            &c.row.username,
            Some(existing),
        )
        .map_err(|_| ApiError::Internal)?;
    keep(&s, &c, &Ceremony::Register { state }).await?;
    Ok(Json(challenge).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFinish {
    credential: RegisterPublicKeyCredential,
    #[serde(default)]
    name: Option<String>,
}

#[utoipa::path(post, path = "/v1/auth/passkeys/register/finish", tag = "auth",
    responses((status = 200, body = hippo_proto::SignInView, description = "Enrolment finished: signed in, with recovery codes"),
              (status = 201, description = "Another passkey added"), (status = 400, body = hippo_proto::Problem),
              (status = 409, body = hippo_proto::Problem), (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem)),
    security(("bearer" = [])))]
pub async fn register_finish(
    State(s): State<AppState>,
    c: CeremonySession,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: RegisterFinish = match read_json(&headers, body, 64 * 1024)
        .await
        .and_then(|v| parse(v, "{\"credential\": <PublicKeyCredential from navigator.credentials.create>, \"name\": optional}"))
    {
        Ok(r) => r,
        Err(e) => return Err(refuse(&s, c.draft(Action::AuthFailed), Outcome::Error, e).await),
    };
    let name = req.name.unwrap_or_else(|| "passkey".into());
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        let e = ApiError::BadParameter(
            "name must be at most 100 characters without control characters".into(),
        );
        return Err(refuse(&s, c.draft(Action::AuthFailed), Outcome::Error, e).await);
    }
    let Ceremony::Register { state } = take(&s, &c).await? else {
        let e = ApiError::Passkey {
            slug: "no-ceremony",
            message: "the pending ceremony is a sign-in, not a registration".into(),
        };
        return Err(refuse(&s, c.draft(Action::AuthFailed), Outcome::Denied, e).await);
    };
    let passkey = match s
        .webauthn
        .finish_passkey_registration(&req.credential, &state)
    {
        Ok(pk) => pk,
        Err(_) => {
            let mut d = c.draft(Action::AuthFailed);
            d.detail("reason", "passkey_registration_rejected");
            // A fixed message: the library's error text is not ours to vouch for.
            let err = ApiError::Passkey {
                slug: "passkey-rejected",
                message: "the passkey registration was not accepted (wrong origin, challenge or signature); start again".into(),
            };
            return Err(refuse(&s, d, Outcome::Denied, err).await);
        }
    };
    let enrolling = c.row.stage == SessionStage::Enrol;
    let mut codes = Vec::new();
    if enrolling {
        for _ in 0..recovery::COUNT {
            codes.push(recovery::format_code(&hippo_store::random::bytes::<
                { recovery::RANDOM_BYTES_EACH },
            >()?));
        }
    }
    let stored = StoredPasskey {
        credential_id: credential_id(&passkey),
        name,
        passkey: serde_json::to_string(&passkey).map_err(|_| ApiError::Internal)?,
        created_at_ms: c.now_ms,
        last_used_at_ms: None,
    };
    let activation = enrolling.then(|| Activation {
        session: c.hash,
        recovery_hashes: codes.iter().map(|code| recovery::hash(code)).collect(),
    });
    s.store
        .add_passkey(
            &c.row.user_id,
            stored,
            activation,
            c.now_ms,
            c.draft(Action::MfaEnrol),
        )
        .await?;
    if enrolling {
        let max_age = s.config.auth.session_absolute_secs;
        return Ok(with_cookie(
            active_view(&s, &c.token, c.now_ms, codes),
            &c.token,
            max_age,
        ));
    }
    Ok(StatusCode::CREATED.into_response())
}

#[utoipa::path(post, path = "/v1/auth/passkeys/login/start", tag = "auth",
    responses((status = 200, description = "WebAuthn RequestChallengeResponse for navigator.credentials.get")),
    security(("bearer" = [])))]
pub async fn login_start(
    State(s): State<AppState>,
    c: CeremonySession,
) -> Result<Response, ApiError> {
    let keys: Vec<Passkey> = stored(&s, &c.row.user_id)
        .await?
        .into_iter()
        .map(|(_, pk)| pk)
        .collect();
    if c.row.stage != SessionStage::Mfa || keys.is_empty() {
        let e = ApiError::SignInStep(
            "a passkey sign-in needs the pending token of POST /v1/auth/login for a user with a passkey",
        );
        return Err(refuse(&s, c.draft(Action::AuthFailed), Outcome::Denied, e).await);
    }
    let (challenge, state) = s
        .webauthn
        .start_passkey_authentication(&keys)
        .map_err(|_| ApiError::Internal)?;
    keep(&s, &c, &Ceremony::Authenticate { state }).await?;
    Ok(Json(challenge).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginFinish {
    credential: PublicKeyCredential,
}

#[utoipa::path(post, path = "/v1/auth/passkeys/login/finish", tag = "auth",
    responses((status = 200, body = hippo_proto::SignInView), (status = 400, body = hippo_proto::Problem),
              (status = 413, body = hippo_proto::Problem), (status = 415, body = hippo_proto::Problem)),
    security(("bearer" = [])))]
pub async fn login_finish(
    State(s): State<AppState>,
    c: CeremonySession,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: LoginFinish = match read_json(&headers, body, 64 * 1024).await.and_then(|v| {
        parse(
            v,
            "{\"credential\": <PublicKeyCredential from navigator.credentials.get>}",
        )
    }) {
        Ok(r) => r,
        Err(e) => return Err(refuse(&s, c.draft(Action::AuthFailed), Outcome::Error, e).await),
    };
    let Ceremony::Authenticate { state } = take(&s, &c).await? else {
        let e = ApiError::Passkey {
            slug: "no-ceremony",
            message: "the pending ceremony is a registration, not a sign-in".into(),
        };
        return Err(refuse(&s, c.draft(Action::AuthFailed), Outcome::Denied, e).await);
    };
    let result = match s
        .webauthn
        .finish_passkey_authentication(&req.credential, &state)
    {
        Ok(r) => r,
        Err(_) => {
            let d = c.draft(Action::AuthFailed);
            return Err(failed(&s, d, &c.row.username, &c.meta, "passkey_rejected").await);
        }
    };
    for (row, mut pk) in stored(&s, &c.row.user_id).await? {
        if pk.update_credential(&result).is_some() {
            let json = serde_json::to_string(&pk).map_err(|_| ApiError::Internal)?;
            s.store
                .update_passkey(&row.credential_id, json, c.now_ms)
                .await?;
        }
    }
    s.throttle.success(&c.row.username);
    complete(&s, &c, "passkey").await
}
