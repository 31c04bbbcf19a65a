//! A sink's backups, read and checked: every manifest's signature (this deployment's key),
//! place and chain, grouped by database and generation. Objects are fetched and checked
//! against their manifests only when asked (`verify`, `restore`), one at a time.

use crate::manifest::{self, Manifest};
use crate::sink::BackupSink;
use crate::BackupError;
use hippo_audit::tree_head::AuditPublicKey;
use std::collections::BTreeMap;

/// One generation of one database: its manifests in index order.
#[derive(Debug, Clone)]
pub struct Generation {
    pub db: String,
    pub name: String,
    pub manifests: Vec<Manifest>,
}

impl Generation {
    pub fn started_ms(&self) -> i64 {
        self.manifests.first().map(|m| m.taken_at_ms).unwrap_or(0)
    }
    pub fn last_ms(&self) -> i64 {
        self.manifests.last().map(|m| m.taken_at_ms).unwrap_or(0)
    }
    pub fn bytes(&self) -> u64 {
        self.manifests.iter().map(|m| m.object_bytes).sum()
    }
    /// The newest moment this generation can restore to, no later than `until`.
    pub fn reach(&self, until: i64) -> Option<i64> {
        if self.started_ms() > until {
            return None;
        }
        Some(self.last_ms().min(until))
    }
}

/// Every database's generations, oldest first.
#[derive(Debug, Default)]
pub struct Inventory {
    pub dbs: BTreeMap<String, Vec<Generation>>,
    /// Objects without a manifest (left by a crash before the manifest was written).
    pub orphans: Vec<String>,
}

impl Inventory {
    /// Reads every manifest under the sink's backup folder and checks it; the first bad one
    /// refuses the whole inventory, named.
    pub async fn load(sink: &dyn BackupSink, key: &AuditPublicKey) -> Result<Self, BackupError> {
        let names = sink.list(&format!("{}/", manifest::ROOT)).await?;
        let mut groups: BTreeMap<(String, String), Vec<(u64, Manifest, Vec<u8>)>> = BTreeMap::new();
        let mut objects = Vec::new();
        for name in &names {
            let Some((db, generation, index)) = manifest::parse_manifest_name(name) else {
                objects.push(name.clone());
                continue;
            };
            let bytes = sink.get(name).await?;
            let m = Manifest::open(&bytes, name, key).map_err(|e| BackupError::refused(name, e))?;
            groups.entry((db, generation)).or_default().push((index, m, bytes));
        }
        let mut inv = Inventory::default();
        for ((db, generation), mut list) in groups {
            list.sort_by_key(|(i, _, _)| *i);
            let (manifests, bytes): (Vec<Manifest>, Vec<Vec<u8>>) =
                list.into_iter().map(|(_, m, b)| (m, b)).unzip();
            manifest::check_chain(&manifests, &bytes).map_err(|(i, e)| {
                BackupError::refused(manifest::manifest_name(&db, &generation, manifests[i].index), e)
            })?;
            inv.dbs.entry(db.clone()).or_default().push(Generation {
                db,
                name: generation,
                manifests,
            });
        }
        let known: std::collections::HashSet<String> = inv
            .dbs
            .values()
            .flatten()
            .flat_map(|g| g.manifests.iter().map(|m| m.object_name()))
            .collect();
        inv.orphans = objects.into_iter().filter(|o| !known.contains(o)).collect();
        Ok(inv)
    }

    /// The generation of `db` that reaches furthest toward `until` (ties: the later base).
    pub fn best(&self, db: &str, until: i64) -> Option<&Generation> {
        self.dbs
            .get(db)?
            .iter()
            .filter_map(|g| g.reach(until).map(|r| (r, g.started_ms(), g)))
            .max_by_key(|(r, s, _)| (*r, *s))
            .map(|(_, _, g)| g)
    }

    /// The newest moment any backup reaches.
    pub fn latest_ms(&self) -> i64 {
        self.dbs.values().flatten().map(|g| g.last_ms()).max().unwrap_or(0)
    }
}

/// Fetches an object and checks it against its manifest.
pub async fn fetch(sink: &dyn BackupSink, m: &Manifest) -> Result<Vec<u8>, BackupError> {
    let name = m.object_name();
    let bytes = sink.get(&name).await.map_err(|e| BackupError::refused(&name, e))?;
    m.check_object(&bytes).map_err(|e| BackupError::refused(&name, e))?;
    Ok(bytes)
}
