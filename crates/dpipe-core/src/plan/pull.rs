//! Planning a pull: remote → local. Safety rule: a local file that changed since the last sync
//! (or that dpipe never synced) and differs from the remote is a conflict, never overwritten
//! unless `merge` says how.

use std::collections::BTreeMap;

use super::engine::{Direction, plan};
use super::{ChangeRules, Plan, PlanRequest};
use crate::manifest::{Manifest, SyncedFile};

/// What a pull would move from `remote` to `local`, given the records of the last sync
/// (keyed by path). `rejected` carries the remote manifest's refused keys: the other files
/// are still planned. `remote_ahead` is always empty.
pub fn plan_pull(
    local: &Manifest,
    remote: &Manifest,
    synced: &BTreeMap<String, SyncedFile>,
    req: &PlanRequest,
    rules: ChangeRules,
) -> Plan {
    plan(Direction::Pull, local, remote, synced, req, rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{ManifestEntry, RejectedKey};
    use crate::plan::testutil::*;
    use crate::plan::{Conflict, ConflictReason::*, Merge, Mode, Transfer, TransferReason as R};
    use crate::protocol::Protocol;

    fn s3_rules() -> ChangeRules {
        ChangeRules::for_protocol(Protocol::S3)
    }

    /// Local: `same` (synced), `edited` (remote changed since sync), `gone` (deleted locally);
    /// remote additionally has `new.csv`.
    fn fixture() -> (Manifest, Manifest, BTreeMap<String, SyncedFile>) {
        let local_v1 = vec![
            local("same.csv", "s", 10),
            local("edited.csv", "e1", 10),
            local("gone.csv", "g", 10),
        ];
        let remote_v1 = vec![
            s3("same.csv", "s", 11),
            s3("edited.csv", "e1", 11),
            s3("gone.csv", "g", 11),
        ];
        let synced = synced_all(&manifest(local_v1.clone(), &[]), &manifest(remote_v1, &[]));
        let local = manifest(vec![local_v1[0].clone(), local_v1[1].clone()], &[]);
        let remote = manifest(
            vec![
                s3("same.csv", "s", 11),
                s3("edited.csv", "e2", 50), // same size, new content
                s3("gone.csv", "g", 11),
                s3("new.csv", "nnn", 60),
            ],
            &[],
        );
        (local, remote, synced)
    }

    /// Mode, expected transfers, unchanged count, count left out by the mode.
    type ModeRow = (Mode, Vec<(&'static str, R)>, usize, usize);

    /// Request, expected transfers, conflicts, files newer on the target.
    type RequestRow = (PlanRequest, Vec<(&'static str, R)>, usize, usize);

    /// Request, expected transfers, conflicts, kept files.
    type DecisionRow = (
        PlanRequest,
        Vec<(&'static str, R)>,
        Vec<Conflict>,
        Vec<String>,
    );

    fn paths(plan: &Plan) -> Vec<(&str, R)> {
        plan.transfers
            .iter()
            .map(|t| (t.path.as_str(), t.reason))
            .collect()
    }

    #[test]
    fn every_mode() {
        let (local, remote, synced) = fixture();
        let cases: Vec<ModeRow> = vec![
            (
                Mode::Default,
                vec![
                    ("edited.csv", R::Modified),
                    ("gone.csv", R::New),
                    ("new.csv", R::New),
                ],
                1,
                0,
            ),
            (
                Mode::New,
                vec![("gone.csv", R::New), ("new.csv", R::New)],
                1,
                1,
            ),
            (Mode::Mod, vec![("edited.csv", R::Modified)], 1, 2),
            (
                Mode::All,
                vec![
                    ("edited.csv", R::Modified),
                    ("gone.csv", R::New),
                    ("new.csv", R::New),
                    ("same.csv", R::Forced),
                ],
                0,
                0,
            ),
        ];
        for (mode, expected, unchanged, left_out) in cases {
            let plan = plan_pull(&local, &remote, &synced, &req(mode), s3_rules());
            assert_eq!(paths(&plan), expected, "{mode:?}");
            assert_eq!(
                (plan.unchanged, plan.left_out_by_mode),
                (unchanged, left_out),
                "{mode:?}"
            );
            let bytes: u64 = plan.transfers.iter().map(|t| t.size).sum();
            assert_eq!(plan.bytes, bytes, "{mode:?}");
            assert!(!plan.is_blocked(), "{mode:?}");
        }
    }

    #[test]
    fn idempotent_after_a_perfect_sync() {
        let protocols = [Protocol::S3, Protocol::Ftp, Protocol::Sftp, Protocol::Fs];
        for p in protocols {
            let local = manifest(vec![local("a", "1", 5), local("d/b", "22", 6)], &[]);
            let remote = match p {
                Protocol::S3 => manifest(vec![s3("a", "1", 7), multipart("d/b", "22", 8)], &[]),
                _ => manifest(vec![ftp("a", 1, 7), ftp("d/b", 2, 8)], &[]),
            };
            let synced = synced_all(&local, &remote);
            let rules = ChangeRules::for_protocol(p);
            let plan = plan_pull(&local, &remote, &synced, &req(Mode::Default), rules);
            assert!(plan.is_noop(), "{p}: {plan:?}");
            assert_eq!(plan.unchanged, 2, "{p}");
        }
        let empty = Manifest::default();
        let plan = plan_pull(
            &empty,
            &empty,
            &BTreeMap::new(),
            &req(Mode::All),
            s3_rules(),
        );
        assert_eq!(plan, Plan::default());
    }

    #[test]
    fn same_size_edit_with_same_mtime_is_detected() {
        let local_m = manifest(vec![local("f", "aaaa", 10)], &[]);
        let remote_m = manifest(vec![s3("f", "bbbb", 10)], &[]);
        let synced = synced_all(&local_m, &manifest(vec![s3("f", "aaaa", 10)], &[]));
        let plan = plan_pull(
            &local_m,
            &remote_m,
            &synced,
            &req(Mode::Default),
            s3_rules(),
        );
        assert_eq!(paths(&plan), vec![("f", R::Modified)]);
    }

    #[test]
    fn ftp_remote_touched_outside_window_is_pulled() {
        let l = local("f", "abc", 10);
        let synced = synced_all(
            &manifest(vec![l.clone()], &[]),
            &manifest(vec![ftp("f", 3, 100)], &[]),
        );
        let rules = ChangeRules::for_protocol(Protocol::Ftp);
        for (secs, expected) in [(150, vec![]), (161, vec![("f", R::Modified)])] {
            let remote = manifest(vec![ftp("f", 3, secs)], &[]);
            let local_m = manifest(vec![l.clone()], &[]);
            let plan = plan_pull(&local_m, &remote, &synced, &req(Mode::Default), rules);
            assert_eq!(paths(&plan), expected, "remote mtime {secs}");
        }
    }

    #[test]
    fn local_edits_conflict_unless_merge() {
        // Both sides edited `f` since the sync; `u` exists locally, untracked, and differs.
        let base_l = local("f", "v1", 10);
        let synced = synced_all(
            &manifest(vec![base_l], &[]),
            &manifest(vec![s3("f", "v1", 10)], &[]),
        );
        let local_m = manifest(vec![local("f", "mine", 20), local("u", "x", 20)], &[]);
        let remote_m = manifest(vec![s3("f", "theirs", 30), s3("u", "y", 30)], &[]);
        let conflicts = vec![
            Conflict {
                path: "f".into(),
                reason: LocalChanged,
            },
            Conflict {
                path: "u".into(),
                reason: LocalUntracked,
            },
        ];
        let cases: Vec<(Option<Merge>, usize, usize, usize)> = vec![
            (None, 0, 2, 0),
            (Some(Merge::Keep), 0, 0, 2),
            (Some(Merge::Overwrite), 2, 0, 0),
        ];
        for (merge, transfers, n_conflicts, kept) in cases {
            let mut r = req(Mode::Default);
            r.merge = merge;
            let plan = plan_pull(&local_m, &remote_m, &synced, &r, s3_rules());
            assert_eq!(plan.transfers.len(), transfers, "{merge:?}");
            assert_eq!(plan.conflicts.len(), n_conflicts, "{merge:?}");
            assert_eq!(plan.kept.len(), kept, "{merge:?}");
            assert_eq!(plan.is_blocked(), merge.is_none(), "{merge:?}");
            if merge.is_none() {
                assert_eq!(plan.conflicts, conflicts);
            }
        }
        // A local edit identical to the remote's is no conflict, and nothing to move.
        let local_m = manifest(vec![local("f", "same-edit", 20)], &[]);
        let remote_m = manifest(vec![s3("f", "same-edit", 30)], &[]);
        let plan = plan_pull(&local_m, &remote_m, &synced, &req(Mode::All), s3_rules());
        assert_eq!(paths(&plan), vec![("f", R::Forced)]);
        assert!(!plan.is_blocked());
    }

    #[test]
    fn local_only_edits_are_left_for_push() {
        // `f` (S3) and `g` (FTP, same size) were edited locally; the remote did not change.
        for p in [Protocol::S3, Protocol::Ftp] {
            let at_sync = local("f", "v1", 10);
            let remote = match p {
                Protocol::S3 => manifest(vec![s3("f", "v1", 10)], &[]),
                _ => manifest(vec![ftp("f", 2, 10)], &[]),
            };
            let synced = synced_all(&manifest(vec![at_sync], &[]), &remote);
            let local_m = manifest(vec![local("f", "v2", 20)], &[]);
            let rules = ChangeRules::for_protocol(p);
            let cases: Vec<RequestRow> = vec![
                (req(Mode::Default), vec![], 0, 1),
                (req(Mode::Mod), vec![], 0, 1),
                (req(Mode::All), vec![], 1, 0),
                (files(&["f"], None), vec![], 1, 0),
                (
                    files(&["f"], Some(Merge::Overwrite)),
                    vec![("f", R::Modified)],
                    0,
                    0,
                ),
            ];
            for (r, expected, n_conflicts, newer) in cases {
                let plan = plan_pull(&local_m, &remote, &synced, &r, rules);
                assert_eq!(paths(&plan), expected, "{p} {r:?}");
                assert_eq!(plan.conflicts.len(), n_conflicts, "{p} {r:?}");
                assert_eq!(plan.newer_on_target.len(), newer, "{p} {r:?}");
                assert_eq!(plan.is_blocked(), n_conflicts > 0, "{p} {r:?}");
            }
        }
    }

    #[test]
    fn files_are_forced_but_still_safe() {
        let (mut local, remote, synced) = fixture();
        local.entries[0] = local_edit(&local.entries[0]); // edited.csv
        let r = files(
            &[
                "same.csv",
                "same.csv",
                "missing.csv",
                "new.csv",
                "edited.csv",
            ],
            None,
        );
        let plan = plan_pull(&local, &remote, &synced, &r, s3_rules());
        assert_eq!(
            paths(&plan),
            vec![("new.csv", R::New), ("same.csv", R::Forced)]
        );
        assert_eq!(plan.unknown_files, vec!["missing.csv"]);
        assert_eq!(plan.conflicts.len(), 1);
        let r = files(&["edited.csv"], Some(Merge::Overwrite));
        let plan = plan_pull(&local, &remote, &synced, &r, s3_rules());
        assert_eq!(paths(&plan), vec![("edited.csv", R::Modified)]);
        // The filter applies to `files` too.
        let mut r = files(&["new.csv", "same.csv"], None);
        r.filter = crate::filter::Filter::new(None, Some("new*")).unwrap();
        let plan = plan_pull(&local, &remote, &synced, &r, s3_rules());
        assert_eq!(paths(&plan), vec![("same.csv", R::Forced)]);
        assert_eq!(plan.filtered_files, vec!["new.csv"]);
    }

    fn local_edit(e: &ManifestEntry) -> ManifestEntry {
        local(&e.path, "local edit", 99)
    }

    #[test]
    fn filters_restrict_everything() {
        let (local, remote, synced) = fixture();
        let cases: Vec<(Option<&str>, Option<&str>, Vec<&str>)> = vec![
            (Some("new*"), None, vec!["new.csv"]),
            (None, Some("new*|gone*"), vec!["edited.csv"]),
            (Some("*.csv"), Some("*.csv"), vec![]),
            (Some("*.txt"), None, vec![]),
        ];
        for (inc, exc, expected) in cases {
            let plan = plan_pull(&local, &remote, &synced, &filtered(inc, exc), s3_rules());
            let got: Vec<&str> = plan.transfers.iter().map(|t| t.path.as_str()).collect();
            assert_eq!(got, expected, "{inc:?} {exc:?}");
        }
    }

    #[test]
    fn nrecent_takes_the_newest_candidates() {
        let remote = manifest(
            vec![
                s3("a", "1", 30),
                s3("b", "2", 30),
                s3("c", "3", 10),
                s3("d", "4", 40),
                ManifestEntry {
                    modified: None,
                    ..s3("e", "5", 0)
                },
            ],
            &[],
        );
        let empty = Manifest::default();
        let cases: Vec<(usize, Vec<&str>)> = vec![
            (0, vec![]),
            (1, vec!["d"]),
            (2, vec!["a", "d"]),
            (3, vec!["a", "b", "d"]),
            (5, vec!["a", "b", "c", "d", "e"]),
            (9, vec!["a", "b", "c", "d", "e"]),
        ];
        for (n, expected) in cases {
            let mut r = req(Mode::Default);
            r.nrecent = Some(n);
            let plan = plan_pull(&empty, &remote, &BTreeMap::new(), &r, s3_rules());
            let got: Vec<&str> = plan.transfers.iter().map(|t| t.path.as_str()).collect();
            assert_eq!(got, expected, "nrecent {n}");
        }
    }

    #[test]
    fn rejected_keys_are_reported_while_others_sync() {
        let remote = manifest(vec![s3("ok.csv", "1", 1)], &["../evil", "a/../../b"]);
        let plan = plan_pull(
            &Manifest::default(),
            &remote,
            &BTreeMap::new(),
            &req(Mode::Default),
            s3_rules(),
        );
        assert_eq!(paths(&plan), vec![("ok.csv", R::New)]);
        let keys: Vec<&str> = plan
            .rejected
            .iter()
            .map(|k: &RejectedKey| k.key.as_str())
            .collect();
        assert_eq!(keys, vec!["../evil", "a/../../b"]);
        assert!(!plan.is_blocked());
        assert_eq!(
            plan.transfers[0],
            Transfer {
                path: "ok.csv".into(),
                size: 1,
                reason: R::New
            }
        );
    }

    /// A symbolic link (a refused key of the local folder) where the remote has a file: a
    /// local change, refused unless `merge` decides; `mode new` leaves it out.
    #[test]
    fn a_refused_local_key_at_a_remote_file_is_a_local_change() {
        let local_m = manifest(vec![local("other", "o", 1)], &["link.csv"]);
        let remote = manifest(
            vec![
                s3("link.csv", "r", 2),
                s3("other", "o", 2),
                s3("new", "n", 2),
            ],
            &[],
        );
        let synced = synced_all(&local_m, &remote);
        let mut overwrite = req(Mode::Default);
        overwrite.merge = Some(Merge::Overwrite);
        let mut keep = req(Mode::Default);
        keep.merge = Some(Merge::Keep);
        let conflict = vec![Conflict {
            path: "link.csv".into(),
            reason: LocalUntracked,
        }];
        let cases: Vec<DecisionRow> = vec![
            (
                req(Mode::Default),
                vec![("new", R::New)],
                conflict.clone(),
                vec![],
            ),
            (
                overwrite,
                vec![("link.csv", R::Modified), ("new", R::New)],
                vec![],
                vec![],
            ),
            (keep, vec![("new", R::New)], vec![], vec!["link.csv".into()]),
            (req(Mode::New), vec![("new", R::New)], vec![], vec![]),
            (files(&["link.csv"], None), vec![], conflict, vec![]),
        ];
        for (request, transfers, conflicts, kept) in cases {
            let plan = plan_pull(&local_m, &remote, &synced, &request, s3_rules());
            assert_eq!(paths(&plan), transfers, "{request:?}");
            assert_eq!(plan.conflicts, conflicts, "{request:?}");
            assert_eq!(plan.kept, kept, "{request:?}");
        }
    }
}
