//! The planning core shared by pull and push: pick the candidates (filter, `files`,
//! `nrecent`), classify each against the target side, apply the mode, then the safety rule of
//! the direction: a differing file whose target side changed since the last sync is left
//! alone when only the target changed (unless forced), and is a conflict when both did.
//! Something the target side holds at the path but does not sync (one of its refused keys: a
//! symbolic link in the local folder, the file of a file/folder clash on storage) counts as a
//! change of the target: a conflict unless `merge` decides, never replaced in silence.

use std::collections::{BTreeMap, BTreeSet};

use super::change::{
    ChangeRules, Sameness, compare, local_changed_since_sync, remote_changed_since_sync,
};
use super::{Conflict, ConflictReason, Merge, Mode, Plan, PlanRequest, Transfer, TransferReason};
use crate::manifest::{Manifest, ManifestEntry, SyncedFile};

/// Which way files move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Direction {
    /// Remote → local.
    Pull,
    /// Local → remote.
    Push,
}

impl Direction {
    /// Whether the (source, target) sides changed since the last sync; both did when there
    /// is no record.
    fn changes(
        self,
        local: &ManifestEntry,
        remote: &ManifestEntry,
        synced: Option<&SyncedFile>,
        rules: ChangeRules,
    ) -> (bool, bool) {
        let local_changed = local_changed_since_sync(local, synced);
        let remote_changed = remote_changed_since_sync(remote, synced, rules);
        match self {
            Direction::Pull => (remote_changed, local_changed),
            Direction::Push => (local_changed, remote_changed),
        }
    }

    /// Why overwriting the changed target side is a conflict.
    fn conflict_reason(self, synced: Option<&SyncedFile>) -> ConflictReason {
        match (self, synced.is_some()) {
            (Direction::Pull, true) => ConflictReason::LocalChanged,
            (Direction::Pull, false) => ConflictReason::LocalUntracked,
            (Direction::Push, true) => ConflictReason::RemoteChanged,
            (Direction::Push, false) => ConflictReason::RemoteUntracked,
        }
    }
}

/// The source entries to consider, sorted by path; records unknown and filtered-out `files`.
fn candidates<'a>(
    source: &'a Manifest,
    req: &PlanRequest,
    plan: &mut Plan,
) -> Vec<&'a ManifestEntry> {
    let mut chosen: Vec<&ManifestEntry> = match &req.files {
        Some(names) => {
            let names: BTreeSet<&str> = names.iter().map(String::as_str).collect();
            names
                .into_iter()
                .filter_map(|name| match source.get(name) {
                    None => {
                        plan.unknown_files.push(name.to_string());
                        None
                    }
                    Some(_) if !req.filter.matches(name) => {
                        plan.filtered_files.push(name.to_string());
                        None
                    }
                    Some(entry) => Some(entry),
                })
                .collect()
        }
        None => source
            .entries
            .iter()
            .filter(|e| req.filter.matches(&e.path))
            .collect(),
    };
    if let Some(n) = req.nrecent {
        // Newest first, unknown times last, ties by path; then back to path order.
        chosen.sort_by(|a, b| {
            b.modified
                .cmp(&a.modified)
                .then_with(|| a.path.cmp(&b.path))
        });
        chosen.truncate(n);
        chosen.sort_by(|a, b| a.path.cmp(&b.path));
    }
    chosen
}

/// What becomes of the source file at `path` whose target side changed: overwritten (its
/// transfer reason) when `merge` says so; else kept or a conflict, recorded in `plan` (`None`).
fn decide(
    direction: Direction,
    path: &str,
    record: Option<&SyncedFile>,
    merge: Option<Merge>,
    plan: &mut Plan,
) -> Option<TransferReason> {
    match merge {
        Some(Merge::Overwrite) => Some(TransferReason::Modified),
        Some(Merge::Keep) => {
            plan.kept.push(path.to_string());
            None
        }
        None => {
            plan.conflicts.push(Conflict {
                path: path.to_string(),
                reason: direction.conflict_reason(record),
            });
            None
        }
    }
}

/// Plans a transfer in `direction` (see [`super::plan_pull`] and [`super::plan_push`]);
/// `remote_ahead` is left to the caller.
pub(super) fn plan(
    direction: Direction,
    local: &Manifest,
    remote: &Manifest,
    synced: &BTreeMap<String, SyncedFile>,
    req: &PlanRequest,
    rules: ChangeRules,
) -> Plan {
    let (source, target) = match direction {
        Direction::Pull => (remote, local),
        Direction::Push => (local, remote),
    };
    let mut plan = Plan {
        rejected: source.rejected.clone(),
        ..Plan::default()
    };
    let forced = req.files.is_some() || req.mode == Mode::All;
    for entry in candidates(source, req, &mut plan) {
        let record = synced.get(&entry.path);
        let reason = match target.get(&entry.path) {
            // The target holds something there that it does not sync.
            None if target.refuses(&entry.path) => {
                if !forced && req.mode == Mode::New {
                    plan.left_out_by_mode += 1;
                    continue;
                }
                match decide(direction, &entry.path, record, req.merge, &mut plan) {
                    Some(reason) => reason,
                    None => continue,
                }
            }
            None if forced || matches!(req.mode, Mode::Default | Mode::New) => TransferReason::New,
            None => {
                plan.left_out_by_mode += 1;
                continue;
            }
            Some(existing) => {
                let (l, r) = match direction {
                    Direction::Pull => (existing, entry),
                    Direction::Push => (entry, existing),
                };
                let same = compare(l, r, record, rules) == Sameness::Same;
                if !forced && (same || req.mode == Mode::New) {
                    if same {
                        plan.unchanged += 1;
                    } else {
                        plan.left_out_by_mode += 1;
                    }
                    continue;
                }
                if same {
                    TransferReason::Forced
                } else {
                    let (source_changed, target_changed) = direction.changes(l, r, record, rules);
                    if !forced && target_changed && !source_changed {
                        // Nothing new on the source side: the difference is the target's own
                        // change, to be sent the other way, not undone.
                        plan.newer_on_target.push(entry.path.clone());
                        continue;
                    }
                    if !target_changed {
                        TransferReason::Modified
                    } else {
                        match decide(direction, &entry.path, record, req.merge, &mut plan) {
                            Some(reason) => reason,
                            None => continue,
                        }
                    }
                }
            }
        };
        plan.bytes += entry.size;
        plan.transfers.push(Transfer {
            path: entry.path.clone(),
            size: entry.size,
            reason,
        });
    }
    plan
}
