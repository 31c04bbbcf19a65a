//! Which generations a retention policy keeps: the newest always, the newest of each of the
//! last `daily` days and `monthly` months (UTC), and any whose objects are still locked. Pure.

use crate::inventory::Generation;

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub daily: u32,
    pub monthly: u32,
}

/// `(day, month)` numbers of a time: days since the epoch, months since year 0.
fn day_month(ms: i64) -> (i64, i64) {
    let day = ms.div_euclid(86_400_000);
    let text = hippo_core::time_fmt::rfc3339(ms);
    let year: i64 = text[0..4].parse().unwrap_or(0);
    let month: i64 = text[5..7].parse().unwrap_or(0);
    (day, year * 12 + month)
}

/// For each generation of one database (oldest first): `Ok(())` to keep it, or `Err(reason)`
/// when it may go; a generation that the policy drops but is locked stays, with the lock named.
pub fn decide(gens: &[Generation], policy: Policy, now_ms: i64) -> Vec<(usize, Decision)> {
    let (today, this_month) = day_month(now_ms);
    let mut keep = vec![false; gens.len()];
    if let Some(last) = gens.len().checked_sub(1) {
        keep[last] = true;
    }
    let mut days_seen = std::collections::HashSet::new();
    let mut months_seen = std::collections::HashSet::new();
    for (i, g) in gens.iter().enumerate().rev() {
        let (day, month) = day_month(g.started_ms());
        if today - day < i64::from(policy.daily) && days_seen.insert(day) {
            keep[i] = true;
        }
        if this_month - month < i64::from(policy.monthly) && months_seen.insert(month) {
            keep[i] = true;
        }
    }
    gens.iter()
        .enumerate()
        .map(|(i, g)| {
            let locked_until = g
                .manifests
                .iter()
                .map(|m| m.retain_until_ms)
                .max()
                .unwrap_or(0);
            let d = if keep[i] {
                Decision::Keep
            } else if locked_until > now_ms {
                Decision::Locked(locked_until)
            } else {
                Decision::Prune
            };
            (i, d)
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Keep,
    /// The policy would drop it, but its objects are locked until then (ms).
    Locked(i64),
    Prune,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, ObjectKind, FORMAT};
    use hippo_store::sqlite::backup::DbPosition;

    const DAY: i64 = 86_400_000;

    fn generation(started: i64, locked: i64) -> Generation {
        Generation {
            db: "t".into(),
            name: started.to_string(),
            problem: None,
            manifests: vec![Manifest {
                format: FORMAT.into(),
                deployment: String::new(),
                db: "t".into(),
                generation: started.to_string(),
                index: 0,
                kind: ObjectKind::Base,
                prev: None,
                object_sha256: String::new(),
                object_bytes: 0,
                journal_from: 0,
                journal_to: 0,
                rows: 0,
                position: DbPosition {
                    journal: 0,
                    audit_size: 0,
                    audit_root: String::new(),
                    newest_event_ms: 0,
                    tree_head: None,
                },
                taken_at_ms: started,
                retain_until_ms: locked,
                wrapped_catalog_key: None,
                signature: String::new(),
            }],
        }
    }

    #[test]
    fn keeps_newest_daily_monthly_and_locked() {
        let now = 1_780_000_000_000; // mid-2026
                                     // Two generations a day for 90 days.
        let mut gens: Vec<Generation> = (0..180)
            .map(|i| generation(now - 90 * DAY + i * DAY / 2, 0))
            .collect();
        // `now` is 20:26 UTC: the last of those began at 08:26 today; one more an hour ago.
        gens.push(generation(now - DAY / 24, 0));
        let d = decide(
            &gens,
            Policy {
                daily: 7,
                monthly: 3,
            },
            now,
        );
        let kept = d.iter().filter(|(_, x)| *x == Decision::Keep).count();
        // 7 daily (the newest of each day) plus up to 3 monthly (some coincide), never fewer than 7.
        assert!((7..=10).contains(&kept), "{kept}");
        assert_eq!(d.last().unwrap().1, Decision::Keep);
        // The older of two generations of today goes.
        assert_eq!(d[d.len() - 2].1, Decision::Prune);
        let mut locked = gens.clone();
        locked[0] = generation(now - 90 * DAY, now + DAY);
        assert_eq!(
            decide(
                &locked,
                Policy {
                    daily: 7,
                    monthly: 0
                },
                now
            )[0]
            .1,
            Decision::Locked(now + DAY)
        );
        assert_eq!(
            decide(
                &[],
                Policy {
                    daily: 1,
                    monthly: 1
                },
                now
            ),
            vec![]
        );
    }
}
