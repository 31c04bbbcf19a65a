//! The S3 blob sink (scale-out): sealed documents as objects under `s3://bucket/prefix`, always
//! with SSE-KMS on top of Hippo's own envelope encryption (the bucket policy of
//! deploy/terraform/documents.tf refuses anything else). The signed client is the audit
//! export's (`hippo_store::export::S3Sink`), so the code base has one S3 client.
//!
//! Uploads stream: a blob is sent as multipart parts of [`PART_SIZE`] as they fill (one part in
//! memory per upload), and becomes visible only when the upload completes. A writer dropped
//! before `commit` aborts its multipart upload; the bucket's lifecycle rule removes any
//! incomplete upload an abort missed (a crash). Blobs smaller than one part are one PUT.

use crate::sink::{check_key, BlobSink, BlobWriter};
use crate::DocError;
use async_trait::async_trait;
use hippo_store::export::{ExportError, S3Sink};
use std::sync::Arc;

/// S3's smallest part (all but the last): the memory an S3 upload holds.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

pub struct S3BlobSink {
    s3: Arc<S3Sink>,
}

fn err(e: ExportError) -> DocError {
    match e {
        ExportError::S3Status { status: 404, .. } => DocError::BlobMissing,
        other => DocError::Sink(other.to_string()),
    }
}

impl S3BlobSink {
    pub fn new(s3: S3Sink) -> Self {
        Self { s3: Arc::new(s3) }
    }

    fn key(&self, key: &str) -> Result<String, DocError> {
        check_key(key)?;
        Ok(self.s3.key_of(key))
    }
}

struct S3Writer {
    s3: Arc<S3Sink>,
    key: String,
    buf: Vec<u8>,
    upload: Option<String>,
    etags: Vec<String>,
    done: bool,
}

impl S3Writer {
    async fn send_part(&mut self) -> Result<(), DocError> {
        if self.upload.is_none() {
            self.upload = Some(self.s3.begin_multipart(&self.key).await.map_err(err)?);
        }
        let id = self.upload.clone().expect("started");
        let n = u16::try_from(self.etags.len() + 1)
            .map_err(|_| DocError::Sink("a document holds at most 65535 S3 parts".into()))?;
        let part = std::mem::replace(&mut self.buf, Vec::with_capacity(PART_SIZE));
        let etag = self
            .s3
            .upload_part(&self.key, &id, n, part)
            .await
            .map_err(err)?;
        self.etags.push(etag);
        Ok(())
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        if let (false, Some(id)) = (self.done, self.upload.take()) {
            let (s3, key) = (self.s3.clone(), self.key.clone());
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    if let Err(e) = s3.abort_multipart(&key, &id).await {
                        tracing::warn!(error = %e, "aborting an abandoned document upload failed; the bucket's lifecycle rule removes it");
                    }
                });
            }
        }
    }
}

#[async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, mut bytes: &[u8]) -> Result<(), DocError> {
        while !bytes.is_empty() {
            let take = (PART_SIZE - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() == PART_SIZE {
                self.send_part().await?;
            }
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), DocError> {
        if self.upload.is_none() {
            self.s3
                .put_object(&self.key, "application/octet-stream", &self.buf, None)
                .await
                .map_err(err)?;
        } else {
            if !self.buf.is_empty() {
                self.send_part().await?;
            }
            let id = self.upload.clone().expect("started");
            self.s3
                .complete_multipart(&self.key, &id, &self.etags)
                .await
                .map_err(err)?;
        }
        self.done = true;
        Ok(())
    }
}

#[async_trait]
impl BlobSink for S3BlobSink {
    fn describe(&self) -> String {
        self.s3.key_of("")
    }

    async fn begin(&self, key: &str) -> Result<Box<dyn BlobWriter>, DocError> {
        Ok(Box::new(S3Writer {
            s3: self.s3.clone(),
            key: self.key(key)?,
            buf: Vec::new(),
            upload: None,
            etags: Vec::new(),
            done: false,
        }))
    }

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, DocError> {
        self.s3
            .get_range(&self.key(key)?, start, len)
            .await
            .map_err(err)
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, DocError> {
        self.s3.head_size(&self.key(key)?).await.map_err(err)
    }

    async fn put_small(&self, key: &str, bytes: &[u8]) -> Result<(), DocError> {
        self.s3
            .put_object(&self.key(key)?, "application/json", bytes, None)
            .await
            .map_err(err)
    }

    async fn get_small(&self, key: &str) -> Result<Option<Vec<u8>>, DocError> {
        match self.s3.get_object(&self.key(key)?).await {
            Ok(b) => Ok(Some(b)),
            Err(ExportError::S3Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(err(e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, DocError> {
        let full = self.key(prefix.trim_end_matches('/'))? + "/";
        let base = self.s3.key_of("");
        let strip = if base.is_empty() {
            String::new()
        } else {
            format!("{}/", base.trim_end_matches('/'))
        };
        Ok(self
            .s3
            .list(&full)
            .await
            .map_err(err)?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&strip).map(str::to_owned))
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), DocError> {
        match self.s3.delete_object(&self.key(key)?).await {
            Ok(()) | Err(ExportError::S3Status { status: 404, .. }) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }
}
