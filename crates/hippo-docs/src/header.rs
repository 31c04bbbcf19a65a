//! The object header: what a sealed document blob starts with, so the blob alone says how to
//! open it (framing parameters, which key provider wrapped its data key, under which key
//! version, and the wrapped key).
//!
//! Layout (integers big-endian):
//! `"HIPPODOC" | format u8 = 1 | header length u32 | chunk size u32 | nonce prefix [7] |
//!  provider len u8 | provider | key ref len u16 | key ref | wrapped len u16 | wrapped key |
//!  zero padding to 1024 bytes`.
//!
//! The chunks' associated data binds the object id, the chunk size and the nonce prefix, not
//! the wrapped key: rewrapping under a new key version (rotation) rewrites only the header.

use crate::stream::NONCE_PREFIX_LEN;

const MAGIC: &[u8; 8] = b"HIPPODOC";
const FORMAT: u8 = 1;
/// Largest header accepted (a KMS ciphertext blob is a few hundred bytes).
pub const MAX_HEADER: usize = 8192;
/// Headers are padded with zeros to this size, so a rewrapped header (rotation) has the same
/// length and a download running across the rewrite finds every chunk where it was.
pub const HEADER_SLOT: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the blob does not start with a document header (wrong magic)")]
    Magic,
    #[error("the blob's header has format {0}; this hippo reads format 1")]
    Format(u8),
    #[error("the blob's header is cut short or malformed")]
    Malformed,
}

/// Which provider wrapped an object's data key, and under which key version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// `local` or `kms`.
    pub provider: String,
    /// The provider's key version (local: `<tenant>/v<n>`; KMS: `<key id>`).
    pub key_ref: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub chunk_size: u32,
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
    pub key: WrappedKey,
}

impl Header {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.key.bytes.len());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        out.extend_from_slice(&[0; 4]); // length, filled below
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        out.extend_from_slice(&self.nonce_prefix);
        out.push(self.key.provider.len() as u8);
        out.extend_from_slice(self.key.provider.as_bytes());
        out.extend_from_slice(&(self.key.key_ref.len() as u16).to_be_bytes());
        out.extend_from_slice(self.key.key_ref.as_bytes());
        out.extend_from_slice(&(self.key.bytes.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.key.bytes);
        if out.len() < HEADER_SLOT {
            out.resize(HEADER_SLOT, 0);
        }
        let len = out.len() as u32;
        out[9..13].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// The header's total length from its first 13 bytes (to know how much more to read).
    pub fn declared_len(prefix: &[u8]) -> Result<usize, HeaderError> {
        if prefix.len() < 13 {
            return Err(HeaderError::Malformed);
        }
        if &prefix[..8] != MAGIC {
            return Err(HeaderError::Magic);
        }
        if prefix[8] != FORMAT {
            return Err(HeaderError::Format(prefix[8]));
        }
        let len = u32::from_be_bytes(prefix[9..13].try_into().expect("4 bytes")) as usize;
        if !(13..=MAX_HEADER).contains(&len) {
            return Err(HeaderError::Malformed);
        }
        Ok(len)
    }

    pub fn decode(bytes: &[u8]) -> Result<(Self, usize), HeaderError> {
        let len = Self::declared_len(bytes)?;
        let h = bytes.get(..len).ok_or(HeaderError::Malformed)?;
        let mut r = Reader { b: h, at: 13 };
        let chunk_size = u32::from_be_bytes(r.take(4)?.try_into().expect("4"));
        if chunk_size == 0 || chunk_size > 16 * 1024 * 1024 {
            return Err(HeaderError::Malformed);
        }
        let nonce_prefix = r.take(NONCE_PREFIX_LEN)?.try_into().expect("7");
        let plen = r.take(1)?[0] as usize;
        let provider = r.text(plen)?;
        let klen = u16::from_be_bytes(r.take(2)?.try_into().expect("2")) as usize;
        let key_ref = r.text(klen)?;
        let wlen = u16::from_be_bytes(r.take(2)?.try_into().expect("2")) as usize;
        let wrapped = r.take(wlen)?.to_vec();
        if h[r.at..].iter().any(|b| *b != 0) {
            return Err(HeaderError::Malformed);
        }
        Ok((
            Header {
                chunk_size,
                nonce_prefix,
                key: WrappedKey {
                    provider,
                    key_ref,
                    bytes: wrapped,
                },
            },
            len,
        ))
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], HeaderError> {
        let s = self
            .b
            .get(self.at..self.at + n)
            .ok_or(HeaderError::Malformed)?;
        self.at += n;
        Ok(s)
    }
    fn text(&mut self, n: usize) -> Result<String, HeaderError> {
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| HeaderError::Malformed)
    }
}

/// The associated data of every chunk of object `object_id`.
pub fn chunk_aad(object_id: &str, chunk_size: u32, prefix: &[u8; NONCE_PREFIX_LEN]) -> Vec<u8> {
    let mut a = b"hippo document v1\0".to_vec();
    a.extend_from_slice(object_id.as_bytes());
    a.push(0);
    a.extend_from_slice(&chunk_size.to_be_bytes());
    a.extend_from_slice(prefix);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_and_never_panics_on_garbage(provider in "[a-z]{1,10}", key_ref in "[a-z0-9/]{0,40}",
                                                   wrapped in proptest::collection::vec(any::<u8>(), 0..300),
                                                   garbage in proptest::collection::vec(any::<u8>(), 0..100)) {
            let h = Header { chunk_size: 65536, nonce_prefix: [9; 7],
                             key: WrappedKey { provider, key_ref, bytes: wrapped } };
            let enc = h.encode();
            let mut with_body = enc.clone();
            with_body.extend_from_slice(&garbage);
            let (back, len) = Header::decode(&with_body).unwrap();
            prop_assert_eq!(back, h);
            prop_assert_eq!(len, enc.len());
            let _ = Header::decode(&garbage);
            for cut in 0..enc.len() {
                prop_assert!(Header::decode(&enc[..cut]).is_err());
            }
        }
    }
}
