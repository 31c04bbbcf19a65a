//! People in the embedded store's catalog: users, memberships, second factors and sessions.

use super::{audit, SqliteStore};
use crate::identity::{
    corrupt, session_id, totp_label, Activation, Emergency, FactorUse, IdentityStore, LoginRecord,
    Membership, NewSession, NewUser, SessionRow, SessionStage, StoredPasskey, UserChange, UserInfo,
};
use crate::keyring::CredentialSeal;
use crate::StoreError;
use async_trait::async_trait;
use hippo_core::{AuditDraft, TenantId};
use rusqlite::{params, Connection, OptionalExtension};

fn memberships(c: &Connection, user_id: &str) -> Result<Vec<Membership>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT tenant_id, role FROM memberships WHERE user_id = ?1 ORDER BY tenant_id",
    )?;
    let rows = stmt.query_map([user_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    rows.map(|row| {
        let (t, role) = row?;
        Ok(Membership {
            tenant: t.parse().map_err(|_| corrupt("membership"))?,
            role: role.parse().map_err(|_| corrupt("membership"))?,
        })
    })
    .collect()
}

const SELECT_USER: &str =
    "SELECT u.id, u.username, u.created_at_ms, u.created_by, u.disabled_at_ms,
        (SELECT confirmed_at_ms IS NOT NULL FROM totp_factors f WHERE f.user_id = u.id),
        (SELECT count(*) FROM recovery_codes rc WHERE rc.user_id = u.id AND rc.used_at_ms IS NULL),
        (SELECT count(*) FROM passkeys pk WHERE pk.user_id = u.id)
     FROM users u";

fn user_row(c: &Connection, r: &rusqlite::Row<'_>) -> Result<UserInfo, StoreError> {
    let id: String = r.get(0)?;
    Ok(UserInfo {
        memberships: memberships(c, &id)?,
        id,
        username: r.get(1)?,
        created_at_ms: r.get(2)?,
        created_by: r.get(3)?,
        disabled_at_ms: r.get(4)?,
        totp_enrolled: r.get::<_, Option<bool>>(5)?.unwrap_or(false),
        recovery_codes_left: r.get::<_, i64>(6)? as u32,
        passkeys: r.get::<_, i64>(7)? as u32,
    })
}

fn user_by(c: &Connection, clause: &str, value: &str) -> Result<Option<UserInfo>, StoreError> {
    let sql = format!("{SELECT_USER} WHERE {clause}");
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query([value])?;
    match rows.next()? {
        Some(r) => Ok(Some(user_row(c, r)?)),
        None => Ok(None),
    }
}

fn insert_user(c: &Connection, u: &NewUser, now: i64) -> Result<UserInfo, StoreError> {
    let id = format!("u-{}", uuid::Uuid::now_v7());
    let inserted = c.execute(
        "INSERT OR IGNORE INTO users (id, username, password_hash, created_at_ms, created_by) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, u.username, u.password_hash, now, u.created_by],
    )?;
    if inserted == 0 {
        return Err(StoreError::UserExists);
    }
    for m in &u.memberships {
        super::catalog::wrapped_key(c, &m.tenant)?;
        c.execute(
            "INSERT INTO memberships (user_id, tenant_id, role) VALUES (?1, ?2, ?3)",
            params![id, m.tenant.as_str(), m.role.as_str()],
        )?;
    }
    user_by(c, "u.id = ?1", &id)?.ok_or_else(|| corrupt("user"))
}

fn list_users(c: &Connection, tenant: Option<&TenantId>) -> Result<Vec<UserInfo>, StoreError> {
    let sql = format!(
        "{SELECT_USER} WHERE ?1 IS NULL OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.tenant_id = ?1) ORDER BY u.username"
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query([tenant.map(|t| t.as_str())])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(user_row(c, r)?);
    }
    Ok(out)
}

fn change_user(
    c: &Connection,
    tenant: Option<&TenantId>,
    user_id: &str,
    change: UserChange,
    now: i64,
) -> Result<UserInfo, StoreError> {
    let user = user_by(c, "u.id = ?1", user_id)?
        .filter(|u| tenant.is_none_or(|t| u.role_in(t).is_some()))
        .ok_or_else(|| StoreError::UserNotFound(user_id.to_owned()))?;
    match change {
        UserChange::Disable => {
            c.execute(
                "UPDATE users SET disabled_at_ms = coalesce(disabled_at_ms, ?2) WHERE id = ?1",
                params![user_id, now],
            )?;
        }
        UserChange::Enable => {
            c.execute(
                "UPDATE users SET disabled_at_ms = NULL WHERE id = ?1",
                [user_id],
            )?;
        }
        UserChange::ResetMfa => {
            c.execute("DELETE FROM totp_factors WHERE user_id = ?1", [user_id])?;
            c.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
            c.execute("DELETE FROM passkeys WHERE user_id = ?1", [user_id])?;
        }
        UserChange::RevokeSessions => {}
    }
    c.execute(
        "UPDATE sessions SET revoked_at_ms = ?2 WHERE user_id = ?1 AND revoked_at_ms IS NULL",
        params![user.id, now],
    )?;
    user_by(c, "u.id = ?1", user_id)?.ok_or_else(|| corrupt("user"))
}

fn login_record(
    c: &Connection,
    seal: &CredentialSeal,
    username: &str,
) -> Result<Option<LoginRecord>, StoreError> {
    let Some(user) = user_by(c, "u.username = ?1", username)? else {
        return Ok(None);
    };
    let password_hash: String = c.query_row(
        "SELECT password_hash FROM users WHERE id = ?1",
        [&user.id],
        |r| r.get(0),
    )?;
    let factor = c
        .query_row(
            "SELECT sealed_secret, confirmed_at_ms IS NOT NULL FROM totp_factors WHERE user_id = ?1",
            [&user.id],
            |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, bool>(1)?)),
        )
        .optional()?;
    let (totp_secret, totp_confirmed) = match factor {
        Some((sealed, confirmed)) => (Some(seal.open(&totp_label(&user.id), &sealed)?), confirmed),
        None => (None, false),
    };
    Ok(Some(LoginRecord {
        user,
        password_hash,
        totp_secret,
        totp_confirmed,
    }))
}

fn begin_totp(c: &Connection, user_id: &str, sealed: &[u8]) -> Result<(), StoreError> {
    let confirmed: Option<bool> = c
        .query_row(
            "SELECT confirmed_at_ms IS NOT NULL FROM totp_factors WHERE user_id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?;
    if confirmed == Some(true) {
        return Err(StoreError::FactorState(
            "a confirmed authenticator is already enrolled; an administrator resets it with `hippo user reset-mfa`",
        ));
    }
    c.execute(
        "INSERT INTO totp_factors (user_id, sealed_secret) VALUES (?1, ?2)
         ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, last_step = NULL",
        params![user_id, sealed],
    )?;
    Ok(())
}

fn confirm_totp(
    c: &Connection,
    user_id: &str,
    step: u64,
    hashes: &[[u8; 32]],
    session: &[u8; 32],
    now: i64,
) -> Result<(), StoreError> {
    let updated = c.execute(
        "UPDATE totp_factors SET confirmed_at_ms = ?2, last_step = ?3 WHERE user_id = ?1 AND confirmed_at_ms IS NULL",
        params![user_id, now, step as i64],
    )?;
    if updated == 0 {
        return Err(StoreError::FactorState(
            "no enrolment is pending for this user",
        ));
    }
    activate(c, user_id, hashes, session, now)
}

/// Turns an enrolling session active and replaces the user's recovery codes.
fn activate(
    c: &Connection,
    user_id: &str,
    hashes: &[[u8; 32]],
    session: &[u8; 32],
    now: i64,
) -> Result<(), StoreError> {
    c.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
    for h in hashes {
        c.execute(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?1, ?2)",
            params![user_id, h.as_slice()],
        )?;
    }
    let activated = c.execute(
        "UPDATE sessions SET stage = 'active', last_seen_ms = ?2 WHERE token_hash = ?1 AND stage = 'enrol' AND revoked_at_ms IS NULL",
        params![session.as_slice(), now],
    )?;
    if activated == 0 {
        return Err(StoreError::FactorState(
            "the enrolling session is no longer open",
        ));
    }
    Ok(())
}

const SELECT_SESSION: &str =
    "SELECT s.session_id, s.user_id, u.username, s.tenant_id, s.role, s.stage,
        s.created_at_ms, s.last_seen_ms, s.revoked_at_ms, u.disabled_at_ms IS NOT NULL,
        s.emergency_opened_at_ms, s.emergency_until_ms, s.emergency_reason_len
     FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1";

fn session(c: &Connection, hash: &[u8; 32]) -> Result<Option<SessionRow>, StoreError> {
    let row = c
        .prepare_cached(SELECT_SESSION)?
        .query_row([hash.as_slice()], |r| {
            Ok((
                (
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ),
                (
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ),
                (
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, Option<i64>>(8)?,
                ),
                r.get::<_, bool>(9)?,
                (
                    r.get::<_, Option<i64>>(10)?,
                    r.get::<_, Option<i64>>(11)?,
                    r.get::<_, Option<i64>>(12)?,
                ),
            ))
        })
        .optional()?;
    let Some(((sid, user_id, username), (tenant, role, stage), times, disabled, em)) = row else {
        return Ok(None);
    };
    Ok(Some(SessionRow {
        session_id: sid,
        user_id,
        username,
        tenant: tenant.parse().map_err(|_| corrupt("session"))?,
        role: role.parse().map_err(|_| corrupt("session"))?,
        stage: SessionStage::parse(&stage)?,
        created_at_ms: times.0,
        last_seen_ms: times.1,
        revoked_at_ms: times.2,
        user_disabled: disabled,
        emergency: match em {
            (Some(opened_at_ms), Some(until_ms), Some(len)) => Some(Emergency {
                opened_at_ms,
                until_ms,
                reason_len: len as u32,
            }),
            _ => None,
        },
    }))
}

fn insert_session(c: &Connection, s: &NewSession) -> Result<SessionRow, StoreError> {
    super::catalog::wrapped_key(c, &s.tenant)?;
    c.execute(
        "INSERT INTO sessions (token_hash, session_id, user_id, tenant_id, role, stage, created_at_ms, last_seen_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            s.token_hash.as_slice(),
            session_id(&s.token_hash),
            s.user_id,
            s.tenant.as_str(),
            s.role.as_str(),
            s.stage.as_str(),
            s.now_ms
        ],
    )?;
    session(c, &s.token_hash)?.ok_or_else(|| corrupt("session"))
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn create_user(&self, user: NewUser, draft: AuditDraft) -> Result<UserInfo, StoreError> {
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, draft, |c, a| {
                    let u = insert_user(c, &user, hippo_core::time_fmt::now_millis())?;
                    a.resource_id = Some(u.id.clone());
                    Ok(u)
                })
            })
            .await
    }

    async fn list_users(
        &self,
        tenant: Option<&TenantId>,
        draft: AuditDraft,
    ) -> Result<Vec<UserInfo>, StoreError> {
        let t = tenant.cloned();
        let result = self.catalog.read(move |c| list_users(c, t.as_ref())).await;
        Self::after_read(&self.catalog, draft, result, |a, users| {
            a.detail("count", users.len())
        })
        .await
    }

    async fn change_user(
        &self,
        tenant: Option<&TenantId>,
        user_id: &str,
        change: UserChange,
        now_ms: i64,
        draft: AuditDraft,
    ) -> Result<UserInfo, StoreError> {
        let (t, id) = (tenant.cloned(), user_id.to_owned());
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, draft, |c, a| {
                    a.resource_id = Some(id.clone());
                    a.detail("change", change.as_str());
                    change_user(c, t.as_ref(), &id, change, now_ms)
                })
            })
            .await
    }

    async fn user_for_login(&self, username: &str) -> Result<Option<LoginRecord>, StoreError> {
        let name = username.to_owned();
        let seal = self.seal.clone();
        self.catalog
            .read(move |c| login_record(c, &seal, &name))
            .await
    }

    async fn begin_totp(&self, user_id: &str, secret: &[u8]) -> Result<(), StoreError> {
        let sealed = self.seal.seal(&totp_label(user_id), secret)?;
        let id = user_id.to_owned();
        self.catalog
            .write(move |c| Ok(begin_totp(c, &id, &sealed)))
            .await
    }

    async fn confirm_totp(
        &self,
        user_id: &str,
        step: u64,
        recovery_hashes: Vec<[u8; 32]>,
        session: &[u8; 32],
        now_ms: i64,
        draft: AuditDraft,
    ) -> Result<(), StoreError> {
        let (id, s) = (user_id.to_owned(), *session);
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, draft, |c, _| {
                    confirm_totp(c, &id, step, &recovery_hashes, &s, now_ms)
                })
            })
            .await
    }

    async fn use_totp_step(&self, user_id: &str, step: u64) -> Result<FactorUse, StoreError> {
        let id = user_id.to_owned();
        self.catalog
            .write(move |c| {
                let n = c.execute(
                    "UPDATE totp_factors SET last_step = ?2 WHERE user_id = ?1 AND confirmed_at_ms IS NOT NULL AND (last_step IS NULL OR last_step < ?2)",
                    params![id, step as i64],
                )?;
                Ok(Ok(if n == 1 { FactorUse::Accepted } else { FactorUse::Replayed }))
            })
            .await
    }

    async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &[u8; 32],
        now_ms: i64,
    ) -> Result<FactorUse, StoreError> {
        let (id, h) = (user_id.to_owned(), *code_hash);
        self.catalog
            .write(move |c| {
                let n = c.execute(
                    "UPDATE recovery_codes SET used_at_ms = ?3 WHERE user_id = ?1 AND code_hash = ?2 AND used_at_ms IS NULL",
                    params![id, h.as_slice(), now_ms],
                )?;
                Ok(Ok(if n == 1 { FactorUse::Accepted } else { FactorUse::Replayed }))
            })
            .await
    }

    async fn add_passkey(
        &self,
        user_id: &str,
        pk: StoredPasskey,
        activation: Option<Activation>,
        now_ms: i64,
        draft: AuditDraft,
    ) -> Result<(), StoreError> {
        let id = user_id.to_owned();
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, draft, |c, a| {
                    a.detail("factor", "passkey");
                    a.detail("credential", pk.credential_id.clone());
                    let inserted = c.execute(
                        "INSERT OR IGNORE INTO passkeys (credential_id, user_id, name, passkey, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![pk.credential_id, id, pk.name, pk.passkey, now_ms],
                    )?;
                    if inserted == 0 {
                        return Err(StoreError::FactorState("this passkey is already registered"));
                    }
                    match &activation {
                        Some(act) => activate(c, &id, &act.recovery_hashes, &act.session, now_ms),
                        None => Ok(()),
                    }
                })
            })
            .await
    }

    async fn passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>, StoreError> {
        let id = user_id.to_owned();
        self.catalog
            .read(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT credential_id, name, passkey, created_at_ms, last_used_at_ms FROM passkeys WHERE user_id = ?1 ORDER BY created_at_ms, credential_id",
                )?;
                let rows = stmt.query_map([&id], |r| {
                    Ok(StoredPasskey {
                        credential_id: r.get(0)?,
                        name: r.get(1)?,
                        passkey: r.get(2)?,
                        created_at_ms: r.get(3)?,
                        last_used_at_ms: r.get(4)?,
                    })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn update_passkey(
        &self,
        credential_id: &str,
        passkey: String,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let id = credential_id.to_owned();
        self.catalog
            .write(move |c| {
                c.execute(
                    "UPDATE passkeys SET passkey = ?2, last_used_at_ms = ?3 WHERE credential_id = ?1",
                    params![id, passkey, now_ms],
                )?;
                Ok(Ok(()))
            })
            .await
    }

    async fn put_ceremony(
        &self,
        token_hash: &[u8; 32],
        state: String,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let h = *token_hash;
        self.catalog
            .write(move |c| {
                c.execute(
                    "UPDATE sessions SET ceremony = ?2, ceremony_expires_ms = ?3 WHERE token_hash = ?1",
                    params![h.as_slice(), state, expires_at_ms],
                )?;
                Ok(Ok(()))
            })
            .await
    }

    async fn take_ceremony(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<(String, i64)>, StoreError> {
        let h = *token_hash;
        self.catalog
            .write(move |c| {
                let found = c
                    .query_row(
                        "SELECT ceremony, ceremony_expires_ms FROM sessions WHERE token_hash = ?1 AND ceremony IS NOT NULL",
                        [h.as_slice()],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                    )
                    .optional()?;
                c.execute(
                    "UPDATE sessions SET ceremony = NULL, ceremony_expires_ms = NULL WHERE token_hash = ?1",
                    [h.as_slice()],
                )?;
                Ok(Ok(found))
            })
            .await
    }

    async fn create_session(
        &self,
        s: NewSession,
        draft: AuditDraft,
    ) -> Result<SessionRow, StoreError> {
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, draft, |c, a| {
                    a.detail("session", session_id(&s.token_hash));
                    insert_session(c, &s)
                })
            })
            .await
    }

    async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRow>, StoreError> {
        self.catalog.read_now(|c| session(c, token_hash))
    }

    async fn touch_session(&self, token_hash: &[u8; 32], now_ms: i64) -> Result<(), StoreError> {
        let h = *token_hash;
        self.catalog
            .write(move |c| {
                c.execute(
                    "UPDATE sessions SET last_seen_ms = max(last_seen_ms, ?2) WHERE token_hash = ?1",
                    params![h.as_slice(), now_ms],
                )?;
                Ok(Ok(()))
            })
            .await
    }

    async fn revoke_session(
        &self,
        token_hash: &[u8; 32],
        now_ms: i64,
        draft: AuditDraft,
    ) -> Result<(), StoreError> {
        let h = *token_hash;
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, draft, |c, a| {
                    a.detail("session", session_id(&h));
                    c.execute(
                        "UPDATE sessions SET revoked_at_ms = coalesce(revoked_at_ms, ?2) WHERE token_hash = ?1",
                        params![h.as_slice(), now_ms],
                    )?;
                    Ok(())
                })
            })
            .await
    }

    async fn open_emergency(
        &self,
        token_hash: &[u8; 32],
        e: Emergency,
        draft: AuditDraft,
    ) -> Result<SessionRow, StoreError> {
        let h = *token_hash;
        let log = self.catalog.log();
        self.catalog
            .write(move |c| {
                audit::audited(c, &log, draft, |c, a| {
                    a.detail("session", session_id(&h));
                    let n = c.execute(
                        "UPDATE sessions SET emergency_opened_at_ms = ?2, emergency_until_ms = ?3, emergency_reason_len = ?4
                         WHERE token_hash = ?1 AND stage = 'active' AND revoked_at_ms IS NULL",
                        params![h.as_slice(), e.opened_at_ms, e.until_ms, e.reason_len as i64],
                    )?;
                    if n == 0 {
                        return Err(StoreError::FactorState("the session is not active"));
                    }
                    session(c, &h)?.ok_or_else(|| corrupt("session"))
                })
            })
            .await
    }
}
