//! Key providers: who wraps each document's data key. The [`KeyProvider`] trait, the bounded
//! time-limited cache of unwrapped data keys, and the local provider (the embedded default).
//!
//! The local provider keeps, per tenant, numbered key-encryption keys (random, 256-bit), each
//! stored in the blob sink wrapped under the documents root (derived from the deployment
//! keyring, never stored). A data key is wrapped under the tenant's current version; rotation
//! adds a version; a version is retired (its wrapped copy deleted) only when no object refers
//! to it; destroying all of a tenant's versions crypto-shreds its documents.

use crate::sink::BlobSink;
use crate::DocError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

pub type DataKey = Zeroizing<[u8; 32]>;

/// Draws a fresh random 256-bit key.
pub fn random_key() -> Result<DataKey, DocError> {
    let mut k = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(k.as_mut_slice()).map_err(|_| DocError::Random)?;
    Ok(k)
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], DocError> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|_| DocError::Random)?;
    Ok(b)
}

/// A wrapped data key as a provider returns it.
pub struct Wrapped {
    pub key_ref: String,
    pub bytes: Vec<u8>,
}

#[async_trait]
pub trait KeyProvider: Send + Sync {
    /// `local` or `kms` (written into every object header).
    fn name(&self) -> &'static str;
    /// Wraps `key` for `tenant` under the current key version, bound to `context` (the object id).
    async fn wrap(&self, tenant: &str, context: &str, key: &DataKey) -> Result<Wrapped, DocError>;
    /// Unwraps; fails closed on a wrong, retired or destroyed key version.
    async fn unwrap(
        &self,
        tenant: &str,
        context: &str,
        key_ref: &str,
        bytes: &[u8],
    ) -> Result<DataKey, DocError>;
    /// The key version new objects of `tenant` are wrapped under.
    async fn current_version(&self, tenant: &str) -> Result<String, DocError>;
    /// Makes a new key version current for `tenant`; returns it.
    async fn rotate(&self, tenant: &str) -> Result<String, DocError>;
    /// Retires a version nothing refers to any more (its key material is destroyed).
    async fn retire(&self, tenant: &str, key_ref: &str) -> Result<(), DocError>;
    /// Destroys every key version of `tenant` (crypto-shredding).
    async fn destroy_tenant(&self, tenant: &str) -> Result<(), DocError>;
    /// Whether `key_ref` still exists (not retired or destroyed), checked before a cached data
    /// key is used when that is cheap; otherwise the cache's time limit bounds the delay.
    async fn version_live(&self, _tenant: &str, _key_ref: &str) -> Result<bool, DocError> {
        Ok(true)
    }
}

/// AES-256-GCM with a random nonce, bound to `aad`: `nonce || ciphertext`.
pub(crate) fn seal(key: &[u8; 32], aad: &[u8], msg: &[u8]) -> Result<Vec<u8>, DocError> {
    let nonce: [u8; 12] = random_bytes()?;
    let ct = Aes256Gcm::new_from_slice(key)
        .expect("32-byte key")
        .encrypt(Nonce::from_slice(&nonce), Payload { msg, aad })
        .map_err(|_| DocError::Random)?;
    Ok([nonce.as_slice(), &ct].concat())
}

pub(crate) fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < 12 + 16 {
        return None;
    }
    let (nonce, ct) = sealed.split_at(12);
    Aes256Gcm::new_from_slice(key)
        .expect("32-byte key")
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
        .map(Zeroizing::new)
}

fn to_key(v: &[u8]) -> Option<DataKey> {
    let arr: [u8; 32] = v.try_into().ok()?;
    Some(Zeroizing::new(arr))
}

/// The key versions of one tenant as stored in the sink (`keys/<tenant>.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TenantKeys {
    current: u32,
    /// Version → the tenant KEK of that version, wrapped under the documents root.
    versions: BTreeMap<u32, String>,
}

/// The local key provider: tenant KEK versions in the sink, wrapped under the documents root.
pub struct LocalProvider {
    root: DataKey,
    sink: Arc<dyn BlobSink>,
    /// Serialises changes of a tenant's key file within this process.
    lock: tokio::sync::Mutex<()>,
}

impl LocalProvider {
    /// `root` comes from the deployment keyring (`Keyring::documents_root`).
    pub fn new(root: DataKey, sink: Arc<dyn BlobSink>) -> Self {
        Self {
            root,
            sink,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn file(tenant: &str) -> String {
        format!("keys/{tenant}.json")
    }

    async fn load(&self, tenant: &str) -> Result<Option<TenantKeys>, DocError> {
        match self.sink.get_small(&Self::file(tenant)).await? {
            None => Ok(None),
            Some(b) => serde_json::from_slice(&b).map(Some).map_err(|_| {
                DocError::KeyState(format!("the key file of tenant {tenant} is malformed"))
            }),
        }
    }

    async fn save(&self, tenant: &str, keys: &TenantKeys) -> Result<(), DocError> {
        let bytes = serde_json::to_vec(keys).expect("serialises");
        self.sink.put_small(&Self::file(tenant), &bytes).await
    }

    fn label(tenant: &str, version: u32) -> String {
        format!("hippo document kek {tenant} v{version}")
    }

    fn new_version(&self, tenant: &str, keys: &mut TenantKeys) -> Result<u32, DocError> {
        let v = keys.versions.keys().max().copied().unwrap_or(0) + 1;
        let kek = random_key()?;
        let wrapped = seal(
            &self.root,
            Self::label(tenant, v).as_bytes(),
            kek.as_slice(),
        )?;
        keys.versions.insert(v, STANDARD.encode(wrapped));
        keys.current = v;
        Ok(v)
    }

    fn kek(&self, tenant: &str, keys: &TenantKeys, v: u32) -> Result<DataKey, DocError> {
        let wrapped = keys.versions.get(&v).ok_or_else(|| {
            DocError::KeyVersion(format!("{tenant}/v{v} is retired or destroyed"))
        })?;
        let raw = STANDARD
            .decode(wrapped)
            .map_err(|_| DocError::KeyState("a wrapped key version is not base64".into()))?;
        open(&self.root, Self::label(tenant, v).as_bytes(), &raw)
            .and_then(|k| to_key(&k))
            .ok_or_else(|| {
                DocError::KeyVersion(format!(
                    "{tenant}/v{v} does not open with this keyring (wrong keyring or tampered key file)"
                ))
            })
    }

    fn parse_ref(tenant: &str, key_ref: &str) -> Result<u32, DocError> {
        key_ref
            .strip_prefix(tenant)
            .and_then(|r| r.strip_prefix("/v"))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                DocError::KeyVersion(format!(
                    "{key_ref:?} is not a key version of tenant {tenant}"
                ))
            })
    }
}

#[async_trait]
impl KeyProvider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn wrap(&self, tenant: &str, context: &str, key: &DataKey) -> Result<Wrapped, DocError> {
        let v = self.current_version(tenant).await?;
        let keys = self.load(tenant).await?.unwrap_or_default();
        let n = Self::parse_ref(tenant, &v)?;
        let kek = self.kek(tenant, &keys, n)?;
        Ok(Wrapped {
            bytes: seal(&kek, context.as_bytes(), key.as_slice())?,
            key_ref: v,
        })
    }

    async fn unwrap(
        &self,
        tenant: &str,
        context: &str,
        key_ref: &str,
        bytes: &[u8],
    ) -> Result<DataKey, DocError> {
        let n = Self::parse_ref(tenant, key_ref)?;
        let keys = self.load(tenant).await?.ok_or_else(|| {
            DocError::KeyVersion(format!("tenant {tenant} has no document keys (destroyed?)"))
        })?;
        let kek = self.kek(tenant, &keys, n)?;
        open(&kek, context.as_bytes(), bytes)
            .and_then(|k| to_key(&k))
            .ok_or_else(|| {
                DocError::KeyVersion(format!("the data key does not unwrap under {key_ref}"))
            })
    }

    async fn current_version(&self, tenant: &str) -> Result<String, DocError> {
        if let Some(k) = self.load(tenant).await? {
            if k.versions.contains_key(&k.current) {
                return Ok(format!("{tenant}/v{}", k.current));
            }
        }
        let _g = self.lock.lock().await;
        let mut keys = self.load(tenant).await?.unwrap_or_default();
        if !keys.versions.contains_key(&keys.current) {
            self.new_version(tenant, &mut keys)?;
            self.save(tenant, &keys).await?;
        }
        Ok(format!("{tenant}/v{}", keys.current))
    }

    async fn rotate(&self, tenant: &str) -> Result<String, DocError> {
        let _g = self.lock.lock().await;
        let mut keys = self.load(tenant).await?.unwrap_or_default();
        let v = self.new_version(tenant, &mut keys)?;
        self.save(tenant, &keys).await?;
        Ok(format!("{tenant}/v{v}"))
    }

    async fn retire(&self, tenant: &str, key_ref: &str) -> Result<(), DocError> {
        let n = Self::parse_ref(tenant, key_ref)?;
        let _g = self.lock.lock().await;
        let mut keys = self.load(tenant).await?.unwrap_or_default();
        if keys.current == n {
            return Err(DocError::KeyVersion(format!(
                "{key_ref} is current; rotate first"
            )));
        }
        keys.versions.remove(&n);
        self.save(tenant, &keys).await
    }

    async fn destroy_tenant(&self, tenant: &str) -> Result<(), DocError> {
        let _g = self.lock.lock().await;
        self.sink.delete(&Self::file(tenant)).await
    }

    async fn version_live(&self, tenant: &str, key_ref: &str) -> Result<bool, DocError> {
        let n = Self::parse_ref(tenant, key_ref)?;
        Ok(self
            .load(tenant)
            .await?
            .is_some_and(|k| k.versions.contains_key(&n)))
    }
}

/// A bounded cache of unwrapped data keys, each kept at most `ttl`: reads of the same object
/// do not call the provider (a KMS round trip) every time, and a destroyed or retired key stops
/// working within `ttl` at most.
/// The cached keys by id with when each was cached, and the ids oldest first (for eviction).
type CacheState = (HashMap<Vec<u8>, (DataKey, Instant)>, VecDeque<Vec<u8>>);

/// Process-wide figures of the data-key caches (lookups by result, keys held), read by the
/// metrics at scrape time. Counts only: never a key, an id or an object name.
pub mod cache_figures {
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

    pub(super) static HITS: AtomicU64 = AtomicU64::new(0);
    pub(super) static MISSES: AtomicU64 = AtomicU64::new(0);
    pub(super) static EXPIRED: AtomicU64 = AtomicU64::new(0);
    pub(super) static ENTRIES: AtomicI64 = AtomicI64::new(0);

    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct KeyCacheFigures {
        /// Lookups answered from the cache.
        pub hits: u64,
        /// Lookups of a key not in the cache (it is then unwrapped by the provider).
        pub misses: u64,
        /// Lookups of a key held longer than the time limit (dropped, then unwrapped anew).
        pub expired: u64,
        /// Unwrapped keys held now, over every cache of the process.
        pub entries: i64,
    }

    pub fn snapshot() -> KeyCacheFigures {
        KeyCacheFigures {
            hits: HITS.load(Relaxed),
            misses: MISSES.load(Relaxed),
            expired: EXPIRED.load(Relaxed),
            entries: ENTRIES.load(Relaxed).max(0),
        }
    }
}

pub struct KeyCache {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<CacheState>,
}

impl KeyCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            ttl,
            capacity,
            inner: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// The cache key: a hash of the object id and its wrapped key (never the key itself).
    pub fn id(context: &str, wrapped: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(context.as_bytes());
        h.update([0]);
        h.update(wrapped);
        h.finalize().to_vec()
    }

    pub fn get(&self, id: &[u8]) -> Option<DataKey> {
        use cache_figures::{ENTRIES, EXPIRED, HITS, MISSES};
        use std::sync::atomic::Ordering::Relaxed;
        let mut g = self.inner.lock().expect("key cache lock");
        match g.0.get(id) {
            Some((k, at)) if at.elapsed() < self.ttl => {
                HITS.fetch_add(1, Relaxed);
                Some(k.clone())
            }
            Some(_) => {
                g.0.remove(id);
                EXPIRED.fetch_add(1, Relaxed);
                ENTRIES.fetch_sub(1, Relaxed);
                None
            }
            None => {
                MISSES.fetch_add(1, Relaxed);
                None
            }
        }
    }

    pub fn put(&self, id: Vec<u8>, key: DataKey) {
        if self.capacity == 0 {
            return;
        }
        use cache_figures::ENTRIES;
        use std::sync::atomic::Ordering::Relaxed;
        let mut g = self.inner.lock().expect("key cache lock");
        while g.0.len() >= self.capacity {
            match g.1.pop_front() {
                Some(old) => {
                    if g.0.remove(&old).is_some() {
                        ENTRIES.fetch_sub(1, Relaxed);
                    }
                }
                None => break,
            }
        }
        if g.0.insert(id.clone(), (key, Instant::now())).is_none() {
            g.1.push_back(id);
            ENTRIES.fetch_add(1, Relaxed);
        }
    }

    /// Forgets every cached key (after shredding or retiring).
    pub fn clear(&self) {
        let mut g = self.inner.lock().expect("key cache lock");
        cache_figures::ENTRIES.fetch_sub(g.0.len() as i64, std::sync::atomic::Ordering::Relaxed);
        g.0.clear();
        g.1.clear();
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("key cache lock").0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_bounded_and_expires() {
        let c = KeyCache::new(2, Duration::from_secs(3600));
        for i in 0..5u8 {
            c.put(vec![i], Zeroizing::new([i; 32]));
        }
        assert_eq!(c.len(), 2);
        assert!(c.get(&[4]).is_some() && c.get(&[0]).is_none());
        // A time limit of zero: nothing is ever served from the cache.
        let expired = KeyCache::new(2, Duration::ZERO);
        expired.put(vec![1], Zeroizing::new([1; 32]));
        assert!(expired.get(&[1]).is_none());
    }

    #[test]
    fn lookups_are_counted_by_result() {
        // The figures are process-wide and other tests run alongside: compare growth only.
        let before = cache_figures::snapshot();
        let c = KeyCache::new(4, Duration::from_secs(3600));
        c.put(vec![9, 1], Zeroizing::new([1; 32]));
        assert!(c.get(&[9, 1]).is_some());
        assert!(c.get(&[9, 1]).is_some());
        assert!(c.get(&[9, 2]).is_none());
        let stale = KeyCache::new(4, Duration::ZERO);
        stale.put(vec![9, 3], Zeroizing::new([3; 32]));
        assert!(stale.get(&[9, 3]).is_none());
        let after = cache_figures::snapshot();
        assert!(after.hits >= before.hits + 2);
        assert!(after.misses > before.misses);
        assert!(after.expired > before.expired);
    }
}
