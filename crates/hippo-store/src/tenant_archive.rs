//! Tenant archives: one tenant's records (every version), audit log and signed tree heads,
//! sealed to a passphrase and signed by the exporting deployment's ledger key, for moving a
//! tenant to another Hippo (another machine, or between the embedded store and PostgreSQL) or
//! off-boarding it. The importer checks the signature, every version's hash and the audit log
//! against its signed heads before writing anything.

use crate::escrow::{self, Sealed};
use crate::record_rules::StoredVersion;
use crate::{LogLeaf, StoreError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hippo_audit::tree_head::{AuditPublicKey, AuditSigningKey, SignedTreeHead};
use hippo_audit::verify::{verify_log, EventRecord, VerifyReport};
use hippo_core::{LogId, RecordId, TenantId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const FORMAT: &str = "hippo-tenant-archive/1";
const SIGNING_DOMAIN: &str = "hippo-tenant-archive/1";

/// One stored record version, as archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedVersion {
    pub record_id: String,
    pub version: i64,
    pub record_type: String,
    pub subject: Option<String>,
    /// JSON array text.
    pub labels: String,
    /// Canonical JSON text of the body, exactly as stored (its hash is `body_sha256`).
    pub body: String,
    pub body_sha256: String,
    pub deleted: bool,
    pub written_at_ms: i64,
    pub written_by: String,
    pub created_at_ms: i64,
    pub created_by: String,
}

impl From<StoredVersion> for ArchivedVersion {
    fn from(v: StoredVersion) -> Self {
        Self {
            record_id: v.id.to_string(),
            version: v.version,
            record_type: v.record_type,
            subject: v.subject,
            labels: v.labels,
            body: v.body,
            body_sha256: v.body_sha256,
            deleted: v.deleted,
            written_at_ms: v.updated_at_ms,
            written_by: v.updated_by,
            created_at_ms: v.created_at_ms,
            created_by: v.created_by,
        }
    }
}

impl ArchivedVersion {
    pub fn id(&self) -> Result<RecordId, StoreError> {
        crate::record_rules::stored_id(&self.record_id)
    }

    /// The body matches its hash and parses.
    pub fn check(&self) -> Result<(), StoreError> {
        let sha = hex::encode(Sha256::digest(self.body.as_bytes()));
        if sha != self.body_sha256 || serde_json::from_str::<serde_json::Value>(&self.body).is_err()
        {
            return Err(StoreError::Corrupt(format!(
                "record {} version {} does not match its hash",
                self.record_id, self.version
            )));
        }
        Ok(())
    }

    /// The version as the input that wrote it (for the search index).
    pub fn input(&self) -> Result<hippo_core::RecordInput, StoreError> {
        let bad = || {
            StoreError::Corrupt(format!(
                "record {} version {} is malformed",
                self.record_id, self.version
            ))
        };
        Ok(hippo_core::RecordInput {
            record_type: self.record_type.clone(),
            subject: self.subject.clone(),
            labels: serde_json::from_str(&self.labels).map_err(|_| bad())?,
            body: serde_json::from_str(&self.body).map_err(|_| bad())?,
        })
    }
}

/// One page of an export: every version of the page's records, and where the next page starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionPage {
    pub versions: Vec<ArchivedVersion>,
    pub next: Option<RecordId>,
}

/// What an export page's audit event says: how many versions left (ids are not listed: the
/// event of the import on the other side names the archive).
pub fn describe_export(a: &mut hippo_core::AuditDraft, page: &VersionPage) {
    a.detail("versions", page.versions.len());
}

/// What an import's audit event says.
pub fn describe_import(a: &mut hippo_core::AuditDraft, written: &usize) {
    a.detail("versions", *written);
}

/// One audit event, as archived: its canonical bytes and stored leaf hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedEvent {
    pub seq: i64,
    /// Base64 of the event's canonical bytes.
    pub canonical: String,
    pub leaf_hash: String,
}

impl From<&LogLeaf> for ArchivedEvent {
    fn from(l: &LogLeaf) -> Self {
        Self {
            seq: l.seq,
            canonical: STANDARD.encode(&l.canonical),
            leaf_hash: hex::encode(l.leaf_hash),
        }
    }
}

/// What an archive holds (the sealed part).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantArchive {
    pub format: String,
    pub tenant: TenantId,
    pub exported_at_ms: i64,
    pub versions: Vec<ArchivedVersion>,
    pub audit: Vec<ArchivedEvent>,
    pub tree_heads: Vec<SignedTreeHead>,
}

/// The file: the sealed archive, the exporting deployment's public key and its signature over
/// the sealed bytes (checked before anything is opened).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchiveFile {
    pub format: String,
    pub tenant: String,
    /// Hex of the exporting deployment's Ed25519 ledger public key.
    pub source_key: String,
    pub sealed: Sealed,
    /// Hex Ed25519 signature of the sealed part's JSON.
    pub signature: String,
}

fn bad(msg: String) -> StoreError {
    StoreError::Corrupt(format!("tenant archive: {msg}"))
}

impl TenantArchive {
    /// Seals and signs the archive.
    pub fn seal(&self, passphrase: &str, key: &AuditSigningKey) -> Result<ArchiveFile, StoreError> {
        let plain =
            zeroize::Zeroizing::new(serde_json::to_vec(self).expect("an archive serialises"));
        let sealed = escrow::seal_bytes(FORMAT, &plain, passphrase)?;
        let signed = serde_json::to_vec(&sealed).expect("sealed serialises");
        Ok(ArchiveFile {
            format: FORMAT.into(),
            tenant: self.tenant.to_string(),
            source_key: key.public_key().to_hex(),
            signature: hex::encode(key.sign_document(SIGNING_DOMAIN, &signed)),
            sealed,
        })
    }

    /// The audit log recomputed against its signed heads, with the exporter's key.
    pub fn verify_audit(&self, key: &AuditPublicKey) -> Result<VerifyReport, StoreError> {
        let mut events = Vec::with_capacity(self.audit.len());
        for e in &self.audit {
            let canonical = STANDARD
                .decode(&e.canonical)
                .map_err(|_| bad(format!("event {} is malformed", e.seq)))?;
            let leaf: [u8; 32] = hex::decode(&e.leaf_hash)
                .ok()
                .and_then(|h| h.try_into().ok())
                .ok_or_else(|| bad(format!("event {} has a malformed leaf hash", e.seq)))?;
            events.push((e.seq as u64, canonical, leaf));
        }
        let log = LogId::Tenant(self.tenant.clone());
        let opts = crate::audit_log::verify_options(&log);
        let records = events
            .iter()
            .map(|(seq, c, l)| EventRecord::with_leaf_hash(*seq, c.as_slice(), *l));
        Ok(verify_log(records, &self.tree_heads, &[*key], &opts))
    }
}

impl ArchiveFile {
    /// Checks the signature (and, when given, that the signer is `expected`, a fingerprint the
    /// exporting operator passed on), then opens and checks the archive: every version's hash,
    /// and the audit log against its signed heads. Returns the archive and the signer.
    pub fn open(
        &self,
        passphrase: &str,
        expected: Option<&str>,
        source: &str,
    ) -> Result<(TenantArchive, AuditPublicKey), StoreError> {
        if self.format != FORMAT {
            return Err(bad(format!(
                "{source} has format {:?}, expected {FORMAT}",
                self.format
            )));
        }
        let key = AuditPublicKey::from_hex(&self.source_key)
            .map_err(|_| bad(format!("{source} names a malformed key")))?;
        if let Some(fp) = expected {
            if key.fingerprint().to_string() != fp {
                return Err(bad(format!(
                    "{source} was signed by {}, not by the expected {fp}",
                    key.fingerprint()
                )));
            }
        }
        let sig: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad(format!("{source} has a malformed signature")))?;
        let signed = serde_json::to_vec(&self.sealed).expect("sealed serialises");
        if !key.verify_document(SIGNING_DOMAIN, &signed, &sig) {
            return Err(bad(format!(
                "{source}: the signature does not verify (altered archive)"
            )));
        }
        let plain = escrow::open_bytes(FORMAT, &self.sealed, passphrase, source)?;
        let archive: TenantArchive = serde_json::from_slice(&plain)
            .map_err(|_| bad(format!("{source}: unreadable content")))?;
        if archive.tenant.as_str() != self.tenant {
            return Err(bad(format!(
                "{source}: the sealed tenant differs from the label"
            )));
        }
        for v in &archive.versions {
            v.check()?;
        }
        let report = archive.verify_audit(&key)?;
        if let Some(p) = report.problem {
            return Err(bad(format!("{source}: its audit log does not verify: {p}")));
        }
        Ok((archive, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked_against_their_hash() {
        let body = "{\"name\":\"A\"}".to_owned();
        let mut v = ArchivedVersion {
            record_id: RecordId::new().to_string(),
            version: 1,
            record_type: "Patient".into(),
            subject: None,
            labels: "[]".into(),
            body_sha256: hex::encode(Sha256::digest(body.as_bytes())),
            body,
            deleted: false,
            written_at_ms: 1,
            written_by: "a".into(),
            created_at_ms: 1,
            created_by: "a".into(),
        };
        assert!(v.check().is_ok());
        assert_eq!(v.input().unwrap().body["name"], "A");
        v.body = "{\"name\":\"B\"}".into();
        assert!(v.check().is_err());
    }
}
