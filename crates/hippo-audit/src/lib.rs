//! Pure (no I/O) core of Hippo's tamper-evident audit trail: RFC 9162 Merkle tree and proofs, Ed25519-signed tree heads, whole-log verification, redaction of event details, and canonical JSON.
//!
//! Each module is self-contained apart from the shared [`merkle::Hash`] type, so the
//! modules can move into `hippo-core` as they are:
//!
//! * [`merkle`]: leaf/node hashing, roots, the compact tree a sequencer stores,
//!   inclusion and consistency proofs;
//! * [`tree_head`]: tree heads, their signing bytes, signing, JSON, public keys;
//! * [`verify`]: recompute the log, check the heads, report the first problem;
//! * [`redact`]: HMAC-based redaction of sensitive values in event details;
//! * [`canonical`]: the canonical JSON form hashed and HMACed.

#![forbid(unsafe_code)]

pub mod canonical;
pub mod merkle;
pub mod redact;
pub mod tree_head;
pub mod verify;
