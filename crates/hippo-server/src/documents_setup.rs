//! Builds the documents service from `[documents]`: the blob sink (data directory or S3), the
//! key provider (local keyring or AWS KMS) and the limits. Fails closed: a sink or provider
//! that cannot be set up stops the start.

use crate::config::Config;
use hippo_docs::{BlobSink, DirSink, Documents, KeyProvider, LocalProvider, Settings};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub const DOCUMENTS_DIR: &str = "documents";

/// The limits of `[documents]` as the service takes them.
pub fn settings(config: &Config) -> Settings {
    let d = &config.documents;
    Settings {
        chunk_size: d.chunk_kib * 1024,
        max_bytes: d.max_bytes,
        allowed_types: d.allowed_types.clone(),
        key_cache_entries: d.key_cache_entries,
        key_cache_ttl: Duration::from_secs(d.key_cache_ttl_secs),
        scan: (!d.scan_command.is_empty())
            .then(|| hippo_docs::scan::ScanCommand(d.scan_command.clone())),
    }
}

/// The blob sink `[documents] to` names (default: `<data_dir>/documents`).
pub fn sink(config: &Config, data_dir: &Path) -> Result<Arc<dyn BlobSink>, String> {
    match config.documents.to.as_deref() {
        Some(url) if url.starts_with("s3://") => {
            use hippo_store::export::{S3Options, S3Sink, S3Url, ServerSideEncryption};
            let parsed = S3Url::parse(url).map_err(|e| e.to_string())?;
            let options = S3Options {
                endpoint: config.audit.s3_endpoint.clone(),
                region: config.audit.s3_region.clone(),
                sse: ServerSideEncryption::AwsKms,
                kms_key_id: config.documents.s3_kms_key_id.clone(),
            };
            let s3 = S3Sink::new(parsed, options).map_err(|e| e.to_string())?;
            Ok(Arc::new(hippo_docs::s3::S3BlobSink::new(s3)))
        }
        Some(dir) => Ok(Arc::new(
            DirSink::open(Path::new(dir)).map_err(|e| e.to_string())?,
        )),
        None => Ok(Arc::new(
            DirSink::open(&data_dir.join(DOCUMENTS_DIR)).map_err(|e| e.to_string())?,
        )),
    }
}

/// The documents service of this configuration.
pub fn build(config: &Config, data_dir: &Path) -> Result<Arc<Documents>, String> {
    let sink = sink(config, data_dir)?;
    let provider: Arc<dyn KeyProvider> = match config.documents.key_provider.as_str() {
        "local" => {
            let keyring = config.load_keyring(data_dir).map_err(|e| e.to_string())?;
            Arc::new(LocalProvider::new(keyring.documents_root(), sink.clone()))
        }
        "kms" => {
            let key_id = config
                .documents
                .kms_key_id
                .clone()
                .ok_or("documents.kms_key_id is required with key_provider = \"kms\"")?;
            let client = hippo_docs::kms::KmsClient::from_env(
                config.documents.kms_endpoint.clone(),
                config.audit.s3_region.clone(),
            )
            .map_err(|e| e.to_string())?;
            Arc::new(hippo_docs::kms::KmsProvider::new(client, key_id))
        }
        other => {
            return Err(format!(
                "documents.key_provider = {other:?} is not available"
            ))
        }
    };
    Ok(Arc::new(Documents::new(sink, provider, settings(config))))
}
