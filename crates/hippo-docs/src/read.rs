//! Reading a stored document version: its chunks opened one at a time, or several per read of
//! the sink and in place (downloads), each authenticated before a byte of it is returned.

use crate::sink::BlobSink;
use crate::stream::{self, Opener};
use crate::DocError;
use std::sync::Arc;

/// Chunks a download reads and opens per read of the sink (512 KiB with the default 64 KiB
/// chunks): fewer, larger reads, at a bounded memory cost per download.
pub const READ_CHUNKS: u64 = 8;

/// A stored version opened for reading, chunk by chunk.
pub struct OpenDoc {
    pub(crate) sink: Arc<dyn BlobSink>,
    /// The blob's key in the sink.
    pub(crate) key: String,
    /// Where the sealed chunks start (after the header).
    pub(crate) body: u64,
    /// Chunks in the stream.
    pub(crate) total: u64,
    /// Plaintext bytes.
    pub(crate) size: u64,
    pub(crate) opener: Opener,
}

impl OpenDoc {
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn chunk_size(&self) -> u64 {
        self.opener.chunk_size() as u64
    }

    pub fn chunks(&self) -> u64 {
        self.total
    }

    /// The plaintext of chunk `i`, authenticated.
    pub async fn chunk(&self, i: u64) -> Result<Vec<u8>, DocError> {
        let len = self.opener.sealed_chunk_len(i, self.size);
        let bytes = self.read_sealed(i, len).await?;
        Ok(self.opener.open_chunk(i, self.total, &bytes)?)
    }

    /// The plaintext of chunks `first..first + count` (fewer at the end), authenticated: one
    /// read of the sink, each chunk opened in place. A chunk that does not open is read again
    /// on its own, so the error names what happened to it.
    pub async fn chunks_from(&self, first: u64, count: u64) -> Result<Vec<u8>, DocError> {
        let (first, end) = self.span(first, count);
        let sealed = self.read_span(first, end).await?;
        Ok(self.open_span(first, end, sealed).await?.into_vec())
    }

    /// Chunks `first..end` actually present of the `count` asked for from `first`.
    fn span(&self, first: u64, count: u64) -> (u64, u64) {
        (first, (first + count.max(1)).min(self.total).max(first))
    }

    /// The sealed bytes of chunks `first..end`, in one read.
    async fn read_span(&self, first: u64, end: u64) -> Result<Vec<u8>, DocError> {
        if first >= end {
            return Ok(Vec::new());
        }
        let len: u64 = (first..end)
            .map(|i| self.opener.sealed_chunk_len(i, self.size))
            .sum();
        self.read_sealed(first, len).await
    }

    /// Opens the sealed chunks `first..end` held in `buf`, in place: each chunk's plaintext
    /// stays where it was (the tags between them are skipped, not moved). A chunk that does
    /// not open is read again on its own, so the error names what happened to it.
    async fn open_span(&self, first: u64, end: u64, buf: Vec<u8>) -> Result<Plain, DocError> {
        match self.open_in_place(first, end, buf) {
            Ok(plain) => Ok(plain),
            Err(i) => Err(self.diagnose(i).await),
        }
    }

    /// [`OpenDoc::open_span`] without the diagnosis: the index of the chunk that did not open.
    fn open_in_place(&self, first: u64, end: u64, mut buf: Vec<u8>) -> Result<Plain, u64> {
        let mut pieces = Vec::with_capacity((end - first) as usize);
        let mut at = 0usize;
        for i in first..end {
            let n = self.opener.sealed_chunk_len(i, self.size) as usize;
            let p = self
                .opener
                .open_chunk_in_place(i, self.total, &mut buf[at..at + n])
                .ok_or(i)?;
            pieces.push(at..at + p);
            at += n;
        }
        Ok(Plain { first, buf, pieces })
    }

    /// Why chunk `i` did not open, read again on its own.
    async fn diagnose(&self, i: u64) -> DocError {
        match self.chunk(i).await {
            Err(e) => e,
            // It opened when read again: the first read was not what is stored.
            Ok(_) => DocError::Sink(format!("chunk {i} changed while it was read")),
        }
    }

    /// [`OpenDoc::read_span`] and [`OpenDoc::open_in_place`] together, blocking, when the sink
    /// reads local files (`None` otherwise): each chunk is opened as soon as it is read, while
    /// it is still in the CPU's cache. `Err(Ok(i))`: chunk `i` did not open.
    fn read_and_open_blocking(
        &self,
        first: u64,
        end: u64,
    ) -> Option<Result<Plain, Result<u64, DocError>>> {
        let sealed = self.opener.chunk_size() as u64 + stream::TAG_LEN as u64;
        let lens: Vec<usize> = (first..end)
            .map(|i| self.opener.sealed_chunk_len(i, self.size) as usize)
            .collect();
        let mut pieces = Vec::with_capacity(lens.len());
        let mut at = 0usize;
        let mut bad = None;
        let read = self.sink.read_pieces_blocking(
            &self.key,
            self.body + first * sealed,
            &lens,
            &mut |k, piece| {
                let i = first + k as u64;
                match self.opener.open_chunk_in_place(i, self.total, piece) {
                    Some(p) => {
                        pieces.push(at..at + p);
                        at += piece.len();
                        true
                    }
                    None => {
                        bad = Some(i);
                        false
                    }
                }
            },
        )?;
        let buf = match read {
            Ok(b) => b,
            Err(e) => return Some(Err(Err(e))),
        };
        if let Some(i) = bad {
            return Some(Err(Ok(i)));
        }
        if pieces.len() < lens.len() {
            return Some(Err(Err(stream::FrameError::Truncated {
                detail: format!("chunk {} is cut short", first + pieces.len() as u64),
            }
            .into())));
        }
        Some(Ok(Plain { first, buf, pieces }))
    }

    /// `len` sealed bytes from the start of chunk `i`; a short read is truncation.
    async fn read_sealed(&self, i: u64, len: u64) -> Result<Vec<u8>, DocError> {
        let sealed = self.opener.chunk_size() as u64 + stream::TAG_LEN as u64;
        let bytes = self
            .sink
            .read_range(&self.key, self.body + i * sealed, len)
            .await?;
        if (bytes.len() as u64) < len {
            return Err(stream::FrameError::Truncated {
                detail: format!("chunk {i} is cut short"),
            }
            .into());
        }
        Ok(bytes)
    }
}

/// The plaintext of consecutive chunks, opened in place in the buffer they were read into.
pub struct Plain {
    /// The index of the first chunk.
    pub first: u64,
    buf: Vec<u8>,
    /// Where each chunk's plaintext sits in `buf`.
    pieces: Vec<std::ops::Range<usize>>,
}

impl Plain {
    /// Plaintext bytes held.
    pub fn len(&self) -> usize {
        self.pieces.iter().map(|r| r.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer and where each chunk's plaintext is in it (for handing out slices of one
    /// buffer without copying).
    pub fn into_parts(self) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
        (self.buf, self.pieces)
    }

    /// The plaintext as one contiguous vector (moved down over the tags, in place).
    pub fn into_vec(self) -> Vec<u8> {
        let (mut buf, mut len) = (self.buf, 0usize);
        for r in self.pieces {
            let n = r.len();
            buf.copy_within(r, len);
            len += n;
        }
        buf.truncate(len);
        buf
    }
}

/// A batch being read and opened.
enum Pending {
    /// From a local directory, read and opened on the blocking pool in one job.
    Local(
        tokio::task::JoinHandle<Option<Result<Plain, Result<u64, DocError>>>>,
        Arc<OpenDoc>,
    ),
    /// From a remote store, as a task.
    Remote(tokio::task::JoinHandle<Result<Plain, DocError>>),
}

impl Pending {
    async fn finish(self) -> Result<Plain, DocError> {
        match self {
            Pending::Remote(handle) => handle.await.map_err(|_| cancelled())?,
            Pending::Local(handle, open) => match handle.await.map_err(|_| cancelled())? {
                Some(Ok(plain)) => Ok(plain),
                Some(Err(Ok(i))) => Err(open.diagnose(i).await),
                Some(Err(Err(e))) => Err(e),
                None => Err(DocError::Sink("the sink does not read locally".into())),
            },
        }
    }

    fn abort(&self) {
        match self {
            Pending::Local(handle, _) => handle.abort(),
            Pending::Remote(handle) => handle.abort(),
        }
    }
}

/// Batches read and opened ahead of the one being handed out: the next ones are under way
/// while the caller sends this one (three batches in memory at most).
const AHEAD: usize = 2;

/// Chunks `from..=to` of a document in batches of [`READ_CHUNKS`], each read from the sink and
/// then opened on the blocking pool, [`AHEAD`] batches ahead of the caller: reading,
/// decrypting and the caller's own work (TLS, the network) overlap on separate cores.
pub struct ChunkReader {
    open: Arc<OpenDoc>,
    /// The first chunk not yet asked for.
    next: u64,
    end: u64,
    ahead: std::collections::VecDeque<Pending>,
}

impl ChunkReader {
    pub fn new(open: Arc<OpenDoc>, from: u64, to: u64) -> Self {
        let end = (to + 1).min(open.total);
        Self {
            open,
            next: from,
            end,
            ahead: std::collections::VecDeque::with_capacity(AHEAD + 1),
        }
    }

    /// Sets reads going until [`AHEAD`] + 1 batches are under way or none is left.
    fn fill(&mut self) {
        while self.ahead.len() <= AHEAD && self.next < self.end {
            let (first, end) = self
                .open
                .span(self.next, READ_CHUNKS.min(self.end - self.next));
            self.next = end;
            let open = self.open.clone();
            let pending = if open.sink.reads_locally() {
                // A directory: read and open in one trip to the blocking pool, nothing else.
                let job = open.clone();
                Pending::Local(
                    tokio::task::spawn_blocking(move || job.read_and_open_blocking(first, end)),
                    open,
                )
            } else {
                // Elsewhere (S3): the request runs as a task of its own, then the opening on
                // the blocking pool.
                Pending::Remote(tokio::spawn(async move {
                    let sealed = open.read_span(first, end).await?;
                    let opener = open.clone();
                    let opened = tokio::task::spawn_blocking(move || {
                        opener.open_in_place(first, end, sealed)
                    })
                    .await
                    .map_err(|_| cancelled())?;
                    match opened {
                        Ok(plain) => Ok(plain),
                        Err(i) => Err(open.diagnose(i).await),
                    }
                }))
            };
            self.ahead.push_back(pending);
        }
    }

    /// The next batch of chunks, opened; `None` after the last (or after a failure).
    pub async fn next_batch(&mut self) -> Option<Result<Plain, DocError>> {
        self.fill();
        let pending = self.ahead.pop_front()?;
        let result = pending.finish().await;
        if result.is_err() {
            self.stop();
        }
        Some(result)
    }

    fn stop(&mut self) {
        self.next = self.end;
        for p in self.ahead.drain(..) {
            p.abort();
        }
    }
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        self.stop();
    }
}

fn cancelled() -> DocError {
    DocError::Sink("a document read was cancelled".into())
}

#[cfg(test)]
mod tests {
    use crate::provider::{random_key, LocalProvider};
    use crate::sink::{BlobSink, DirSink};
    use crate::stream::FrameError;
    use crate::{DocError, Documents, Settings};
    use std::sync::Arc;

    /// A stored text document of `chunks` full 16-byte chunks plus 5 bytes, in a scratch sink.
    async fn stored(
        chunks: usize,
    ) -> (tempfile::TempDir, Arc<DirSink>, Documents, Vec<u8>, String) {
        let d = tempfile::tempdir().unwrap();
        let sink = Arc::new(DirSink::open(d.path()).unwrap());
        let provider = Arc::new(LocalProvider::new(random_key().unwrap(), sink.clone()));
        let settings = Settings {
            chunk_size: 16,
            allowed_types: vec!["text/plain".into()],
            ..Settings::default()
        };
        let docs = Documents::new(sink.clone(), provider, settings);
        let data: Vec<u8> = (0..chunks * 16 + 5)
            .map(|i| b'a' + (i % 26) as u8)
            .collect();
        let mut up = docs
            .start_upload("t", "r", "text/plain", None, "tester", 0)
            .await
            .unwrap();
        up.push(&data).await.unwrap();
        let staged = up.finish().await.unwrap();
        docs.publish("t", &staged).await.unwrap();
        let key = sink
            .list("docs/")
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.ends_with(".blob"))
            .unwrap();
        (d, sink, docs, data, key)
    }

    #[tokio::test]
    async fn several_chunks_per_read_give_exactly_the_plaintext() {
        let (_d, _sink, docs, data, _) = stored(20).await;
        let meta = &docs.list("t", "r").await.unwrap()[0];
        let open = docs.open("t", meta).await.unwrap();
        assert_eq!(open.chunks(), 21);
        let mut back = Vec::new();
        let mut i = 0;
        while i < open.chunks() {
            back.extend(open.chunks_from(i, 8).await.unwrap());
            i += 8;
        }
        assert_eq!(back, data);
        assert_eq!(open.chunks_from(19, 8).await.unwrap(), &data[19 * 16..]);
        assert!(open.chunks_from(21, 8).await.unwrap().is_empty());
        // The read-ahead reader gives the same bytes, from any chunk to any other.
        let open = std::sync::Arc::new(open);
        for (from, to) in [(0, 20), (3, 3), (2, 17), (9, 40)] {
            let mut r = super::ChunkReader::new(open.clone(), from, to);
            let mut got = Vec::new();
            let mut expect_first = from;
            while let Some(batch) = r.next_batch().await {
                let plain = batch.unwrap();
                assert_eq!(plain.first, expect_first);
                expect_first += plain.len().div_ceil(16) as u64;
                got.extend(plain.into_vec());
            }
            let hi = ((to as usize + 1) * 16).min(data.len());
            assert_eq!(got, &data[from as usize * 16..hi], "{from}..={to}");
        }
    }

    #[tokio::test]
    async fn a_bad_chunk_inside_a_read_is_named() {
        let (d, sink, docs, _, key) = stored(20).await;
        let meta = &docs.list("t", "r").await.unwrap()[0];
        let path = d.path().join(&key);
        let mut blob = std::fs::read(&path).unwrap();
        let body = blob.len() - (20 * 32 + 21);
        blob[body + 11 * 32 + 7] ^= 0x40;
        std::fs::write(&path, &blob).unwrap();
        let open = docs.open("t", meta).await.unwrap();
        assert!(
            open.chunks_from(0, 8).await.is_ok(),
            "chunks 0-7 are intact"
        );
        match open.chunks_from(8, 8).await {
            Err(DocError::Frame(FrameError::Altered { chunk: 11 })) => {}
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        let mut r = super::ChunkReader::new(
            std::sync::Arc::new(docs.open("t", meta).await.unwrap()),
            0,
            20,
        );
        assert!(r.next_batch().await.unwrap().is_ok());
        assert!(matches!(
            r.next_batch().await,
            Some(Err(DocError::Frame(FrameError::Altered { chunk: 11 })))
        ));
        assert!(r.next_batch().await.is_none(), "nothing after a bad chunk");
        // Cut short: the last read is refused as truncated.
        std::fs::write(&path, &blob[..blob.len() - 10]).unwrap();
        assert!(matches!(
            open.chunks_from(16, 8).await,
            Err(DocError::Frame(FrameError::Truncated { .. }))
        ));
        let mut r = super::ChunkReader::new(std::sync::Arc::new(open), 16, 20);
        assert!(matches!(
            r.next_batch().await,
            Some(Err(DocError::Frame(FrameError::Truncated { .. })))
        ));
        drop(sink);
    }
}
