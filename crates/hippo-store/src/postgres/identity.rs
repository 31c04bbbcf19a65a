//! People in PostgreSQL: users, memberships, second factors and sessions, in the catalog scope,
//! shared by every instance (a revocation is seen by the next request on any instance).

use super::{audit::SYSTEM, commit, errors, PgStore};
use crate::identity::{
    corrupt, session_id, totp_label, Activation, Emergency, FactorUse, IdentityStore, LoginRecord,
    Membership, NewSession, NewUser, SessionRow, SessionStage, StoredPasskey, UserChange, UserInfo,
};
use crate::StoreError;
use async_trait::async_trait;
use hippo_core::{AuditDraft, TenantId};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

const SELECT_USER: &str = "SELECT u.id, u.username, u.created_at_ms, u.created_by, u.disabled_at_ms,
        (SELECT confirmed_at_ms IS NOT NULL FROM hippo.totp_factors f WHERE f.user_id = u.id),
        (SELECT count(*) FROM hippo.recovery_codes rc WHERE rc.user_id = u.id AND rc.used_at_ms IS NULL),
        coalesce((SELECT string_agg(m.tenant_id || ':' || m.role, ',' ORDER BY m.tenant_id)
                  FROM hippo.memberships m WHERE m.user_id = u.id), ''),
        (SELECT count(*) FROM hippo.passkeys pk WHERE pk.user_id = u.id)
     FROM hippo.users u";

fn user_row(r: &PgRow) -> Result<UserInfo, StoreError> {
    let get_err = |e| errors::db(e);
    let joined: String = r.try_get(7).map_err(get_err)?;
    let memberships = joined
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|pair| {
            let (t, role) = pair.split_once(':').ok_or_else(|| corrupt("membership"))?;
            Ok(Membership {
                tenant: t.parse().map_err(|_| corrupt("membership"))?,
                role: role.parse().map_err(|_| corrupt("membership"))?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(UserInfo {
        id: r.try_get(0).map_err(get_err)?,
        username: r.try_get(1).map_err(get_err)?,
        created_at_ms: r.try_get(2).map_err(get_err)?,
        created_by: r.try_get(3).map_err(get_err)?,
        disabled_at_ms: r.try_get(4).map_err(get_err)?,
        totp_enrolled: r
            .try_get::<Option<bool>, _>(5)
            .map_err(get_err)?
            .unwrap_or(false),
        recovery_codes_left: r.try_get::<i64, _>(6).map_err(get_err)? as u32,
        passkeys: r.try_get::<i64, _>(8).map_err(get_err)? as u32,
        memberships,
    })
}

async fn user_by_id(c: &mut PgConnection, id: &str) -> Result<Option<UserInfo>, StoreError> {
    let sql = format!("{SELECT_USER} WHERE u.id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(errors::db)?
        .map(|r| user_row(&r))
        .transpose()
}

async fn insert_user(c: &mut PgConnection, u: &NewUser, now: i64) -> Result<UserInfo, StoreError> {
    let id = format!("u-{}", uuid::Uuid::now_v7());
    let inserted = sqlx::query(
        "INSERT INTO hippo.users (id, username, password_hash, created_at_ms, created_by)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
    )
    .bind(&id)
    .bind(&u.username)
    .bind(&u.password_hash)
    .bind(now)
    .bind(&u.created_by)
    .execute(&mut *c)
    .await
    .map_err(errors::db)?
    .rows_affected();
    if inserted == 0 {
        return Err(StoreError::UserExists);
    }
    for m in &u.memberships {
        if !super::catalog::tenant_exists(c, &m.tenant).await? {
            return Err(StoreError::TenantNotFound(m.tenant.to_string()));
        }
        sqlx::query("INSERT INTO hippo.memberships (user_id, tenant_id, role) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(m.tenant.as_str())
            .bind(m.role.as_str())
            .execute(&mut *c)
            .await
            .map_err(errors::db)?;
    }
    user_by_id(c, &id).await?.ok_or_else(|| corrupt("user"))
}

async fn change_user(
    c: &mut PgConnection,
    tenant: Option<&TenantId>,
    user_id: &str,
    change: UserChange,
    now: i64,
) -> Result<UserInfo, StoreError> {
    user_by_id(c, user_id)
        .await?
        .filter(|u| tenant.is_none_or(|t| u.role_in(t).is_some()))
        .ok_or_else(|| StoreError::UserNotFound(user_id.to_owned()))?;
    let statements: &[&'static str] = match change {
        UserChange::Disable => &[
            "UPDATE hippo.users SET disabled_at_ms = coalesce(disabled_at_ms, $2) WHERE id = $1",
        ],
        UserChange::Enable => {
            &["UPDATE hippo.users SET disabled_at_ms = NULL WHERE id = $1 AND $2 >= 0"]
        }
        UserChange::ResetMfa => &[
            "DELETE FROM hippo.totp_factors WHERE user_id = $1 AND $2 >= 0",
            "DELETE FROM hippo.recovery_codes WHERE user_id = $1 AND $2 >= 0",
            "DELETE FROM hippo.passkeys WHERE user_id = $1 AND $2 >= 0",
        ],
        UserChange::RevokeSessions => &[],
    };
    for sql in statements.iter().chain(&[
        "UPDATE hippo.sessions SET revoked_at_ms = $2 WHERE user_id = $1 AND revoked_at_ms IS NULL",
    ]) {
        sqlx::query(*sql)
            .bind(user_id)
            .bind(now)
            .execute(&mut *c)
            .await
            .map_err(errors::db)?;
    }
    user_by_id(c, user_id).await?.ok_or_else(|| corrupt("user"))
}

const SELECT_SESSION: &str =
    "SELECT s.session_id, s.user_id, u.username, s.tenant_id, s.role, s.stage,
        s.created_at_ms, s.last_seen_ms, s.revoked_at_ms, u.disabled_at_ms IS NOT NULL,
        s.emergency_opened_at_ms, s.emergency_until_ms, s.emergency_reason_len
     FROM hippo.sessions s JOIN hippo.users u ON u.id = s.user_id WHERE s.token_hash = $1";

async fn session(c: &mut PgConnection, hash: &[u8; 32]) -> Result<Option<SessionRow>, StoreError> {
    let Some(r) = sqlx::query(SELECT_SESSION)
        .bind(hash.as_slice())
        .fetch_optional(c)
        .await
        .map_err(errors::db)?
    else {
        return Ok(None);
    };
    let e = errors::db;
    let tenant: String = r.try_get(3).map_err(e)?;
    let role: String = r.try_get(4).map_err(e)?;
    let stage: String = r.try_get(5).map_err(e)?;
    let em: (Option<i64>, Option<i64>, Option<i64>) = (
        r.try_get(10).map_err(e)?,
        r.try_get(11).map_err(e)?,
        r.try_get(12).map_err(e)?,
    );
    Ok(Some(SessionRow {
        session_id: r.try_get(0).map_err(e)?,
        user_id: r.try_get(1).map_err(e)?,
        username: r.try_get(2).map_err(e)?,
        tenant: tenant.parse().map_err(|_| corrupt("session"))?,
        role: role.parse().map_err(|_| corrupt("session"))?,
        stage: SessionStage::parse(&stage)?,
        created_at_ms: r.try_get(6).map_err(e)?,
        last_seen_ms: r.try_get(7).map_err(e)?,
        revoked_at_ms: r.try_get(8).map_err(e)?,
        user_disabled: r.try_get(9).map_err(e)?,
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

async fn exec(
    c: &mut PgConnection,
    q: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> Result<u64, StoreError> {
    Ok(q.execute(c).await.map_err(errors::db)?.rows_affected())
}

/// Turns an enrolling session active and replaces the user's recovery codes.
async fn activate(
    c: &mut PgConnection,
    id: &str,
    recovery_hashes: &[[u8; 32]],
    s: &[u8; 32],
    now_ms: i64,
) -> Result<(), StoreError> {
    exec(
        c,
        sqlx::query("DELETE FROM hippo.recovery_codes WHERE user_id = $1").bind(id),
    )
    .await?;
    for h in recovery_hashes {
        exec(
            c,
            sqlx::query("INSERT INTO hippo.recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(id)
                .bind(h.as_slice()),
        )
        .await?;
    }
    let n = exec(
                    c,
                    sqlx::query(
                        "UPDATE hippo.sessions SET stage = 'active', last_seen_ms = $2 WHERE token_hash = $1 AND stage = 'enrol' AND revoked_at_ms IS NULL",
                    )
                    .bind(s.as_slice())
                    .bind(now_ms),
                )
                .await?;
    if n == 0 {
        return Err(StoreError::FactorState(
            "the enrolling session is no longer open",
        ));
    }
    Ok(())
}

impl PgStore {
    /// One audited call in the catalog scope; `describe` says in the event what a successful
    /// result was. A failed call is rolled back to its savepoint and still audited.
    async fn in_catalog<T: Send>(
        &self,
        mut draft: AuditDraft,
        op: impl for<'c> FnOnce(&'c mut PgConnection) -> super::OpFuture<'c, T> + Send,
        describe: impl FnOnce(&mut AuditDraft, &T) + Send,
    ) -> Result<T, StoreError> {
        self.timed(async {
            let mut tx = self.begin(SYSTEM).await?;
            let result = op(&mut tx).await;
            if let Ok(v) = &result {
                describe(&mut draft, v);
            }
            self.finish(tx, SYSTEM, draft, result).await
        })
        .await
    }

    /// One unaudited call in the catalog scope (sign-in state: the caller audits the outcome).
    async fn catalog_call<T: Send>(
        &self,
        op: impl for<'c> FnOnce(&'c mut PgConnection) -> super::OpFuture<'c, T> + Send,
    ) -> Result<T, StoreError> {
        self.timed(async {
            let mut tx = self.begin(SYSTEM).await?;
            let v = op(&mut tx).await?;
            commit(tx).await?;
            Ok(v)
        })
        .await
    }
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn create_user(&self, user: NewUser, draft: AuditDraft) -> Result<UserInfo, StoreError> {
        let now = hippo_core::time_fmt::now_millis();
        self.in_catalog(
            draft,
            |c| Box::pin(async move { insert_user(c, &user, now).await }),
            |a, u| a.resource_id = Some(u.id.clone()),
        )
        .await
    }

    async fn list_users(
        &self,
        tenant: Option<&TenantId>,
        draft: AuditDraft,
    ) -> Result<Vec<UserInfo>, StoreError> {
        let t = tenant.map(|t| t.as_str().to_owned());
        self.in_catalog(
            draft,
            |c| {
                Box::pin(async move {
                    let sql = format!(
                        "{SELECT_USER} WHERE $1::text IS NULL OR EXISTS (SELECT 1 FROM hippo.memberships m WHERE m.user_id = u.id AND m.tenant_id = $1) ORDER BY u.username"
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(t)
                        .fetch_all(c)
                        .await
                        .map_err(errors::db)?;
                    rows.iter().map(user_row).collect()
                })
            },
            |a, users: &Vec<UserInfo>| a.detail("count", users.len()),
        )
        .await
    }

    async fn change_user(
        &self,
        tenant: Option<&TenantId>,
        user_id: &str,
        change: UserChange,
        now_ms: i64,
        mut draft: AuditDraft,
    ) -> Result<UserInfo, StoreError> {
        draft.resource_id = Some(user_id.to_owned());
        draft.detail("change", change.as_str());
        let (t, id) = (tenant.cloned(), user_id.to_owned());
        self.in_catalog(
            draft,
            |c| Box::pin(async move { change_user(c, t.as_ref(), &id, change, now_ms).await }),
            |_, _| {},
        )
        .await
    }

    async fn user_for_login(&self, username: &str) -> Result<Option<LoginRecord>, StoreError> {
        let name = username.to_owned();
        let found = self
            .catalog_call(|c| {
                Box::pin(async move {
                    let sql = format!("{SELECT_USER} WHERE u.username = $1");
                    let Some(r) = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(&name)
                        .fetch_optional(&mut *c)
                        .await
                        .map_err(errors::db)?
                    else {
                        return Ok(None);
                    };
                    let user = user_row(&r)?;
                    let hash: String = sqlx::query_scalar("SELECT password_hash FROM hippo.users WHERE id = $1")
                        .bind(&user.id)
                        .fetch_one(&mut *c)
                        .await
                        .map_err(errors::db)?;
                    let factor: Option<(Vec<u8>, bool)> = sqlx::query_as(
                        "SELECT sealed_secret, confirmed_at_ms IS NOT NULL FROM hippo.totp_factors WHERE user_id = $1",
                    )
                    .bind(&user.id)
                    .fetch_optional(&mut *c)
                    .await
                    .map_err(errors::db)?;
                    Ok(Some((user, hash, factor)))
                })
            })
            .await?;
        let Some((user, password_hash, factor)) = found else {
            return Ok(None);
        };
        let (totp_secret, totp_confirmed) = match factor {
            Some((sealed, confirmed)) => (
                Some(self.seal.open(&totp_label(&user.id), &sealed)?),
                confirmed,
            ),
            None => (None, false),
        };
        Ok(Some(LoginRecord {
            user,
            password_hash,
            totp_secret,
            totp_confirmed,
        }))
    }

    async fn begin_totp(&self, user_id: &str, secret: &[u8]) -> Result<(), StoreError> {
        let sealed = self.seal.seal(&totp_label(user_id), secret)?;
        let id = user_id.to_owned();
        self.catalog_call(|c| {
            Box::pin(async move {
                let confirmed: Option<bool> = sqlx::query_scalar(
                    "SELECT confirmed_at_ms IS NOT NULL FROM hippo.totp_factors WHERE user_id = $1 FOR UPDATE",
                )
                .bind(&id)
                .fetch_optional(&mut *c)
                .await
                .map_err(errors::db)?;
                if confirmed == Some(true) {
                    return Err(StoreError::FactorState(
                        "a confirmed authenticator is already enrolled; an administrator resets it with `hippo user reset-mfa`",
                    ));
                }
                exec(
                    c,
                    sqlx::query(
                        "INSERT INTO hippo.totp_factors (user_id, sealed_secret) VALUES ($1, $2)
                         ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, last_step = NULL",
                    )
                    .bind(&id)
                    .bind(&sealed),
                )
                .await?;
                Ok(())
            })
        })
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
        self.in_catalog(draft, |c| {
            Box::pin(async move {
                let n = exec(
                    c,
                    sqlx::query(
                        "UPDATE hippo.totp_factors SET confirmed_at_ms = $2, last_step = $3 WHERE user_id = $1 AND confirmed_at_ms IS NULL",
                    )
                    .bind(&id)
                    .bind(now_ms)
                    .bind(step as i64),
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::FactorState("no enrolment is pending for this user"));
                }
                activate(c, &id, &recovery_hashes, &s, now_ms).await
            })
        }, |_, _| {})
        .await
    }

    async fn use_totp_step(&self, user_id: &str, step: u64) -> Result<FactorUse, StoreError> {
        let id = user_id.to_owned();
        self.catalog_call(|c| {
            Box::pin(async move {
                let n = exec(
                    c,
                    sqlx::query(
                        "UPDATE hippo.totp_factors SET last_step = $2 WHERE user_id = $1 AND confirmed_at_ms IS NOT NULL AND (last_step IS NULL OR last_step < $2)",
                    )
                    .bind(&id)
                    .bind(step as i64),
                )
                .await?;
                Ok(if n == 1 { FactorUse::Accepted } else { FactorUse::Replayed })
            })
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
        self.catalog_call(|c| {
            Box::pin(async move {
                let n = exec(
                    c,
                    sqlx::query(
                        "UPDATE hippo.recovery_codes SET used_at_ms = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at_ms IS NULL",
                    )
                    .bind(&id)
                    .bind(h.as_slice())
                    .bind(now_ms),
                )
                .await?;
                Ok(if n == 1 { FactorUse::Accepted } else { FactorUse::Replayed })
            })
        })
        .await
    }

    async fn add_passkey(
        &self,
        user_id: &str,
        pk: StoredPasskey,
        activation: Option<Activation>,
        now_ms: i64,
        mut draft: AuditDraft,
    ) -> Result<(), StoreError> {
        draft.detail("factor", "passkey");
        draft.detail("credential", pk.credential_id.clone());
        let id = user_id.to_owned();
        self.in_catalog(
            draft,
            |c| {
                Box::pin(async move {
                    let n = exec(
                        c,
                        sqlx::query(
                            "INSERT INTO hippo.passkeys (credential_id, user_id, name, passkey, created_at_ms)
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING",
                        )
                        .bind(&pk.credential_id)
                        .bind(&id)
                        .bind(&pk.name)
                        .bind(&pk.passkey)
                        .bind(now_ms),
                    )
                    .await?;
                    if n == 0 {
                        return Err(StoreError::FactorState("this passkey is already registered"));
                    }
                    match &activation {
                        Some(a) => activate(c, &id, &a.recovery_hashes, &a.session, now_ms).await,
                        None => Ok(()),
                    }
                })
            },
            |_, _| {},
        )
        .await
    }

    async fn passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>, StoreError> {
        let id = user_id.to_owned();
        self.catalog_call(|c| {
            Box::pin(async move {
                let rows: Vec<(String, String, String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT credential_id, name, passkey, created_at_ms, last_used_at_ms FROM hippo.passkeys
                     WHERE user_id = $1 ORDER BY created_at_ms, credential_id",
                )
                .bind(&id)
                .fetch_all(c)
                .await
                .map_err(errors::db)?;
                Ok(rows
                    .into_iter()
                    .map(|(credential_id, name, passkey, created_at_ms, last_used_at_ms)| StoredPasskey {
                        credential_id,
                        name,
                        passkey,
                        created_at_ms,
                        last_used_at_ms,
                    })
                    .collect())
            })
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
        self.catalog_call(|c| {
            Box::pin(async move {
                exec(
                    c,
                    sqlx::query("UPDATE hippo.passkeys SET passkey = $2, last_used_at_ms = $3 WHERE credential_id = $1")
                        .bind(&id)
                        .bind(&passkey)
                        .bind(now_ms),
                )
                .await?;
                Ok(())
            })
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
        self.catalog_call(|c| {
            Box::pin(async move {
                exec(
                    c,
                    sqlx::query("UPDATE hippo.sessions SET ceremony = $2, ceremony_expires_ms = $3 WHERE token_hash = $1")
                        .bind(h.as_slice())
                        .bind(&state)
                        .bind(expires_at_ms),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn take_ceremony(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<(String, i64)>, StoreError> {
        let h = *token_hash;
        self.catalog_call(|c| {
            Box::pin(async move {
                // Locked, read and cleared in one transaction: two instances racing on one
                // challenge cannot both get it.
                let found: Option<(Option<String>, Option<i64>)> = sqlx::query_as(
                    "SELECT ceremony, ceremony_expires_ms FROM hippo.sessions WHERE token_hash = $1 FOR UPDATE",
                )
                .bind(h.as_slice())
                .fetch_optional(&mut *c)
                .await
                .map_err(errors::db)?;
                exec(
                    c,
                    sqlx::query("UPDATE hippo.sessions SET ceremony = NULL, ceremony_expires_ms = NULL WHERE token_hash = $1")
                        .bind(h.as_slice()),
                )
                .await?;
                Ok(match found {
                    Some((Some(state), Some(exp))) => Some((state, exp)),
                    _ => None,
                })
            })
        })
        .await
    }

    async fn create_session(
        &self,
        s: NewSession,
        mut draft: AuditDraft,
    ) -> Result<SessionRow, StoreError> {
        draft.detail("session", session_id(&s.token_hash));
        self.in_catalog(draft, |c| {
            Box::pin(async move {
                if !super::catalog::tenant_exists(c, &s.tenant).await? {
                    return Err(StoreError::TenantNotFound(s.tenant.to_string()));
                }
                exec(
                    c,
                    sqlx::query(
                        "INSERT INTO hippo.sessions (token_hash, session_id, user_id, tenant_id, role, stage, created_at_ms, last_seen_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    )
                    .bind(s.token_hash.as_slice())
                    .bind(session_id(&s.token_hash))
                    .bind(&s.user_id)
                    .bind(s.tenant.as_str())
                    .bind(s.role.as_str())
                    .bind(s.stage.as_str())
                    .bind(s.now_ms),
                )
                .await?;
                session(c, &s.token_hash).await?.ok_or_else(|| corrupt("session"))
            })
        }, |_, _| {})
        .await
    }

    async fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRow>, StoreError> {
        let h = *token_hash;
        self.catalog_call(|c| Box::pin(async move { session(c, &h).await }))
            .await
    }

    async fn touch_session(&self, token_hash: &[u8; 32], now_ms: i64) -> Result<(), StoreError> {
        let h = *token_hash;
        self.catalog_call(|c| {
            Box::pin(async move {
                exec(
                    c,
                    sqlx::query(
                        "UPDATE hippo.sessions SET last_seen_ms = greatest(last_seen_ms, $2) WHERE token_hash = $1",
                    )
                    .bind(h.as_slice())
                    .bind(now_ms),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn revoke_session(
        &self,
        token_hash: &[u8; 32],
        now_ms: i64,
        mut draft: AuditDraft,
    ) -> Result<(), StoreError> {
        let h = *token_hash;
        draft.detail("session", session_id(&h));
        self.in_catalog(draft, |c| {
            Box::pin(async move {
                exec(
                    c,
                    sqlx::query(
                        "UPDATE hippo.sessions SET revoked_at_ms = coalesce(revoked_at_ms, $2) WHERE token_hash = $1",
                    )
                    .bind(h.as_slice())
                    .bind(now_ms),
                )
                .await?;
                Ok(())
            })
        }, |_, _| {})
        .await
    }

    async fn open_emergency(
        &self,
        token_hash: &[u8; 32],
        e: Emergency,
        mut draft: AuditDraft,
    ) -> Result<SessionRow, StoreError> {
        let h = *token_hash;
        draft.detail("session", session_id(&h));
        self.in_catalog(draft, |c| {
            Box::pin(async move {
                let n = exec(
                    c,
                    sqlx::query(
                        "UPDATE hippo.sessions SET emergency_opened_at_ms = $2, emergency_until_ms = $3, emergency_reason_len = $4
                         WHERE token_hash = $1 AND stage = 'active' AND revoked_at_ms IS NULL",
                    )
                    .bind(h.as_slice())
                    .bind(e.opened_at_ms)
                    .bind(e.until_ms)
                    .bind(e.reason_len as i64),
                )
                .await?;
                if n == 0 {
                    return Err(StoreError::FactorState("the session is not active"));
                }
                session(c, &h).await?.ok_or_else(|| corrupt("session"))
            })
        }, |_, _| {})
        .await
    }
}
