//! Blob sinks: where sealed documents and their small metadata objects are kept. The
//! [`BlobSink`] trait and the data-directory sink (the embedded default); S3 is in `s3.rs`.
//!
//! A blob is written through a [`BlobWriter`] and becomes visible only on `commit`: the
//! directory sink writes to `.partial/` and renames into place after fsync, and a writer
//! dropped before `commit` (a client that disconnected, an upload over the limit) removes
//! its partial file, so nothing half-written is ever visible.

use crate::DocError;
use async_trait::async_trait;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[async_trait]
pub trait BlobSink: Send + Sync {
    /// Where it is, for logs (no credentials).
    fn describe(&self) -> String;
    /// Starts writing object `key`; nothing is visible under `key` until `commit`.
    async fn begin(&self, key: &str) -> Result<Box<dyn BlobWriter>, DocError>;
    /// `len` bytes of `key` from `start` (fewer only at the end of the object).
    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, DocError>;
    /// Reads consecutive pieces of `key` from `start`, of `lens` bytes each, into one buffer as
    /// a plain blocking call, handing each piece to `each` as soon as it is read (while it is
    /// still in the CPU's cache) and stopping when `each` says so; the buffer. `None`: this sink
    /// does not read local files (use [`BlobSink::read_range`]). A caller already on a blocking
    /// thread then reads and decrypts there in one hand-off, which matters on small machines
    /// where waking a thread costs as much as decrypting a chunk.
    /// Whether [`BlobSink::read_pieces_blocking`] reads (a local directory) rather than
    /// answering `None`.
    fn reads_locally(&self) -> bool {
        false
    }
    fn read_pieces_blocking(
        &self,
        _key: &str,
        _start: u64,
        _lens: &[usize],
        _each: &mut dyn FnMut(usize, &mut [u8]) -> bool,
    ) -> Option<Result<Vec<u8>, DocError>> {
        None
    }
    /// The object's size, or `None` if there is no such object.
    async fn size(&self, key: &str) -> Result<Option<u64>, DocError>;
    /// Writes a small object at once (metadata, key files), replacing any.
    async fn put_small(&self, key: &str, bytes: &[u8]) -> Result<(), DocError>;
    async fn get_small(&self, key: &str) -> Result<Option<Vec<u8>>, DocError>;
    /// Every key under `prefix` (which ends with `/`), in no particular order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, DocError>;
    /// Removes an object; removing a missing one is not an error.
    async fn delete(&self, key: &str) -> Result<(), DocError>;
}

#[async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), DocError>;
    /// [`BlobWriter::write`] of a buffer the writer may keep: a writer that writes in the
    /// background takes it without a copy.
    async fn write_owned(&mut self, bytes: Vec<u8>) -> Result<(), DocError> {
        self.write(&bytes).await
    }
    /// Makes the object visible, durably.
    async fn commit(self: Box<Self>) -> Result<(), DocError>;
}

/// Refuses keys that could leave the sink's root (keys are built from ids, but checked anyway).
pub fn check_key(key: &str) -> Result<(), DocError> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && key.split('/').all(|p| {
            !p.is_empty()
                && p != "."
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if ok {
        Ok(())
    } else {
        Err(DocError::Sink(format!("{key:?} is not a valid object key")))
    }
}

/// Documents in a directory (mode 0700, files 0600), normally `<data_dir>/documents`.
pub struct DirSink {
    root: PathBuf,
}

fn io(path: &Path, e: std::io::Error) -> DocError {
    DocError::Sink(format!("{}: {e}", path.display()))
}

impl DirSink {
    pub fn open(root: &Path) -> Result<Self, DocError> {
        for d in [root.to_owned(), root.join(".partial")] {
            std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| io(&d, e))?;
        }
        // Partial files left by a crash mid-upload are never visible; clear them at start.
        if let Ok(entries) = std::fs::read_dir(root.join(".partial")) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn path(&self, key: &str) -> Result<PathBuf, DocError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn make_parent(&self, path: &Path) -> Result<(), DocError> {
        let parent = path.parent().expect("keys have a parent");
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            let mut p = parent;
            while p != self.root {
                let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700));
                p = p.parent().expect("under the root");
            }
        }
        Ok(())
    }

    fn partial(&self) -> Result<PathBuf, DocError> {
        Ok(self
            .root
            .join(".partial")
            .join(uuid::Uuid::now_v7().to_string()))
    }
}

/// `len` bytes of the file at `path` from `start` (fewer at its end), blocking.
fn read_file_range(path: &Path, start: u64, len: u64) -> Result<Vec<u8>, DocError> {
    read_file_pieces(path, start, &[len as usize], &mut |_, _| true)
}

/// Consecutive pieces of the file at `path` from `start` into one buffer, each handed to
/// `each` once read; stops at the file's end or when `each` returns false.
fn read_file_pieces(
    path: &Path,
    start: u64,
    lens: &[usize],
    each: &mut dyn FnMut(usize, &mut [u8]) -> bool,
) -> Result<Vec<u8>, DocError> {
    use std::io::{Read, Seek};
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(DocError::BlobMissing),
        Err(e) => return Err(io(path, e)),
    };
    f.seek(std::io::SeekFrom::Start(start))
        .map_err(|e| io(path, e))?;
    // read_to_end fills spare capacity without zeroing it first.
    let mut buf = Vec::with_capacity(lens.iter().sum());
    for (k, len) in lens.iter().enumerate() {
        let at = buf.len();
        (&mut f)
            .take(*len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| io(path, e))?;
        if buf.len() - at < *len || !each(k, &mut buf[at..]) {
            break;
        }
    }
    Ok(buf)
}

/// A write to the partial file running on the blocking pool; it hands the file back.
type WriteJob = tokio::task::JoinHandle<(std::fs::File, std::io::Result<()>)>;

/// Writes a partial file in the background: each write starts on the blocking pool and is
/// waited for only by the next one (or the commit), so the caller prepares the next bytes
/// meanwhile (as tokio's file does, without its copy of each buffer).
struct DirWriter {
    file: Option<std::fs::File>,
    inflight: Option<WriteJob>,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Drop for DirWriter {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl DirWriter {
    /// Waits for the write in flight, if any; the file, ready for the next.
    async fn settle(&mut self) -> Result<std::fs::File, DocError> {
        if let Some(job) = self.inflight.take() {
            let (file, result) = job
                .await
                .map_err(|_| DocError::Sink("a document write was cancelled".into()))?;
            result.map_err(|e| io(&self.tmp, e))?;
            return Ok(file);
        }
        self.file
            .take()
            .ok_or_else(|| DocError::Sink("a failed document write cannot go on".into()))
    }
}

#[async_trait]
impl BlobWriter for DirWriter {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), DocError> {
        self.write_owned(bytes.to_vec()).await
    }

    async fn write_owned(&mut self, bytes: Vec<u8>) -> Result<(), DocError> {
        use std::io::Write;
        let mut file = self.settle().await?;
        self.inflight = Some(tokio::task::spawn_blocking(move || {
            let result = file.write_all(&bytes);
            (file, result)
        }));
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), DocError> {
        let file = self.settle().await?;
        let (tmp, dest) = (self.tmp.clone(), self.dest.clone());
        tokio::task::spawn_blocking(move || -> Result<(), DocError> {
            file.sync_all().map_err(|e| io(&tmp, e))?;
            drop(file);
            std::fs::rename(&tmp, &dest).map_err(|e| io(&dest, e))
        })
        .await
        .map_err(|_| DocError::Sink("a document commit was cancelled".into()))??;
        self.committed = true;
        if let Some(parent) = self.dest.parent() {
            if let Ok(d) = std::fs::File::open(parent) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[async_trait]
impl BlobSink for DirSink {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    async fn begin(&self, key: &str) -> Result<Box<dyn BlobWriter>, DocError> {
        let dest = self.path(key)?;
        self.make_parent(&dest)?;
        let tmp = self.partial()?;
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| io(&tmp, e))?
        };
        Ok(Box::new(DirWriter {
            file: Some(file),
            inflight: None,
            tmp,
            dest,
            committed: false,
        }))
    }

    async fn read_range(&self, key: &str, start: u64, len: u64) -> Result<Vec<u8>, DocError> {
        let path = self.path(key)?;
        // One trip to the blocking pool for open, seek and read (tokio's file type would make
        // one for each).
        tokio::task::spawn_blocking(move || read_file_range(&path, start, len))
            .await
            .map_err(|_| DocError::Sink("a document read was cancelled".into()))?
    }

    fn reads_locally(&self) -> bool {
        true
    }

    fn read_pieces_blocking(
        &self,
        key: &str,
        start: u64,
        lens: &[usize],
        each: &mut dyn FnMut(usize, &mut [u8]) -> bool,
    ) -> Option<Result<Vec<u8>, DocError>> {
        Some(
            self.path(key)
                .and_then(|path| read_file_pieces(&path, start, lens, each)),
        )
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, DocError> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    async fn put_small(&self, key: &str, bytes: &[u8]) -> Result<(), DocError> {
        let mut w = self.begin(key).await?;
        w.write(bytes).await?;
        w.commit().await
    }

    async fn get_small(&self, key: &str) -> Result<Option<Vec<u8>>, DocError> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, DocError> {
        let base = prefix.trim_end_matches('/');
        check_key(base)?;
        let mut out = Vec::new();
        let mut stack = vec![self.root.join(base)];
        while let Some(dir) = stack.pop() {
            let mut rd = match tokio::fs::read_dir(&dir).await {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir, e)),
            };
            while let Some(e) = rd.next_entry().await.map_err(|e| io(&dir, e))? {
                let p = e.path();
                if e.file_type().await.map_err(|e| io(&p, e))?.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), DocError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nothing_is_visible_before_commit_and_a_dropped_writer_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let s = DirSink::open(d.path()).unwrap();
        let mut w = s.begin("t/a/b.blob").await.unwrap();
        w.write(b"partial").await.unwrap();
        assert_eq!(s.size("t/a/b.blob").await.unwrap(), None);
        drop(w);
        assert_eq!(
            std::fs::read_dir(d.path().join(".partial"))
                .unwrap()
                .count(),
            0
        );
        let mut w = s.begin("t/a/b.blob").await.unwrap();
        w.write(b"whole").await.unwrap();
        w.commit().await.unwrap();
        assert_eq!(s.read_range("t/a/b.blob", 1, 3).await.unwrap(), b"hol");
        assert_eq!(s.list("t/").await.unwrap(), vec!["t/a/b.blob".to_string()]);
        assert!(s.begin("../x").await.is_err());
    }
}
