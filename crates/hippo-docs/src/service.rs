//! The documents service: streamed sealed uploads (size limit, content sniffing, SHA-256 while
//! streaming), metadata objects, chunked reads for ranges, versioned deletes, rewrapping
//! (rotation) and shredding, over any [`BlobSink`] and [`KeyProvider`].
//!
//! Layout in the sink, per document version `n`:
//! `docs/<tenant>/<record>/<document>/v<n>.blob` (header + sealed chunks) and
//! `docs/<tenant>/<record>/<document>/v<n>.json` (metadata, no content). The metadata object
//! is written last: a document is visible only once its whole blob is durable.

use crate::digest::HashPipe;
use crate::header::{chunk_aad, Header, WrappedKey, HEADER_SLOT};
use crate::provider::{random_bytes, random_key, KeyCache, KeyProvider};
use crate::read::OpenDoc;
use crate::sink::{BlobSink, BlobWriter};
use crate::sniff::{essence, sniff, SNIFF_LEN};
use crate::stream::{self, Opener, Sealer};
use crate::DocError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// One version of a document, as its metadata object holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMeta {
    pub id: String,
    pub record_id: String,
    pub version: u32,
    pub size: u64,
    /// Hex SHA-256 of the plaintext, computed while it streamed in.
    pub sha256: String,
    pub content_type: String,
    pub created_at_ms: i64,
    pub created_by: String,
    /// A tombstone: the document was deleted at this version (earlier versions remain).
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub chunk_size: u32,
    pub max_bytes: u64,
    /// Accepted media types (essence only, lower case).
    pub allowed_types: Vec<String>,
    pub key_cache_entries: usize,
    pub key_cache_ttl: Duration,
    /// The malware-scan hook, if configured (fails closed).
    pub scan: Option<crate::scan::ScanCommand>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            chunk_size: stream::DEFAULT_CHUNK,
            max_bytes: 64 * 1024 * 1024,
            allowed_types: [
                "application/pdf",
                "image/png",
                "image/jpeg",
                "image/tiff",
                "text/plain",
            ]
            .map(String::from)
            .to_vec(),
            key_cache_entries: 1024,
            key_cache_ttl: Duration::from_secs(300),
            scan: None,
        }
    }
}

pub struct Documents {
    sink: Arc<dyn BlobSink>,
    provider: Arc<dyn KeyProvider>,
    cache: KeyCache,
    settings: Settings,
}

fn dir(tenant: &str, record: &str, doc: &str) -> String {
    format!("docs/{tenant}/{record}/{doc}")
}

/// The id every chunk of a version is bound to (and its data key's wrapping context).
fn object_id(tenant: &str, record: &str, doc: &str, version: u32) -> String {
    format!("{tenant}/{record}/{doc}/v{version}")
}

fn blob_key(tenant: &str, m: &DocMeta) -> String {
    format!("{}/v{}.blob", dir(tenant, &m.record_id, &m.id), m.version)
}

fn meta_key(tenant: &str, m: &DocMeta) -> String {
    format!("{}/v{}.json", dir(tenant, &m.record_id, &m.id), m.version)
}

impl Documents {
    pub fn new(
        sink: Arc<dyn BlobSink>,
        provider: Arc<dyn KeyProvider>,
        settings: Settings,
    ) -> Self {
        Self {
            cache: KeyCache::new(settings.key_cache_entries, settings.key_cache_ttl),
            sink,
            provider,
            settings,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn sink(&self) -> &Arc<dyn BlobSink> {
        &self.sink
    }

    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    fn check_type(&self, declared: &str) -> Result<String, DocError> {
        let e = essence(declared);
        if self.settings.allowed_types.contains(&e) {
            Ok(e)
        } else {
            Err(DocError::TypeNotAllowed {
                declared: e.chars().take(80).collect(),
                allowed: self.settings.allowed_types.join(", "),
            })
        }
    }

    /// Starts a new document of `record` (version 1): checks the declared type and length,
    /// wraps a fresh data key (a key service that is down fails here, before any byte is read).
    pub async fn start_upload(
        &self,
        tenant: &str,
        record: &str,
        declared_type: &str,
        declared_len: Option<u64>,
        actor: &str,
        now_ms: i64,
    ) -> Result<Upload, DocError> {
        let content_type = self.check_type(declared_type)?;
        let limit = self.settings.max_bytes;
        if declared_len.is_some_and(|n| n > limit) {
            return Err(DocError::TooLarge { limit });
        }
        let meta = DocMeta {
            id: uuid::Uuid::now_v7().to_string(),
            record_id: record.to_owned(),
            version: 1,
            size: 0,
            sha256: String::new(),
            content_type,
            created_at_ms: now_ms,
            created_by: actor.to_owned(),
            deleted: false,
        };
        let oid = object_id(tenant, record, &meta.id, 1);
        let key = random_key()?;
        let wrapped = self.provider.wrap(tenant, &oid, &key).await?;
        let header = Header {
            chunk_size: self.settings.chunk_size,
            nonce_prefix: random_bytes()?,
            key: WrappedKey {
                provider: self.provider.name().to_owned(),
                key_ref: wrapped.key_ref,
                bytes: wrapped.bytes,
            },
        };
        let aad = chunk_aad(&oid, header.chunk_size, &header.nonce_prefix);
        let scan = self.settings.scan.as_ref().map(|c| c.start()).transpose()?;
        let mut writer = self.sink.begin(&blob_key(tenant, &meta)).await?;
        writer.write(&header.encode()).await?;
        Ok(Upload {
            sealer: Sealer::new(&key, header.nonce_prefix, aad, header.chunk_size),
            writer,
            sha: HashPipe::start()?,
            head: Some(Vec::with_capacity(SNIFF_LEN)),
            out: Vec::with_capacity(header.chunk_size as usize + stream::TAG_LEN),
            limit,
            meta,
            scan,
        })
    }

    /// Makes a finished upload visible (writes its metadata object).
    pub async fn publish(&self, tenant: &str, staged: &Staged) -> Result<(), DocError> {
        let m = &staged.meta;
        self.sink
            .put_small(
                &meta_key(tenant, m),
                &serde_json::to_vec(m).expect("serialises"),
            )
            .await
    }

    /// Removes a finished upload that must not become visible (refused after the fact).
    pub async fn discard(&self, tenant: &str, staged: Staged) -> Result<(), DocError> {
        self.sink.delete(&blob_key(tenant, &staged.meta)).await
    }

    /// Every version of a document, oldest first.
    pub async fn versions(
        &self,
        tenant: &str,
        record: &str,
        doc: &str,
    ) -> Result<Vec<DocMeta>, DocError> {
        if uuid::Uuid::parse_str(doc).is_err() {
            return Err(DocError::NotFound);
        }
        let prefix = format!("{}/", dir(tenant, record, doc));
        let mut out = Vec::new();
        for key in self.sink.list(&prefix).await? {
            if key.ends_with(".json") {
                if let Some(b) = self.sink.get_small(&key).await? {
                    out.push(parse_meta(&b)?);
                }
            }
        }
        out.sort_by_key(|m| m.version);
        Ok(out)
    }

    /// One version (`None`: the newest); a deleted newest version is [`DocError::Deleted`].
    pub async fn meta(
        &self,
        tenant: &str,
        record: &str,
        doc: &str,
        version: Option<u32>,
    ) -> Result<DocMeta, DocError> {
        let all = self.versions(tenant, record, doc).await?;
        let m = match version {
            Some(v) => all.into_iter().find(|m| m.version == v),
            None => all.into_iter().last(),
        }
        .ok_or(DocError::NotFound)?;
        if m.deleted {
            return Err(DocError::Deleted);
        }
        Ok(m)
    }

    /// The newest version of each live document of `record`, by id.
    pub async fn list(&self, tenant: &str, record: &str) -> Result<Vec<DocMeta>, DocError> {
        let prefix = format!("docs/{tenant}/{record}/");
        let mut newest: std::collections::BTreeMap<String, DocMeta> = Default::default();
        for key in self.sink.list(&prefix).await? {
            if !key.ends_with(".json") {
                continue;
            }
            if let Some(b) = self.sink.get_small(&key).await? {
                let m = parse_meta(&b)?;
                match newest.get(&m.id) {
                    Some(have) if have.version >= m.version => {}
                    _ => {
                        newest.insert(m.id.clone(), m);
                    }
                }
            }
        }
        Ok(newest.into_values().filter(|m| !m.deleted).collect())
    }

    /// Deletes a document: a tombstone version is written; earlier versions remain readable.
    pub async fn delete(
        &self,
        tenant: &str,
        record: &str,
        doc: &str,
        actor: &str,
        now_ms: i64,
    ) -> Result<DocMeta, DocError> {
        let current = self.meta(tenant, record, doc, None).await?;
        let tomb = DocMeta {
            version: current.version + 1,
            size: 0,
            sha256: String::new(),
            created_at_ms: now_ms,
            created_by: actor.to_owned(),
            deleted: true,
            ..current
        };
        self.sink
            .put_small(
                &meta_key(tenant, &tomb),
                &serde_json::to_vec(&tomb).expect("serialises"),
            )
            .await?;
        Ok(tomb)
    }

    async fn read_header(&self, key: &str) -> Result<(Header, usize, u64), DocError> {
        let size = self.sink.size(key).await?.ok_or(DocError::BlobMissing)?;
        let first = self.sink.read_range(key, 0, HEADER_SLOT as u64).await?;
        let len = Header::declared_len(&first)?;
        let bytes = if len <= first.len() {
            first
        } else {
            self.sink.read_range(key, 0, len as u64).await?
        };
        let (h, len) = Header::decode(&bytes)?;
        Ok((h, len, size))
    }

    async fn unwrap(
        &self,
        tenant: &str,
        oid: &str,
        key: &WrappedKey,
    ) -> Result<crate::DataKey, DocError> {
        let id = KeyCache::id(oid, &key.bytes);
        if let Some(k) = self.cache.get(&id) {
            // A version retired or destroyed since (by `hippo keys` in another process) must
            // stop working at once where the provider can tell cheaply.
            if self.provider.version_live(tenant, &key.key_ref).await? {
                return Ok(k);
            }
            self.cache.clear();
        }
        if key.provider != self.provider.name() {
            return Err(DocError::KeyVersion(format!(
                "the object was wrapped by the {} key provider, this server uses {}",
                key.provider,
                self.provider.name()
            )));
        }
        let k = self
            .provider
            .unwrap(tenant, oid, &key.key_ref, &key.bytes)
            .await?;
        self.cache.put(id, k.clone());
        Ok(k)
    }

    /// Opens a stored version for reading: header, data key, and a length check (a cut or
    /// extended blob is refused before any chunk is read).
    pub async fn open(&self, tenant: &str, meta: &DocMeta) -> Result<OpenDoc, DocError> {
        let key = blob_key(tenant, meta);
        let (h, hlen, size) = self.read_header(&key).await?;
        stream::check_len(size.saturating_sub(hlen as u64), meta.size, h.chunk_size)?;
        let oid = object_id(tenant, &meta.record_id, &meta.id, meta.version);
        let (h, dk) = match self.unwrap(tenant, &oid, &h.key).await {
            Ok(dk) => (h, dk),
            // A rotation may have rewrapped the blob and retired the version its header named
            // between our reading the header and unwrapping: read the header again, once.
            Err(DocError::KeyVersion(_)) => {
                let (again, _, _) = self.read_header(&key).await?;
                let dk = self.unwrap(tenant, &oid, &again.key).await?;
                (again, dk)
            }
            Err(e) => return Err(e),
        };
        Ok(OpenDoc {
            sink: self.sink.clone(),
            key,
            body: hlen as u64,
            total: stream::chunk_count(meta.size, h.chunk_size),
            size: meta.size,
            opener: Opener::new(
                &dk,
                h.nonce_prefix,
                chunk_aad(&oid, h.chunk_size, &h.nonce_prefix),
                h.chunk_size,
            ),
        })
    }

    /// The key version a stored version's data key is wrapped under.
    pub async fn key_ref(&self, tenant: &str, meta: &DocMeta) -> Result<String, DocError> {
        Ok(self
            .read_header(&blob_key(tenant, meta))
            .await?
            .0
            .key
            .key_ref)
    }

    /// Rewraps a stored version's data key under the provider's current key version, if it is
    /// under another. Only the header changes (same length), written as a new blob that
    /// replaces the old one whole, so readers see either header and every chunk where it was.
    /// Returns whether it was rewrapped.
    pub async fn rewrap(&self, tenant: &str, meta: &DocMeta) -> Result<bool, DocError> {
        let key = blob_key(tenant, meta);
        let (mut h, hlen, size) = self.read_header(&key).await?;
        let current = self.provider.current_version(tenant).await?;
        if h.key.key_ref == current {
            return Ok(false);
        }
        let oid = object_id(tenant, &meta.record_id, &meta.id, meta.version);
        let dk = self.unwrap(tenant, &oid, &h.key).await?;
        let w = self.provider.wrap(tenant, &oid, &dk).await?;
        h.key.key_ref = w.key_ref;
        h.key.bytes = w.bytes;
        let encoded = h.encode();
        if encoded.len() != hlen {
            return Err(DocError::KeyState(
                "a rewrapped header would change length".into(),
            ));
        }
        let mut writer = self.sink.begin(&key).await?;
        writer.write(&encoded).await?;
        let step = 4 * 1024 * 1024u64;
        let mut at = hlen as u64;
        while at < size {
            let part = self.sink.read_range(&key, at, step.min(size - at)).await?;
            if part.is_empty() {
                return Err(DocError::BlobMissing);
            }
            at += part.len() as u64;
            writer.write(&part).await?;
        }
        writer.commit().await?;
        Ok(true)
    }

    /// Every stored version (live or not) of every document of `tenant`.
    pub async fn all_versions(&self, tenant: &str) -> Result<Vec<DocMeta>, DocError> {
        let mut out = Vec::new();
        for key in self.sink.list(&format!("docs/{tenant}/")).await? {
            if key.ends_with(".json") {
                if let Some(b) = self.sink.get_small(&key).await? {
                    out.push(parse_meta(&b)?);
                }
            }
        }
        Ok(out)
    }

    /// Whether a stored version still opens (its data key unwraps and its first chunk
    /// authenticates), bypassing the key cache: the proof after shredding.
    pub async fn still_opens(&self, tenant: &str, meta: &DocMeta) -> bool {
        self.cache.clear();
        match self.open(tenant, meta).await {
            Ok(d) => d.chunk(0).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Forgets cached data keys (after shredding or retiring key versions).
    pub fn forget_keys(&self) {
        self.cache.clear();
    }

    /// Destroys the wrapped data key of one stored version: its header is rewritten with the
    /// key zeroed (crypto-shredding of one document version). Its sealed chunks never open again.
    pub async fn destroy_key(&self, tenant: &str, meta: &DocMeta) -> Result<(), DocError> {
        let key = blob_key(tenant, meta);
        let (mut h, hlen, size) = self.read_header(&key).await?;
        h.key.bytes = vec![0; h.key.bytes.len()];
        h.key.key_ref = "shredded".into();
        let mut w = self.sink.begin(&key).await?;
        w.write(&h.encode()).await?;
        let mut at = hlen as u64;
        let step = 4 * 1024 * 1024u64;
        while at < size {
            let part = self.sink.read_range(&key, at, step.min(size - at)).await?;
            if part.is_empty() {
                break;
            }
            at += part.len() as u64;
            w.write(&part).await?;
        }
        w.commit().await?;
        self.cache.clear();
        Ok(())
    }

    /// Removes a stored version (its blob and metadata).
    pub async fn remove_version(&self, tenant: &str, meta: &DocMeta) -> Result<(), DocError> {
        if !meta.deleted {
            self.sink.delete(&blob_key(tenant, meta)).await?;
        }
        self.sink.delete(&meta_key(tenant, meta)).await
    }
}

fn parse_meta(b: &[u8]) -> Result<DocMeta, DocError> {
    serde_json::from_slice(b)
        .map_err(|_| DocError::Sink("a document metadata object is malformed".into()))
}

/// An upload in progress: holds one chunk of plaintext at most (plus the first bytes until
/// they are sniffed). Dropping it before [`Upload::finish`] leaves nothing behind.
pub struct Upload {
    sealer: Sealer,
    writer: Box<dyn BlobWriter>,
    /// SHA-256 of the plaintext, computed beside the sealing (see [`HashPipe`]).
    sha: HashPipe,
    /// The first bytes, kept until there are enough to sniff the content type.
    head: Option<Vec<u8>>,
    out: Vec<u8>,
    limit: u64,
    meta: DocMeta,
    scan: Option<crate::scan::Scan>,
}

impl Upload {
    pub fn meta(&self) -> &DocMeta {
        &self.meta
    }

    /// Adds the next bytes of the document.
    pub async fn push(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        self.meta.size += bytes.len() as u64;
        if self.meta.size > self.limit {
            return Err(DocError::TooLarge { limit: self.limit });
        }
        self.sha.feed(bytes).await?;
        if let Some(scan) = self.scan.as_mut() {
            scan.feed(bytes);
        }
        if let Some(head) = self.head.as_mut() {
            head.extend_from_slice(bytes);
            if head.len() < SNIFF_LEN {
                return Ok(());
            }
            let head = self.head.take().expect("present");
            self.check_sniff(&head)?;
            return self.seal(&head).await;
        }
        self.seal(bytes).await
    }

    fn check_sniff(&self, head: &[u8]) -> Result<(), DocError> {
        let sniffed = sniff(head).unwrap_or("application/octet-stream");
        if sniffed != self.meta.content_type {
            return Err(DocError::TypeMismatch {
                declared: self.meta.content_type.clone(),
                sniffed: sniffed.into(),
            });
        }
        Ok(())
    }

    async fn seal(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        self.sealer.push(bytes, &mut self.out)?;
        if !self.out.is_empty() {
            // Handed to the writer whole (it may write it in the background).
            let capacity = self.out.capacity();
            let sealed = std::mem::replace(&mut self.out, Vec::with_capacity(capacity));
            self.writer.write_owned(sealed).await?;
        }
        Ok(())
    }

    /// Seals the final chunk and makes the blob durable (not yet visible: see
    /// [`Documents::publish`]).
    pub async fn finish(mut self) -> Result<Staged, DocError> {
        if let Some(head) = self.head.take() {
            if head.is_empty() {
                return Err(DocError::Empty);
            }
            self.check_sniff(&head)?;
            self.seal(&head).await?;
        }
        let mut out = std::mem::take(&mut self.out);
        self.sealer.finish(&mut out)?;
        self.writer.write_owned(out).await?;
        // The scanner's verdict before the blob is committed: refused, nothing is kept.
        if let Some(scan) = self.scan.take() {
            scan.finish()?;
        }
        self.meta.sha256 = self.sha.finish().await?;
        self.writer.commit().await?;
        Ok(Staged { meta: self.meta })
    }
}

/// A durable but not yet visible upload.
pub struct Staged {
    pub meta: DocMeta,
}
