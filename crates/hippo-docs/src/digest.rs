//! The SHA-256 of an upload's plaintext, computed on a thread of its own while the upload task
//! seals and writes: hashing is most of an upload's CPU time (SHA-256 runs at a fraction of
//! AES-GCM's speed even with the CPU's SHA extensions) and cannot be split within one stream,
//! but it can run beside the rest on another core.
//!
//! A plain OS thread, not tokio's blocking pool: it waits for bytes for as long as the upload
//! lasts, and hundreds of uploads parked on the pool would leave no thread for the file reads
//! and writes they wait on.

use crate::DocError;
use tokio::sync::mpsc;

/// Bytes handed to the hashing thread at a time.
const PIECE: usize = 64 * 1024;
/// Pieces queued for it at most: with [`PIECE`], the memory this adds per upload is bounded
/// (about 192 KiB), whatever the document's size.
const QUEUED: usize = 2;

pub struct HashPipe {
    pending: Vec<u8>,
    tx: Option<mpsc::Sender<Vec<u8>>>,
    done: tokio::sync::oneshot::Receiver<String>,
}

impl HashPipe {
    /// Starts the hashing thread; fails only when the system refuses a thread.
    pub fn start() -> Result<Self, DocError> {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUED);
        let (report, done) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("hippo-upload-sha256".into())
            .spawn(move || {
                let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
                while let Some(piece) = rx.blocking_recv() {
                    ctx.update(&piece);
                }
                let _ = report.send(hex::encode(ctx.finish()));
            })
            .map_err(|e| DocError::Sink(format!("cannot start an upload's hashing thread: {e}")))?;
        Ok(Self {
            pending: Vec::with_capacity(PIECE),
            tx: Some(tx),
            done,
        })
    }

    /// Adds the next bytes (waits only when the hashing thread is [`QUEUED`] pieces behind).
    pub async fn feed(&mut self, mut bytes: &[u8]) -> Result<(), DocError> {
        while !bytes.is_empty() {
            let take = (PIECE - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.pending.len() == PIECE {
                self.send().await?;
            }
        }
        Ok(())
    }

    async fn send(&mut self) -> Result<(), DocError> {
        let piece = std::mem::replace(&mut self.pending, Vec::with_capacity(PIECE));
        let tx = self.tx.as_ref().expect("open until finish");
        tx.send(piece).await.map_err(|_| gone())
    }

    /// The hex SHA-256 of everything fed.
    pub async fn finish(mut self) -> Result<String, DocError> {
        if !self.pending.is_empty() {
            self.send().await?;
        }
        drop(self.tx.take());
        (&mut self.done).await.map_err(|_| gone())
    }
}

fn gone() -> DocError {
    DocError::Sink("the upload's hashing thread stopped".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sha256_hex(data: &[u8]) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(data))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn the_digest_is_sha256_whatever_the_pieces(len in 0usize..300_000, step in 1usize..90_000) {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 253) as u8).collect();
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let got = rt.block_on(async {
                let mut h = HashPipe::start().unwrap();
                for piece in data.chunks(step) {
                    h.feed(piece).await.unwrap();
                }
                h.finish().await.unwrap()
            });
            prop_assert_eq!(got, sha256_hex(&data));
        }
    }
}
