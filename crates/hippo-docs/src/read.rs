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
        self.open_span(first, end, sealed).await
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

    /// Opens the sealed chunks `first..end` held in `buf`, in place: the plaintext.
    async fn open_span(&self, first: u64, end: u64, mut buf: Vec<u8>) -> Result<Vec<u8>, DocError> {
        // Plaintexts are moved down over the tags as they open, so the buffer ends up holding
        // exactly the plaintext, with no second allocation.
        let (mut at, mut plain) = (0usize, 0usize);
        for i in first..end {
            let n = self.opener.sealed_chunk_len(i, self.size) as usize;
            match self
                .opener
                .open_chunk_in_place(i, self.total, &mut buf[at..at + n])
            {
                Some(p) => {
                    buf.copy_within(at..at + p, plain);
                    plain += p;
                }
                None => {
                    self.chunk(i).await?;
                    // It opened when read again: the first read was not what is stored.
                    return Err(DocError::Sink(format!(
                        "chunk {i} changed while it was read"
                    )));
                }
            }
            at += n;
        }
        buf.truncate(plain);
        Ok(buf)
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

/// Chunks `from..=to` of a document in batches of [`READ_CHUNKS`], the next batch read from the
/// sink while this one is opened (I/O and decryption overlap; two batches in memory at most).
pub struct ChunkReader {
    open: Arc<OpenDoc>,
    next: u64,
    end: u64,
    ahead: Option<tokio::task::JoinHandle<Result<Vec<u8>, DocError>>>,
}

impl ChunkReader {
    pub fn new(open: Arc<OpenDoc>, from: u64, to: u64) -> Self {
        let end = (to + 1).min(open.total);
        Self {
            open,
            next: from,
            end,
            ahead: None,
        }
    }

    fn start_read(&self, first: u64) -> tokio::task::JoinHandle<Result<Vec<u8>, DocError>> {
        let open = self.open.clone();
        let (first, end) = open.span(first, READ_CHUNKS.min(self.end.saturating_sub(first)));
        tokio::spawn(async move { open.read_span(first, end).await })
    }

    /// The next batch: its first chunk's index and its plaintext; `None` after the last.
    pub async fn next_batch(&mut self) -> Option<Result<(u64, Vec<u8>), DocError>> {
        if self.next >= self.end {
            return None;
        }
        let first = self.next;
        let (_, end) = self.open.span(first, READ_CHUNKS.min(self.end - first));
        let pending = match self.ahead.take() {
            Some(h) => h,
            None => self.start_read(first),
        };
        let sealed = match pending.await {
            Ok(r) => r,
            Err(_) => Err(DocError::Sink("a document read was cancelled".into())),
        };
        self.next = end;
        if self.next < self.end {
            self.ahead = Some(self.start_read(self.next));
        }
        let result = match sealed {
            Ok(buf) => self.open.open_span(first, end, buf).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.next = self.end;
            if let Some(h) = self.ahead.take() {
                h.abort();
            }
        }
        Some(result.map(|p| (first, p)))
    }
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        if let Some(h) = self.ahead.take() {
            h.abort();
        }
    }
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
                let (first, plain) = batch.unwrap();
                assert_eq!(first, expect_first);
                expect_first += plain.len().div_ceil(16) as u64;
                got.extend(plain);
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
        drop(sink);
    }
}
