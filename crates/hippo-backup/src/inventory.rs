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
    /// The valid prefix of the chain.
    pub manifests: Vec<Manifest>,
    /// The first bad object after that prefix, and what is wrong with it.
    pub problem: Option<(String, String)>,
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
        if self.manifests.is_empty() || self.started_ms() > until {
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
    /// Reads every manifest under the sink's backup folder and checks it. A generation is
    /// kept up to its first bad manifest; the bad one is recorded as its problem (`verify`
    /// fails on any problem, `restore` on one in the generation it needs).
    pub async fn load(sink: &dyn BackupSink, key: &AuditPublicKey) -> Result<Self, BackupError> {
        let names = sink.list(&format!("{}/", manifest::ROOT)).await?;
        let mut groups: BTreeMap<(String, String), Vec<(u64, String)>> = BTreeMap::new();
        let mut objects = Vec::new();
        for name in &names {
            match manifest::parse_manifest_name(name) {
                Some((db, generation, index)) => groups
                    .entry((db, generation))
                    .or_default()
                    .push((index, name.clone())),
                None => objects.push(name.clone()),
            }
        }
        let mut inv = Inventory::default();
        for ((db, generation), mut list) in groups {
            list.sort();
            let mut manifests = Vec::new();
            let mut bytes = Vec::new();
            let mut problem = None;
            for (_, name) in &list {
                let b = sink.get(name).await?;
                match Manifest::open(&b, name, key) {
                    Ok(m) => {
                        manifests.push(m);
                        bytes.push(b);
                    }
                    Err(e) => {
                        problem = Some((name.clone(), e.to_string()));
                        break;
                    }
                }
            }
            if let Err((i, e)) = manifest::check_chain(&manifests, &bytes) {
                let name = manifest::manifest_name(&db, &generation, manifests[i].index);
                manifests.truncate(i);
                problem = Some((name, e.to_string()));
            }
            inv.dbs.entry(db.clone()).or_default().push(Generation {
                db,
                name: generation,
                manifests,
                problem,
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

    /// The first problem of any generation (what `verify` reports).
    pub fn first_problem(&self) -> Option<BackupError> {
        self.dbs
            .values()
            .flatten()
            .find_map(|g| g.problem.as_ref())
            .map(|(o, r)| BackupError::refused(o, r))
    }

    /// The generation to restore `db` from as of `until`: the one reaching furthest (ties: the
    /// later base). Refused, naming the object, if that generation is damaged; `None` if no
    /// backup of `db` reaches back that far.
    pub fn pick(&self, db: &str, until: i64) -> Result<Option<&Generation>, BackupError> {
        let Some(gens) = self.dbs.get(db) else {
            return Ok(None);
        };
        let best = gens
            .iter()
            .filter_map(|g| g.reach(until).map(|r| (r, g.started_ms(), g)))
            .max_by_key(|(r, s, _)| (*r, *s))
            .map(|(_, _, g)| g);
        match best {
            Some(g) => match &g.problem {
                Some((o, r)) => Err(BackupError::refused(o, r)),
                None => Ok(Some(g)),
            },
            None => match gens.iter().find_map(|g| g.problem.as_ref()) {
                Some((o, r)) => Err(BackupError::refused(o, r)),
                None => Ok(None),
            },
        }
    }

    /// The newest moment any backup reaches.
    pub fn latest_ms(&self) -> i64 {
        self.dbs
            .values()
            .flatten()
            .map(|g| g.last_ms())
            .max()
            .unwrap_or(0)
    }
}

/// Fetches an object and checks it against its manifest.
pub async fn fetch(sink: &dyn BackupSink, m: &Manifest) -> Result<Vec<u8>, BackupError> {
    let name = m.object_name();
    let bytes = sink
        .get(&name)
        .await
        .map_err(|e| BackupError::refused(&name, e))?;
    m.check_object(&bytes)
        .map_err(|e| BackupError::refused(&name, e))?;
    Ok(bytes)
}
