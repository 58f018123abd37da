//! Settling a conflict that `merge keep` decided. Keeping one side's version is a decision,
//! not a postponement: the engine records it, so that the next `status` no longer calls the
//! file a conflict but a change in one direction, and the next run moves what the decision
//! needs (and nothing when it is repeated).
//!
//! * `pull --merge keep` keeps the local version: the remote object as listed now counts as
//!   synced, the local file as changed since. `status` lists it to push; a pull leaves it
//!   alone; a push sends it.
//! * `push --merge keep` keeps the version on storage: the local file as scanned now counts
//!   as synced, the object as changed since. `status` lists it to pull; a pull brings it;
//!   a push leaves it alone and, as for any remote change not pulled yet, is refused until
//!   the pull (or goes ahead with mode `all`).

use crate::manifest::{ManifestEntry, SyncedFile};

/// The record of a conflict settled in favour of the local version: the `remote` object as
/// listed counts as the synced version. Its content hash is the object's stored SHA-256 when
/// the listing has one; else it is left empty, which no file's hash equals, so the local file
/// counts as changed since — what the decision means. No local time is recorded: the local
/// file is not the synced version.
pub fn keeping_local(remote: &ManifestEntry) -> SyncedFile {
    SyncedFile {
        path: remote.path.clone(),
        size: remote.size,
        sha256: remote.sha256.clone().unwrap_or_default(),
        local_modified: None,
        remote_etag: remote.etag.clone(),
        remote_modified: remote.modified,
    }
}

/// The record of a conflict settled in favour of the version on storage: the `local` file as
/// scanned counts as the synced version and nothing of the object is recorded, so the object
/// counts as changed since. `None` for a local file without a hash (a scan hashes every
/// file it compares, so a conflicting file has one).
pub fn keeping_remote(local: &ManifestEntry) -> Option<SyncedFile> {
    Some(SyncedFile {
        path: local.path.clone(),
        size: local.size,
        sha256: local.sha256.clone()?,
        local_modified: local.modified,
        remote_etag: None,
        remote_modified: None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::filter::Filter;
    use crate::manifest::Manifest;
    use crate::plan::testutil::*;
    use crate::plan::{ChangeRules, Merge, Mode, PlanRequest, plan_pull, plan_push, status};
    use crate::protocol::Protocol;

    /// `c` synced as "c1", then changed on both sides; as each protocol lists it.
    fn conflict(p: Protocol) -> (Manifest, Manifest, BTreeMap<String, SyncedFile>) {
        let object = |content: &str, secs| match p {
            Protocol::S3 => s3("c", content, secs),
            _ => ftp("c", content.len(), secs),
        };
        let synced = synced_all(
            &manifest(vec![local("c", "c1", 1)], &[]),
            &manifest(vec![object("c1", 2)], &[]),
        );
        let local = manifest(vec![local("c", "cL", 300)], &[]);
        let remote = manifest(vec![object("cR", 400)], &[]);
        (local, remote, synced)
    }

    /// `synced` with `record` in place of the path's record.
    fn with(
        mut synced: BTreeMap<String, SyncedFile>,
        record: SyncedFile,
    ) -> BTreeMap<String, SyncedFile> {
        synced.insert(record.path.clone(), record);
        synced
    }

    /// A request in `mode` that keeps the target's version of a conflict.
    fn keep(mode: Mode) -> PlanRequest {
        PlanRequest {
            merge: Some(Merge::Keep),
            ..req(mode)
        }
    }

    #[test]
    fn a_kept_conflict_becomes_a_change_in_one_direction() {
        for p in [Protocol::S3, Protocol::Ftp, Protocol::Sftp, Protocol::Fs] {
            let rules = ChangeRules::for_protocol(p);
            let (local, remote, synced) = conflict(p);
            let all = Filter::all();
            assert_eq!(
                status(&local, &remote, &synced, &all, rules).conflicts,
                ["c"]
            );

            // pull --merge keep: the local version is the one to push.
            let plan = plan_pull(&local, &remote, &synced, &keep(Mode::Default), rules);
            assert_eq!(plan.kept, ["c"], "{p}");
            let settled = with(synced.clone(), keeping_local(remote.get("c").unwrap()));
            let now = status(&local, &remote, &settled, &all, rules);
            assert_eq!(
                (now.to_push, now.conflicts.len()),
                (vec!["c".to_string()], 0),
                "{p}"
            );
            let pull = plan_pull(&local, &remote, &settled, &req(Mode::Default), rules);
            assert!(
                pull.transfers.is_empty() && !pull.is_blocked(),
                "{p}: {pull:?}"
            );
            let push = plan_push(&local, &remote, &settled, &req(Mode::Default), rules);
            assert_eq!(push.transfers.len(), 1, "{p}: {push:?}");
            assert!(!push.is_blocked(), "{p}: {push:?}");

            // push --merge keep: the version on storage is the one to pull.
            let plan = plan_push(&local, &remote, &synced, &keep(Mode::Default), rules);
            assert_eq!(plan.kept, ["c"], "{p}");
            assert!(
                !plan.is_blocked(),
                "{p}: a kept file is not remote news: {plan:?}"
            );
            let settled = with(synced, keeping_remote(local.get("c").unwrap()).unwrap());
            let now = status(&local, &remote, &settled, &all, rules);
            assert_eq!(
                (now.to_pull, now.conflicts.len()),
                (vec!["c".to_string()], 0),
                "{p}"
            );
            let pull = plan_pull(&local, &remote, &settled, &req(Mode::Default), rules);
            assert_eq!(pull.transfers.len(), 1, "{p}: {pull:?}");
            assert!(!pull.is_blocked(), "{p}: {pull:?}");
        }
    }

    #[test]
    fn a_refused_push_names_each_file_once() {
        let rules = ChangeRules::for_protocol(Protocol::S3);
        let (local, remote, synced) = conflict(Protocol::S3);
        for mode in [Mode::Default, Mode::All] {
            let plan = plan_push(&local, &remote, &synced, &req(mode), rules);
            assert_eq!(plan.conflicts.len(), 1, "{mode:?}");
            assert!(plan.remote_ahead.is_empty(), "{mode:?}: {plan:?}");
            assert!(plan.is_blocked(), "{mode:?}");
        }
        let overwrite = PlanRequest {
            merge: Some(Merge::Overwrite),
            ..req(Mode::Default)
        };
        let plan = plan_push(&local, &remote, &synced, &overwrite, rules);
        assert_eq!(plan.transfers.len(), 1);
        assert!(!plan.is_blocked(), "{plan:?}");
    }
}
