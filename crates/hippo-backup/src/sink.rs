//! Where backups go: a local directory (files written atomically, read-only) or S3 (SSE-KMS,
//! Object Lock in COMPLIANCE mode until each object's retention date). One interface for both,
//! keyed by the object names of [`crate::manifest`].

use crate::BackupError;
use async_trait::async_trait;
use hippo_store::export::{S3Options, S3Sink, S3Url};
use std::path::{Path, PathBuf};

#[async_trait]
pub trait BackupSink: Send + Sync {
    /// Where the sink writes, for messages (never carries credentials).
    fn describe(&self) -> String;
    /// Writes `bytes` at `name`, immutable until `retain_until_ms` where the sink enforces it.
    async fn put(&self, name: &str, bytes: &[u8], retain_until_ms: i64) -> Result<(), BackupError>;
    async fn get(&self, name: &str) -> Result<Vec<u8>, BackupError>;
    /// Every name under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackupError>;
    async fn delete(&self, name: &str) -> Result<(), BackupError>;
    /// Whether `name` exists (an unreadable one counts as absent).
    async fn exists(&self, name: &str) -> bool {
        self.get(name).await.is_ok()
    }
}

/// Opens `target`: `s3://bucket/prefix[?region=R]` (S3 settings from `s3`, region overridden
/// per sink for a copy in a second region), or a local directory.
pub fn open(target: &str, s3: &S3Options) -> Result<Box<dyn BackupSink>, BackupError> {
    if let Some(rest) = target.strip_prefix("s3://") {
        let (url, region) = match rest.split_once("?region=") {
            Some((u, r)) => (format!("s3://{u}"), Some(r.to_owned())),
            None => (target.to_owned(), None),
        };
        let mut options = s3.clone();
        if region.is_some() {
            options.region = region;
        }
        let sink = S3Sink::new(S3Url::parse(&url).map_err(config)?, options).map_err(config)?;
        Ok(Box::new(S3Backup { sink, url }))
    } else if target.contains("://") {
        Err(BackupError::Config(format!(
            "unsupported backup destination {target:?}; use s3://bucket/prefix or a directory path"
        )))
    } else {
        Ok(Box::new(DirBackup::new(target)))
    }
}

fn config(e: hippo_store::export::ExportError) -> BackupError {
    BackupError::Config(e.to_string())
}

/// Backups as read-only files under a directory.
pub struct DirBackup {
    root: PathBuf,
}

impl DirBackup {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
    fn path(&self, name: &str) -> Result<PathBuf, BackupError> {
        if name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(BackupError::Config(format!("bad object name {name:?}")));
        }
        Ok(self.root.join(name))
    }
}

fn io(path: &Path, e: std::io::Error) -> BackupError {
    BackupError::Sink(format!("{}: {e}", path.display()))
}

#[async_trait]
impl BackupSink for DirBackup {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    async fn put(
        &self,
        name: &str,
        bytes: &[u8],
        _retain_until_ms: i64,
    ) -> Result<(), BackupError> {
        let path = self.path(name)?;
        let dir = path.parent().expect("names have a folder");
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        hippo_store::export::dir::write_sealed(&path, bytes)
            .map_err(|e| BackupError::Sink(e.to_string()))
    }

    async fn get(&self, name: &str) -> Result<Vec<u8>, BackupError> {
        let path = self.path(name)?;
        std::fs::read(&path).map_err(|e| io(&path, e))
    }

    async fn exists(&self, name: &str) -> bool {
        self.path(name).map(|p| p.is_file()).unwrap_or(false)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackupError> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir, e)),
            };
            for entry in entries.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.root) {
                    let name = rel.to_string_lossy().to_string();
                    if name.starts_with(prefix) && !name.ends_with(".partial") {
                        out.push(name);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    async fn delete(&self, name: &str) -> Result<(), BackupError> {
        let path = self.path(name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path, e)),
        }
    }
}

/// Backups as S3 objects.
pub struct S3Backup {
    sink: S3Sink,
    url: String,
}

fn s3(e: hippo_store::export::ExportError) -> BackupError {
    BackupError::Sink(e.to_string())
}

#[async_trait]
impl BackupSink for S3Backup {
    fn describe(&self) -> String {
        self.url.clone()
    }

    async fn put(&self, name: &str, bytes: &[u8], retain_until_ms: i64) -> Result<(), BackupError> {
        let until = (retain_until_ms > 0).then(|| hippo_core::time_fmt::rfc3339(retain_until_ms));
        self.sink
            .put_object(
                &self.sink.key_of(name),
                "application/octet-stream",
                bytes,
                until.as_deref(),
            )
            .await
            .map_err(s3)
    }

    async fn get(&self, name: &str) -> Result<Vec<u8>, BackupError> {
        self.sink
            .get_object(&self.sink.key_of(name))
            .await
            .map_err(s3)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BackupError> {
        let full = self.sink.key_of(prefix);
        let strip = full.len() - prefix.len();
        let mut out: Vec<String> = self
            .sink
            .list(&full)
            .await
            .map_err(s3)?
            .into_iter()
            .map(|k| k[strip..].to_owned())
            .collect();
        out.sort();
        Ok(out)
    }

    async fn delete(&self, name: &str) -> Result<(), BackupError> {
        self.sink
            .delete_object(&self.sink.key_of(name))
            .await
            .map_err(s3)
    }
}
