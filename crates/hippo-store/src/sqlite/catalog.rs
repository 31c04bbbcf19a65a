//! The catalog database: tenants (with their wrapped data keys), principals and API keys.

use crate::store::{api_key_usable, ApiKeyInfo, KeyRotation, NewApiKey, TenantInfo};
use crate::StoreError;
use hippo_core::principal::ActorKind;
use hippo_core::{Principal, Role, TenantId};
use rusqlite::{params, Connection, OptionalExtension, Row};
use subtle::ConstantTimeEq;

pub fn insert_tenant(
    conn: &Connection,
    id: &TenantId,
    wrapped_key: &[u8],
) -> Result<TenantInfo, StoreError> {
    let now = hippo_core::time_fmt::now_millis();
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO tenants (id, created_at_ms, wrapped_key) VALUES (?1, ?2, ?3)",
        params![id.as_str(), now, wrapped_key],
    )?;
    if inserted == 0 {
        return Err(StoreError::TenantExists(id.to_string()));
    }
    Ok(TenantInfo {
        id: id.clone(),
        created_at_ms: now,
    })
}

pub fn wrapped_key(conn: &Connection, id: &TenantId) -> Result<Vec<u8>, StoreError> {
    conn.prepare_cached("SELECT wrapped_key FROM tenants WHERE id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::TenantNotFound(id.to_string()))
}

pub fn list_tenants(conn: &Connection) -> Result<Vec<TenantInfo>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id, created_at_ms FROM tenants ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    rows.map(|row| {
        let (id, created_at_ms) = row?;
        let id = id
            .parse()
            .map_err(|_| StoreError::Corrupt("a stored tenant id is malformed".into()))?;
        Ok(TenantInfo { id, created_at_ms })
    })
    .collect()
}

/// Creates a service-account principal and its API key.
pub fn insert_api_key(conn: &Connection, key: &NewApiKey) -> Result<ApiKeyInfo, StoreError> {
    wrapped_key(conn, &key.tenant)?;
    let now = hippo_core::time_fmt::now_millis();
    let principal_id = format!("sa-{}", uuid::Uuid::now_v7());
    conn.execute(
        "INSERT INTO principals (id, tenant_id, kind, name, role, created_at_ms) VALUES (?1, ?2, 'service_account', ?3, ?4, ?5)",
        params![principal_id, key.tenant.as_str(), key.name, key.role.as_str(), now],
    )?;
    conn.execute(
        "INSERT INTO api_keys (key_id, principal_id, secret_hash, created_at_ms, created_by, expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key.minted.key_id, principal_id, key.minted.secret_hash.as_slice(), now, key.created_by, key.expires_at_ms],
    )?;
    Ok(key.info(principal_id, now))
}

const SELECT_KEY: &str = "SELECT k.key_id, k.principal_id, p.tenant_id, p.role, p.name, k.created_at_ms, k.created_by, k.revoked_at_ms,
        k.expires_at_ms, k.last_used_at_ms, k.replaced_by
     FROM api_keys k JOIN principals p ON p.id = k.principal_id";

pub fn list_api_keys(
    conn: &Connection,
    tenant: Option<&TenantId>,
) -> Result<Vec<ApiKeyInfo>, StoreError> {
    let sql = format!(
        "{SELECT_KEY} WHERE (?1 IS NULL OR p.tenant_id = ?1) ORDER BY k.created_at_ms, k.key_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([tenant.map(|t| t.as_str())], row_to_key)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(Into::into)
}

/// Revokes a key of `tenant` (any tenant when `None`: the operator's command line).
pub fn revoke_api_key(
    conn: &Connection,
    tenant: Option<&TenantId>,
    key_id: &str,
) -> Result<ApiKeyInfo, StoreError> {
    let sql = format!("{SELECT_KEY} WHERE k.key_id = ?1 AND (?2 IS NULL OR p.tenant_id = ?2)");
    let mut info = conn
        .query_row(
            &sql,
            params![key_id, tenant.map(|t| t.as_str())],
            row_to_key,
        )
        .optional()?
        .ok_or_else(|| StoreError::ApiKeyNotFound(key_id.to_owned()))?;
    if info.revoked_at_ms.is_none() {
        let now = hippo_core::time_fmt::now_millis();
        conn.execute(
            "UPDATE api_keys SET revoked_at_ms = ?2 WHERE key_id = ?1",
            params![key_id, now],
        )?;
        info.revoked_at_ms = Some(now);
    }
    Ok(info)
}

/// Looks a key up and compares its secret hash in constant time.
pub fn authenticate(
    conn: &Connection,
    key_id: &str,
    secret_hash: &[u8; 32],
    now_ms: i64,
) -> Result<Option<Principal>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT k.secret_hash, k.revoked_at_ms, p.id, p.tenant_id, p.role, p.disabled_at_ms, k.expires_at_ms
             FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.key_id = ?1",
        )?
        .query_row([key_id], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })
        .optional()?;
    let Some((stored, revoked, principal_id, tenant, role, disabled, expires)) = row else {
        return Ok(None);
    };
    let matches: bool = stored.as_slice().ct_eq(secret_hash.as_slice()).into();
    if !matches || !api_key_usable(revoked, disabled.is_some(), expires, now_ms) {
        return Ok(None);
    }
    let corrupt = || StoreError::Corrupt("a stored principal is malformed".into());
    Ok(Some(Principal {
        id: principal_id,
        tenant: tenant.parse().map_err(|_| corrupt())?,
        kind: ActorKind::ServiceAccount,
        role: role.parse().map_err(|_| corrupt())?,
        credential_id: Some(key_id.to_owned()),
    }))
}

/// Rotates a key: a new key for the same principal, and the old one expiring after the overlap.
pub fn rotate_api_key(
    conn: &Connection,
    tenant: Option<&TenantId>,
    key_id: &str,
    r: &KeyRotation,
) -> Result<ApiKeyInfo, StoreError> {
    let sql = format!("{SELECT_KEY} WHERE k.key_id = ?1 AND (?2 IS NULL OR p.tenant_id = ?2)");
    let old = conn
        .query_row(
            &sql,
            params![key_id, tenant.map(|t| t.as_str())],
            row_to_key,
        )
        .optional()?
        .filter(|k| k.revoked_at_ms.is_none() && k.replaced_by.is_none())
        .ok_or_else(|| StoreError::ApiKeyNotFound(key_id.to_owned()))?;
    conn.execute(
        "INSERT INTO api_keys (key_id, principal_id, secret_hash, created_at_ms, created_by, expires_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![r.minted.key_id, old.principal_id, r.minted.secret_hash.as_slice(), r.now_ms, r.created_by, r.expires_at_ms],
    )?;
    let old_until = r.now_ms.saturating_add(r.overlap_ms);
    conn.execute(
        "UPDATE api_keys SET replaced_by = ?2, expires_at_ms = min(coalesce(expires_at_ms, ?3), ?3) WHERE key_id = ?1",
        params![key_id, r.minted.key_id, old_until],
    )?;
    let sql = format!("{SELECT_KEY} WHERE k.key_id = ?1");
    Ok(conn.query_row(&sql, [&r.minted.key_id], row_to_key)?)
}

/// Writes a key's last use.
pub fn note_api_key_use(conn: &Connection, key_id: &str, now_ms: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE api_keys SET last_used_at_ms = max(coalesce(last_used_at_ms, 0), ?2) WHERE key_id = ?1",
        params![key_id, now_ms],
    )?;
    Ok(())
}

fn row_to_key(r: &Row<'_>) -> rusqlite::Result<ApiKeyInfo> {
    let bad = |i: usize| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            "malformed stored value".into(),
        )
    };
    let tenant: String = r.get(2)?;
    let role: String = r.get(3)?;
    Ok(ApiKeyInfo {
        key_id: r.get(0)?,
        principal_id: r.get(1)?,
        tenant: tenant.parse().map_err(|_| bad(2))?,
        role: role.parse::<Role>().map_err(|_| bad(3))?,
        name: r.get(4)?,
        created_at_ms: r.get(5)?,
        created_by: r.get(6)?,
        revoked_at_ms: r.get(7)?,
        expires_at_ms: r.get(8)?,
        last_used_at_ms: r.get(9)?,
        replaced_by: r.get(10)?,
    })
}
