//! `[backup]`: continuous backup of the embedded store (where to, how often, how long kept).

use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Destinations, each a directory or `s3://bucket/prefix` (add `?region=R` for a copy in a
    /// second region). Empty: no continuous backup (`hippo serve` warns at start). S3 endpoint
    /// and credentials as for the audit export ([audit] s3_endpoint, AWS_* variables).
    pub to: Vec<String>,
    /// Seconds between shipping rounds of tenant databases: the recovery point objective.
    pub interval_secs: u64,
    /// Seconds between snapshots of the catalog (people, keys, sessions) when it changed.
    pub catalog_interval_secs: u64,
    /// Hours between fresh base snapshots (new generations): bounds restore replay.
    pub base_every_hours: u64,
    /// Most journal rows in one shipped batch.
    pub batch_rows: usize,
    /// Days each backup object stays locked (S3 Object Lock, COMPLIANCE) and unpruned.
    pub retain_days: u32,
    /// `hippo backup prune`: generations kept, the newest of each of the last N days ...
    pub keep_daily: u32,
    /// ... and of each of the last N months.
    pub keep_monthly: u32,
    /// S3 server-side encryption key (KMS key id or ARN) of backup objects; unset: the
    /// bucket's default KMS key. Objects are always written with `aws:kms`.
    pub s3_kms_key_id: Option<String>,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            to: Vec::new(),
            interval_secs: 1,
            catalog_interval_secs: 5,
            base_every_hours: 24,
            batch_rows: 20_000,
            retain_days: 35,
            keep_daily: 7,
            keep_monthly: 12,
            s3_kms_key_id: None,
        }
    }
}

impl BackupConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.interval_secs == 0 || self.interval_secs > 900 {
            return Err(ConfigError::new(
                "backup.interval_secs",
                "must be between 1 and 900 seconds (it is the recovery point objective)",
                "e.g. 1",
            ));
        }
        if self.catalog_interval_secs == 0 || self.base_every_hours == 0 {
            return Err(ConfigError::new(
                "backup.catalog_interval_secs",
                "backup.catalog_interval_secs and backup.base_every_hours must be at least 1",
                "e.g. 5 and 24",
            ));
        }
        if !(100..=200_000).contains(&self.batch_rows) {
            return Err(ConfigError::new(
                "backup.batch_rows",
                "must be between 100 and 200000",
                "e.g. 20000",
            ));
        }
        if self.keep_daily == 0 {
            return Err(ConfigError::new(
                "backup.keep_daily",
                "must keep at least one day of backups",
                "e.g. 7",
            ));
        }
        for target in &self.to {
            if target.contains("://") && !target.starts_with("s3://") {
                return Err(ConfigError::new(
                    "backup.to",
                    format!("unsupported destination scheme in {target:?}"),
                    "use a directory path or s3://bucket/prefix",
                ));
            }
        }
        Ok(())
    }

    /// The shipper's settings; snapshots are staged under the data directory.
    pub fn ship_settings(&self, data_dir: &Path) -> hippo_backup::ship::ShipSettings {
        hippo_backup::ship::ShipSettings {
            interval: Duration::from_secs(self.interval_secs),
            catalog_interval: Duration::from_secs(self.catalog_interval_secs),
            base_every: Duration::from_secs(self.base_every_hours * 3600),
            batch_rows: self.batch_rows,
            retain_days: self.retain_days,
            scratch: data_dir.join("backup-scratch"),
            prune_journal: true,
        }
    }

    /// S3 settings of backup sinks: the deployment's endpoint and region, always SSE-KMS.
    pub fn s3_options(&self, audit: &super::AuditConfig) -> hippo_store::export::S3Options {
        hippo_store::export::S3Options {
            endpoint: audit.s3_endpoint.clone(),
            region: audit.s3_region.clone(),
            sse: hippo_store::export::ServerSideEncryption::AwsKms,
            kms_key_id: self.s3_kms_key_id.clone(),
        }
    }
}
