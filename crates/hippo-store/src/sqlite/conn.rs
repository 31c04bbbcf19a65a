//! Opening SQLCipher databases: key first, then the pragmas that make them durable and private.

use crate::keyring::DataKey;
use crate::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// Opens (creating if asked) an encrypted database and checks the key actually decrypts it.
pub fn open(path: &Path, key: &DataKey, create: bool) -> Result<Connection, StoreError> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
        // Create the file ourselves, owner-only: SQLite gives the -wal and -shm files the
        // database file's permissions, so all three stay private whatever the umask.
        if !path.exists() {
            crate::keyring::write_private_file(path, b"")?;
        }
    } else if !path.exists() {
        return Err(StoreError::Unavailable(format!(
            "{} does not exist",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
    // A raw 256-bit key (x'..') skips SQLCipher's passphrase KDF: the key is already random.
    let mut pragma = zeroize::Zeroizing::new(format!(
        "PRAGMA key = \"x'{}'\";",
        hex::encode(key.as_slice())
    ));
    conn.execute_batch(&pragma)?;
    zeroize::Zeroize::zeroize(&mut *pragma);
    require_sqlcipher(&conn)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
        .map_err(|_| {
            StoreError::Crypto(format!(
                "{} cannot be decrypted with its data key (wrong keyring, destroyed key, or a corrupt file)",
                path.display()
            ))
        })?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA secure_delete = ON;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    super::fts5_rank::register(&conn)?;
    Ok(conn)
}

/// Fails closed if the linked SQLite is not SQLCipher: we never store PHI in a plaintext file.
fn require_sqlcipher(conn: &Connection) -> Result<(), StoreError> {
    let version: Option<String> = conn
        .query_row("PRAGMA cipher_version", [], |r| r.get(0))
        .ok();
    match version {
        Some(v) if !v.is_empty() => Ok(()),
        _ => Err(StoreError::Crypto(
            "this build's SQLite has no SQLCipher encryption; refusing to store PHI unencrypted"
                .into(),
        )),
    }
}
