//! Planning a push: local → remote. Two safety rules:
//! * the push as a whole is refused while the remote has changes not yet pulled
//!   ([`Plan::remote_ahead`]), unless mode `all`; a file the per-file plan already decides
//!   (a conflict, or a conflict `merge` settled) is not counted again;
//! * a transfer that would overwrite a remote file changed since the last sync (or never
//!   synced) with different content is a conflict — in every mode — unless `merge` says how.

use std::collections::{BTreeMap, BTreeSet};

use super::change::{ChangeRules, Sameness, compare, remote_changed_since_sync};
use super::engine::{Direction, plan};
use super::{Mode, Plan, PlanRequest};
use crate::filter::Filter;
use crate::manifest::{Manifest, SyncedFile};

/// What a push would move from `local` to `remote`, given the records of the last sync
/// (keyed by path). `rejected` carries the local manifest's refused keys; `remote_ahead`
/// lists the filtered remote files a pull would bring (changed since the sync, or never
/// pulled, and different from the local file), whatever `files` or `nrecent` say, except
/// those the plan already decides.
pub fn plan_push(
    local: &Manifest,
    remote: &Manifest,
    synced: &BTreeMap<String, SyncedFile>,
    req: &PlanRequest,
    rules: ChangeRules,
) -> Plan {
    let mut plan = plan(Direction::Push, local, remote, synced, req, rules);
    let decided: BTreeSet<&str> = plan
        .conflicts
        .iter()
        .map(|c| c.path.as_str())
        .chain(plan.kept.iter().map(String::as_str))
        .chain(plan.transfers.iter().map(|t| t.path.as_str()))
        .collect();
    plan.remote_ahead = remote_ahead(local, remote, synced, &req.filter, rules)
        .into_iter()
        .filter(|path| !decided.contains(path.as_str()))
        .collect();
    plan.remote_ahead_allowed = req.mode == Mode::All;
    plan
}

/// Remote files changed since their last sync (or never synced) whose content the local side
/// does not have.
fn remote_ahead(
    local: &Manifest,
    remote: &Manifest,
    synced: &BTreeMap<String, SyncedFile>,
    filter: &Filter,
    rules: ChangeRules,
) -> Vec<String> {
    remote
        .entries
        .iter()
        .filter(|r| filter.matches(&r.path))
        .filter(|r| {
            let record = synced.get(&r.path);
            remote_changed_since_sync(r, record, rules)
                && local
                    .get(&r.path)
                    .is_none_or(|l| compare(l, r, record, rules) != Sameness::Same)
        })
        .map(|r| r.path.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testutil::*;
    use crate::plan::{Conflict, ConflictReason::*, Merge, TransferReason as R};
    use crate::protocol::Protocol;

    fn s3_rules() -> ChangeRules {
        ChangeRules::for_protocol(Protocol::S3)
    }

    /// Mode, merge, expected transfers, conflicts, kept, blocked.
    type MergeRow = (Mode, Option<Merge>, Vec<&'static str>, usize, usize, bool);

    /// Mode, expected transfers, unchanged count, count left out by the mode.
    type ModeRow = (Mode, Vec<(&'static str, R)>, usize, usize);

    fn paths(plan: &Plan) -> Vec<(&str, R)> {
        plan.transfers
            .iter()
            .map(|t| (t.path.as_str(), t.reason))
            .collect()
    }

    /// Synced: `same`, `edited`, `gone`. Since then: `edited` changed locally (same size),
    /// `gone` deleted locally, `new` created locally. The remote did not change.
    fn fixture() -> (Manifest, Manifest, BTreeMap<String, SyncedFile>) {
        let remote = manifest(
            vec![
                s3("same", "s", 5),
                dpipe_upload("edited", "e1", 5),
                multipart("gone", "g", 5),
            ],
            &[],
        );
        let before = manifest(
            vec![
                local("same", "s", 1),
                local("edited", "e1", 1),
                local("gone", "g", 1),
            ],
            &[],
        );
        let synced = synced_all(&before, &remote);
        let local = manifest(
            vec![
                local("same", "s", 1),
                local("edited", "e2", 1),
                local("new", "nn", 9),
            ],
            &[],
        );
        (local, remote, synced)
    }

    #[test]
    fn every_mode() {
        let (local, remote, synced) = fixture();
        let cases: Vec<ModeRow> = vec![
            (
                Mode::Default,
                vec![("edited", R::Modified), ("new", R::New)],
                1,
                0,
            ),
            (Mode::New, vec![("new", R::New)], 1, 1),
            (Mode::Mod, vec![("edited", R::Modified)], 1, 1),
            (
                Mode::All,
                vec![
                    ("edited", R::Modified),
                    ("new", R::New),
                    ("same", R::Forced),
                ],
                0,
                0,
            ),
        ];
        for (mode, expected, unchanged, left_out) in cases {
            let plan = plan_push(&local, &remote, &synced, &req(mode), s3_rules());
            assert_eq!(paths(&plan), expected, "{mode:?}");
            assert_eq!(
                (plan.unchanged, plan.left_out_by_mode),
                (unchanged, left_out),
                "{mode:?}"
            );
            assert_eq!(
                plan.bytes,
                plan.transfers.iter().map(|t| t.size).sum::<u64>()
            );
            assert!(
                plan.remote_ahead.is_empty(),
                "{mode:?}: a local deletion is not remote news"
            );
            assert!(!plan.is_blocked(), "{mode:?}");
        }
    }

    #[test]
    fn idempotent_after_a_perfect_sync() {
        for p in [Protocol::S3, Protocol::Ftp, Protocol::Sftp, Protocol::Fs] {
            let local = manifest(vec![local("a", "1", 5), local("d/b", "22", 6)], &[]);
            let remote = match p {
                Protocol::S3 => manifest(vec![s3("a", "1", 7), multipart("d/b", "22", 8)], &[]),
                _ => manifest(vec![ftp("a", 1, 7), ftp("d/b", 2, 8)], &[]),
            };
            let synced = synced_all(&local, &remote);
            let plan = plan_push(
                &local,
                &remote,
                &synced,
                &req(Mode::Default),
                ChangeRules::for_protocol(p),
            );
            assert!(plan.is_noop() && !plan.is_blocked(), "{p}: {plan:?}");
        }
        let empty = Manifest::default();
        let plan = plan_push(
            &empty,
            &empty,
            &BTreeMap::new(),
            &req(Mode::Default),
            s3_rules(),
        );
        assert_eq!(plan, Plan::default());
    }

    #[test]
    fn remote_ahead_blocks_except_mode_all() {
        let (local, mut remote, synced) = fixture();
        remote.entries.push(s3("theirs", "t", 9)); // never pulled
        let i = remote
            .entries
            .iter()
            .position(|e| e.path == "gone")
            .unwrap();
        remote.entries[i] = s3("gone", "g2", 9); // changed remotely since the sync
        remote.entries.sort_by(|a, b| a.path.cmp(&b.path));
        let cases: Vec<(Mode, Option<Merge>, bool)> = vec![
            (Mode::Default, None, true),
            (Mode::Default, Some(Merge::Overwrite), true),
            (Mode::New, None, true),
            (Mode::Mod, None, true),
            (Mode::All, None, false),
        ];
        for (mode, merge, blocked) in cases {
            let mut r = req(mode);
            r.merge = merge;
            let plan = plan_push(&local, &remote, &synced, &r, s3_rules());
            assert_eq!(plan.remote_ahead, vec!["gone", "theirs"], "{mode:?}");
            assert_eq!(plan.is_blocked(), blocked, "{mode:?} {merge:?}");
            assert!(plan.conflicts.is_empty(), "{mode:?}");
        }
        // The filter narrows what counts as remote news.
        let plan = plan_push(
            &local,
            &remote,
            &synced,
            &filtered(None, Some("theirs|gone")),
            s3_rules(),
        );
        assert!(plan.remote_ahead.is_empty() && !plan.is_blocked());
    }

    #[test]
    fn overwriting_a_remote_change_conflicts_in_every_mode() {
        let (mut mine, mut remote, synced) = fixture();
        // `edited` changed on both sides; `fresh` exists on both, never synced, differs.
        let i = remote
            .entries
            .iter()
            .position(|e| e.path == "edited")
            .unwrap();
        remote.entries[i] = dpipe_upload("edited", "e3", 9);
        remote.entries.push(s3("fresh", "theirs", 9));
        remote.entries.sort_by(|a, b| a.path.cmp(&b.path));
        mine.entries.push(local("fresh", "mine", 9));
        mine.entries.sort_by(|a, b| a.path.cmp(&b.path));
        let conflicts = vec![
            Conflict {
                path: "edited".into(),
                reason: RemoteChanged,
            },
            Conflict {
                path: "fresh".into(),
                reason: RemoteUntracked,
            },
        ];
        let cases: Vec<MergeRow> = vec![
            (Mode::Default, None, vec!["new"], 2, 0, true),
            (Mode::All, None, vec!["new", "same"], 2, 0, true),
            (
                Mode::All,
                Some(Merge::Keep),
                vec!["new", "same"],
                0,
                2,
                false,
            ),
            (
                Mode::All,
                Some(Merge::Overwrite),
                vec!["edited", "fresh", "new", "same"],
                0,
                0,
                false,
            ),
            (
                Mode::Default,
                Some(Merge::Overwrite),
                vec!["edited", "fresh", "new"],
                0,
                0,
                false,
            ),
        ];
        for (mode, merge, expected, n_conflicts, kept, blocked) in cases {
            let mut r = req(mode);
            r.merge = merge;
            let plan = plan_push(&mine, &remote, &synced, &r, s3_rules());
            let got: Vec<&str> = plan.transfers.iter().map(|t| t.path.as_str()).collect();
            assert_eq!(got, expected, "{mode:?} {merge:?}");
            assert_eq!(plan.conflicts.len(), n_conflicts, "{mode:?} {merge:?}");
            assert_eq!(plan.kept.len(), kept, "{mode:?} {merge:?}");
            assert_eq!(plan.is_blocked(), blocked, "{mode:?} {merge:?}");
            if n_conflicts > 0 {
                assert_eq!(plan.conflicts, conflicts);
            }
            // Both files are decided per file (a conflict, kept or overwritten): a refusal
            // names each once, and `--merge` alone lets the push go ahead.
            assert!(plan.remote_ahead.is_empty(), "{mode:?} {merge:?}");
        }
    }

    #[test]
    fn remote_only_changes_are_left_for_pull() {
        let (mine, mut remote, synced) = fixture();
        let i = remote
            .entries
            .iter()
            .position(|e| e.path == "same")
            .unwrap();
        remote.entries[i] = s3("same", "s2", 9);
        let cases: Vec<(Mode, Option<Merge>, usize, usize, usize)> = vec![
            (Mode::Default, None, 1, 0, 0),
            (Mode::All, None, 0, 1, 0),
            (Mode::All, Some(Merge::Keep), 0, 0, 1),
        ];
        for (mode, merge, newer, n_conflicts, kept) in cases {
            let mut r = req(mode);
            r.merge = merge;
            let plan = plan_push(&mine, &remote, &synced, &r, s3_rules());
            assert_eq!(plan.newer_on_target.len(), newer, "{mode:?} {merge:?}");
            assert_eq!(plan.conflicts.len(), n_conflicts, "{mode:?} {merge:?}");
            assert_eq!(plan.kept.len(), kept, "{mode:?} {merge:?}");
            let ahead: &[&str] = if newer == 1 { &["same"] } else { &[] };
            assert_eq!(plan.remote_ahead, ahead, "{mode:?} {merge:?}");
            assert!(!plan.transfers.iter().any(|t| t.path == "same"), "{mode:?}");
            assert_eq!(plan.is_blocked(), mode != Mode::All || merge.is_none());
        }
    }

    #[test]
    fn ftp_remote_touch_within_window_is_not_news() {
        let l = local("f", "abc", 1);
        let at_sync = manifest(vec![ftp("f", 3, 100)], &[]);
        let local_m = manifest(vec![l], &[]);
        let synced = synced_all(&local_m, &at_sync);
        let rules = ChangeRules::for_protocol(Protocol::Ftp);
        for (secs, size, ahead) in [
            (100, 3, false),
            (159, 3, false),
            (161, 3, true),
            (100, 4, true),
        ] {
            let remote = manifest(vec![ftp("f", size, secs)], &[]);
            let plan = plan_push(&local_m, &remote, &synced, &req(Mode::Default), rules);
            assert_eq!(
                !plan.remote_ahead.is_empty(),
                ahead,
                "mtime {secs} size {size}"
            );
        }
    }

    #[test]
    fn identical_untracked_remote_is_neither_ahead_nor_moved() {
        let local = manifest(vec![local("a", "x", 1)], &[]);
        let remote = manifest(vec![s3("a", "x", 2)], &[]);
        let plan = plan_push(
            &local,
            &remote,
            &BTreeMap::new(),
            &req(Mode::Default),
            s3_rules(),
        );
        assert!(plan.is_noop());
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn files_nrecent_and_rejected() {
        let (mut local, remote, synced) = fixture();
        local.rejected = manifest(vec![], &["bad/../../x"]).rejected;
        let plan = plan_push(
            &local,
            &remote,
            &synced,
            &files(&["same", "nope"], None),
            s3_rules(),
        );
        assert_eq!(paths(&plan), vec![("same", R::Forced)]);
        assert_eq!(plan.unknown_files, vec!["nope"]);
        assert_eq!(plan.rejected.len(), 1);
        assert!(!plan.is_blocked());
        let mut r = req(Mode::Default);
        r.nrecent = Some(1);
        let plan = plan_push(&local, &remote, &synced, &r, s3_rules());
        assert_eq!(paths(&plan), vec![("new", R::New)]);
    }

    /// A remote key refused where the local side has a file (the file of a file/folder clash
    /// on storage): a remote change, never overwritten in silence.
    #[test]
    fn a_refused_remote_key_at_a_local_file_is_a_remote_change() {
        let local_m = manifest(vec![local("clash", "mine", 1)], &[]);
        let remote = manifest(vec![s3("clash/inner", "i", 1)], &["clash"]);
        let plan = plan_push(
            &local_m,
            &remote,
            &BTreeMap::new(),
            &req(Mode::Default),
            s3_rules(),
        );
        assert!(plan.transfers.is_empty(), "{plan:?}");
        let conflicts: Vec<(&str, crate::plan::ConflictReason)> = plan
            .conflicts
            .iter()
            .map(|c| (c.path.as_str(), c.reason))
            .collect();
        assert_eq!(conflicts, [("clash", RemoteUntracked)]);
        let mut overwrite = req(Mode::Default);
        overwrite.merge = Some(Merge::Overwrite);
        let plan = plan_push(&local_m, &remote, &BTreeMap::new(), &overwrite, s3_rules());
        assert_eq!(paths(&plan), vec![("clash", R::Modified)]);
    }
}
