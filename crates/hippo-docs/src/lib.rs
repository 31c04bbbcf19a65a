//! Hippo's documents (referral letters, consent forms, lab PDFs, images): envelope encryption
//! with a data key per object, STREAM-framed AES-256-GCM chunks, key providers that wrap the
//! data keys (local keyring, AWS KMS) and blob sinks that keep the sealed objects (data
//! directory, S3). No document byte is ever logged or written outside its sealed blob.

pub mod digest;
pub mod header;
pub mod kms;
pub mod provider;
pub mod read;
pub mod s3;
pub mod scan;
pub mod sealed_keyring;
pub mod service;
pub mod sink;
pub mod sniff;
pub mod stream;

pub use header::{Header, HeaderError, WrappedKey};
pub use provider::{DataKey, KeyCache, KeyProvider, LocalProvider};
pub use read::{ChunkReader, OpenDoc, Plain, READ_CHUNKS};
pub use service::{DocMeta, Documents, Settings, Staged, Upload};
pub use sink::{BlobSink, BlobWriter, DirSink};
pub use stream::FrameError;

/// Why a document operation failed. Messages name ids, sizes, chunk numbers and key versions,
/// never document content.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    #[error("the document exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("content type {declared:?} is not accepted; accepted: {allowed}")]
    TypeNotAllowed { declared: String, allowed: String },
    #[error("the content does not match its declared type {declared:?} (it looks like {sniffed})")]
    TypeMismatch { declared: String, sniffed: String },
    #[error("the document is empty")]
    Empty,
    #[error("no such document")]
    NotFound,
    #[error("the document has been deleted; earlier versions can still be read with ?version=")]
    Deleted,
    #[error("the stored document fails its integrity check: {0}")]
    Frame(#[from] FrameError),
    #[error("the stored document's header is unreadable: {0}")]
    Header(#[from] HeaderError),
    #[error("the stored document's blob is missing")]
    BlobMissing,
    #[error("the document's data key cannot be unwrapped: {0}")]
    KeyVersion(String),
    #[error("the document key state is unusable: {0}")]
    KeyState(String),
    #[error("the key service is unavailable: {0}")]
    KeyServiceUnavailable(String),
    #[error("the document storage is unavailable: {0}")]
    Sink(String),
    #[error("the malware scan refused the document")]
    Infected,
    #[error("the malware scan could not run: {0}")]
    ScanUnavailable(String),
    #[error("the operating system's random number generator failed")]
    Random,
}
