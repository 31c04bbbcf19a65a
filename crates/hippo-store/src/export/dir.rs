//! The local-directory export sink: `<root>/<log id>/<name>`, each file written to a temporary
//! name, fsynced, made read-only and renamed into place (the embedded default).

use super::{manifest_last_seq, ExportError, ExportSink, ObjectKind};
use async_trait::async_trait;
use std::path::{Path, PathBuf};

/// Sealed batches as read-only files under a directory.
#[derive(Debug, Clone)]
pub struct DirSink {
    root: PathBuf,
}

impl DirSink {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory of one log.
    pub fn log_dir(&self, log_id: &str) -> PathBuf {
        self.root.join(log_id)
    }
}

/// Writes `bytes` to `path` atomically (temp file, fsync, rename) and makes it read-only
/// (also the backup sink's write).
pub fn write_sealed(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::File::create(&tmp).map_err(|e| ExportError::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| ExportError::io(&tmp, e))?;
    f.sync_all().map_err(|e| ExportError::io(&tmp, e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o444))
        .map_err(|e| ExportError::io(&tmp, e))?;
    if path.exists() {
        // A data file left by a run that crashed before its manifest: replace it.
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    std::fs::rename(&tmp, path).map_err(|e| ExportError::io(path, e))?;
    // Make the rename itself durable.
    if let Some(parent) = path.parent() {
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[async_trait]
impl ExportSink for DirSink {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    async fn exported_through(&self, log_id: &str) -> Result<u64, ExportError> {
        let dir = self.log_dir(log_id);
        std::fs::create_dir_all(&dir).map_err(|e| ExportError::io(&dir, e))?;
        let mut last = 0;
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| ExportError::io(&dir, e))?
            .flatten()
        {
            if let Some(end) = manifest_last_seq(&entry.file_name().to_string_lossy()) {
                last = last.max(end);
            }
        }
        Ok(last)
    }

    async fn put_sealed(
        &self,
        log_id: &str,
        name: &str,
        _kind: ObjectKind,
        bytes: &[u8],
        _retain_until: &str,
    ) -> Result<(), ExportError> {
        let dir = self.log_dir(log_id);
        std::fs::create_dir_all(&dir).map_err(|e| ExportError::io(&dir, e))?;
        write_sealed(&dir.join(name), bytes)
    }

    async fn names(&self, log_id: &str) -> Result<Vec<String>, ExportError> {
        let dir = self.log_dir(log_id);
        let mut out: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| !n.ends_with(".partial"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(ExportError::io(&dir, e)),
        };
        out.sort();
        Ok(out)
    }

    async fn read(&self, log_id: &str, name: &str) -> Result<Vec<u8>, ExportError> {
        let path = self.log_dir(log_id).join(name);
        std::fs::read(&path).map_err(|e| ExportError::io(&path, e))
    }
}
