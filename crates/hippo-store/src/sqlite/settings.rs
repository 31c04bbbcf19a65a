//! `[sqlite]`: tuning of the embedded store, validated by the server's configuration.

/// Tuning of the embedded store (`[sqlite]` in `hippo.toml`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqliteSettings {
    /// Decrypted pages each database's writer connection may keep, in MiB (taken as pages are
    /// used). Searches run in the writer, whose cache, unlike a reader's, survives commits: a
    /// database larger than this cache decrypts pages again on every search. Each open tenant
    /// database has its own writer, so the worst case is this times the number of tenants.
    pub writer_cache_mib: u32,
}

impl SqliteSettings {
    /// The accepted range of `writer_cache_mib`.
    pub const WRITER_CACHE_MIB: std::ops::RangeInclusive<u32> = 1..=16 * 1024;
}

impl Default for SqliteSettings {
    fn default() -> Self {
        Self {
            writer_cache_mib: 64,
        }
    }
}
