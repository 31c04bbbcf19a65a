//! The catalog in PostgreSQL: tenants, principals and API keys. Runs in the catalog scope.

use super::errors;
use crate::store::{api_key_usable, ApiKeyInfo, KeyRotation, NewApiKey, TenantInfo};
use crate::StoreError;
use hippo_core::principal::ActorKind;
use hippo_core::{Principal, Role, TenantId};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use subtle::ConstantTimeEq;

pub async fn insert_tenant(c: &mut PgConnection, id: &TenantId) -> Result<TenantInfo, StoreError> {
    let now = hippo_core::time_fmt::now_millis();
    let inserted = sqlx::query(
        "INSERT INTO hippo.tenants (id, created_at_ms) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.as_str())
    .bind(now)
    .execute(c)
    .await
    .map_err(errors::db)?
    .rows_affected();
    if inserted == 0 {
        return Err(StoreError::TenantExists(id.to_string()));
    }
    Ok(TenantInfo {
        id: id.clone(),
        created_at_ms: now,
    })
}

pub async fn tenant_exists(c: &mut PgConnection, id: &TenantId) -> Result<bool, StoreError> {
    Ok(sqlx::query("SELECT 1 FROM hippo.tenants WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(c)
        .await
        .map_err(errors::db)?
        .is_some())
}

pub async fn list_tenants(c: &mut PgConnection) -> Result<Vec<TenantInfo>, StoreError> {
    let rows = sqlx::query("SELECT id, created_at_ms FROM hippo.tenants ORDER BY id")
        .fetch_all(c)
        .await
        .map_err(errors::db)?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0).map_err(errors::db)?;
            Ok(TenantInfo {
                id: id
                    .parse()
                    .map_err(|_| StoreError::Corrupt("a stored tenant id is malformed".into()))?,
                created_at_ms: r.try_get(1).map_err(errors::db)?,
            })
        })
        .collect()
}

/// Creates a service-account principal and its API key.
pub async fn insert_api_key(
    c: &mut PgConnection,
    key: &NewApiKey,
) -> Result<ApiKeyInfo, StoreError> {
    if !tenant_exists(c, &key.tenant).await? {
        return Err(StoreError::TenantNotFound(key.tenant.to_string()));
    }
    let now = hippo_core::time_fmt::now_millis();
    let principal_id = format!("sa-{}", uuid::Uuid::now_v7());
    sqlx::query(
        "INSERT INTO hippo.principals (id, tenant_id, kind, name, role, created_at_ms)
         VALUES ($1, $2, 'service_account', $3, $4, $5)",
    )
    .bind(&principal_id)
    .bind(key.tenant.as_str())
    .bind(&key.name)
    .bind(key.role.as_str())
    .bind(now)
    .execute(&mut *c)
    .await
    .map_err(errors::db)?;
    sqlx::query(
        "INSERT INTO hippo.api_keys (key_id, tenant_id, principal_id, secret_hash, created_at_ms, created_by, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.minted.key_id)
    .bind(key.tenant.as_str())
    .bind(&principal_id)
    .bind(key.minted.secret_hash.as_slice())
    .bind(now)
    .bind(&key.created_by)
    .bind(key.expires_at_ms)
    .execute(&mut *c)
    .await
    .map_err(errors::db)?;
    Ok(key.info(principal_id, now))
}

const SELECT_KEY: &str = "SELECT k.key_id, k.principal_id, p.tenant_id, p.role, p.name, k.created_at_ms, k.created_by, k.revoked_at_ms,
        k.expires_at_ms, k.last_used_at_ms, k.replaced_by
     FROM hippo.api_keys k JOIN hippo.principals p ON p.id = k.principal_id";

pub async fn list_api_keys(
    c: &mut PgConnection,
    tenant: Option<&TenantId>,
) -> Result<Vec<ApiKeyInfo>, StoreError> {
    let sql = format!(
        "{SELECT_KEY} WHERE ($1::text IS NULL OR p.tenant_id = $1) ORDER BY k.created_at_ms, k.key_id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.map(|t| t.as_str()))
        .fetch_all(c)
        .await
        .map_err(errors::db)?;
    rows.iter().map(row_to_key).collect()
}

/// Revokes a key of `tenant` (any tenant when `None`: the operator's command line).
pub async fn revoke_api_key(
    c: &mut PgConnection,
    tenant: Option<&TenantId>,
    key_id: &str,
) -> Result<ApiKeyInfo, StoreError> {
    let sql = format!(
        "{SELECT_KEY} WHERE k.key_id = $1 AND ($2::text IS NULL OR p.tenant_id = $2) FOR UPDATE OF k"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key_id)
        .bind(tenant.map(|t| t.as_str()))
        .fetch_optional(&mut *c)
        .await
        .map_err(errors::db)?
        .ok_or_else(|| StoreError::ApiKeyNotFound(key_id.to_owned()))?;
    let mut info = row_to_key(&row)?;
    if info.revoked_at_ms.is_none() {
        let now = hippo_core::time_fmt::now_millis();
        sqlx::query("UPDATE hippo.api_keys SET revoked_at_ms = $2 WHERE key_id = $1")
            .bind(key_id)
            .bind(now)
            .execute(&mut *c)
            .await
            .map_err(errors::db)?;
        info.revoked_at_ms = Some(now);
    }
    Ok(info)
}

/// Looks a key up and compares its secret hash in constant time.
pub async fn authenticate(
    c: &mut PgConnection,
    key_id: &str,
    secret_hash: &[u8; 32],
    now_ms: i64,
) -> Result<Option<Principal>, StoreError> {
    let row = sqlx::query(
        "SELECT k.secret_hash, k.revoked_at_ms, p.id, p.tenant_id, p.role, p.disabled_at_ms, k.expires_at_ms
         FROM hippo.api_keys k JOIN hippo.principals p ON p.id = k.principal_id WHERE k.key_id = $1",
    )
    .bind(key_id)
    .fetch_optional(c)
    .await
    .map_err(errors::db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored: Vec<u8> = row.try_get(0).map_err(errors::db)?;
    let revoked: Option<i64> = row.try_get(1).map_err(errors::db)?;
    let disabled: Option<i64> = row.try_get(5).map_err(errors::db)?;
    let expires: Option<i64> = row.try_get(6).map_err(errors::db)?;
    let matches: bool = stored.as_slice().ct_eq(secret_hash.as_slice()).into();
    if !matches || !api_key_usable(revoked, disabled.is_some(), expires, now_ms) {
        return Ok(None);
    }
    let corrupt = || StoreError::Corrupt("a stored principal is malformed".into());
    let tenant: String = row.try_get(3).map_err(errors::db)?;
    let role: String = row.try_get(4).map_err(errors::db)?;
    Ok(Some(Principal {
        id: row.try_get(2).map_err(errors::db)?,
        tenant: tenant.parse().map_err(|_| corrupt())?,
        kind: ActorKind::ServiceAccount,
        role: role.parse().map_err(|_| corrupt())?,
        credential_id: Some(key_id.to_owned()),
    }))
}

/// Rotates a key: a new key for the same principal, and the old one expiring after the overlap.
pub async fn rotate_api_key(
    c: &mut PgConnection,
    tenant: Option<&TenantId>,
    key_id: &str,
    r: &KeyRotation,
) -> Result<ApiKeyInfo, StoreError> {
    let sql = format!(
        "{SELECT_KEY} WHERE k.key_id = $1 AND ($2::text IS NULL OR p.tenant_id = $2) FOR UPDATE OF k"
    );
    let old = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key_id)
        .bind(tenant.map(|t| t.as_str()))
        .fetch_optional(&mut *c)
        .await
        .map_err(errors::db)?
        .map(|row| row_to_key(&row))
        .transpose()?
        .filter(|k| k.revoked_at_ms.is_none() && k.replaced_by.is_none())
        .ok_or_else(|| StoreError::ApiKeyNotFound(key_id.to_owned()))?;
    sqlx::query(
        "INSERT INTO hippo.api_keys (key_id, tenant_id, principal_id, secret_hash, created_at_ms, created_by, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&r.minted.key_id)
    .bind(old.tenant.as_str())
    .bind(&old.principal_id)
    .bind(r.minted.secret_hash.as_slice())
    .bind(r.now_ms)
    .bind(&r.created_by)
    .bind(r.expires_at_ms)
    .execute(&mut *c)
    .await
    .map_err(errors::db)?;
    sqlx::query(
        "UPDATE hippo.api_keys SET replaced_by = $2, expires_at_ms = least(coalesce(expires_at_ms, $3), $3) WHERE key_id = $1",
    )
    .bind(key_id)
    .bind(&r.minted.key_id)
    .bind(r.now_ms.saturating_add(r.overlap_ms))
    .execute(&mut *c)
    .await
    .map_err(errors::db)?;
    let sql = format!("{SELECT_KEY} WHERE k.key_id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&r.minted.key_id)
        .fetch_one(&mut *c)
        .await
        .map_err(errors::db)?;
    row_to_key(&row)
}

/// Writes a key's last use.
pub async fn note_api_key_use(
    c: &mut PgConnection,
    key_id: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE hippo.api_keys SET last_used_at_ms = greatest(coalesce(last_used_at_ms, 0), $2) WHERE key_id = $1",
    )
    .bind(key_id)
    .bind(now_ms)
    .execute(c)
    .await
    .map_err(errors::db)?;
    Ok(())
}

fn row_to_key(r: &PgRow) -> Result<ApiKeyInfo, StoreError> {
    let corrupt = || StoreError::Corrupt("a stored API key is malformed".into());
    let tenant: String = r.try_get(2).map_err(errors::db)?;
    let role: String = r.try_get(3).map_err(errors::db)?;
    Ok(ApiKeyInfo {
        key_id: r.try_get(0).map_err(errors::db)?,
        principal_id: r.try_get(1).map_err(errors::db)?,
        tenant: tenant.parse().map_err(|_| corrupt())?,
        role: role.parse::<Role>().map_err(|_| corrupt())?,
        name: r.try_get(4).map_err(errors::db)?,
        created_at_ms: r.try_get(5).map_err(errors::db)?,
        created_by: r.try_get(6).map_err(errors::db)?,
        revoked_at_ms: r.try_get(7).map_err(errors::db)?,
        expires_at_ms: r.try_get(8).map_err(errors::db)?,
        last_used_at_ms: r.try_get(9).map_err(errors::db)?,
        replaced_by: r.try_get(10).map_err(errors::db)?,
    })
}
