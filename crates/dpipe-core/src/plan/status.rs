//! Status: is the pipe in sync, and if not, which files differ in which direction.

use std::collections::{BTreeMap, BTreeSet};

use super::change::{
    ChangeRules, Sameness, compare, local_changed_since_sync, remote_changed_since_sync,
};
use crate::filter::Filter;
use crate::manifest::{Manifest, RejectedKey, SyncedFile, refusal_holds_data};

/// What differs between the local and the remote side of a pipe. Lists are sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Whether nothing needs pulling or pushing, nothing conflicts and no key is refused: a
    /// refused key is a file of one side the other side does not get. Empty folder markers
    /// ([`FOLDER_MARKER`](crate::manifest::FOLDER_MARKER)) aside: they hold nothing to sync
    /// (still listed in `rejected`).
    pub in_sync: bool,
    /// Remote-only files, and files only the remote changed since the last sync.
    pub to_pull: Vec<String>,
    /// Local-only files, and files only the local side changed since the last sync.
    pub to_push: Vec<String>,
    /// Files that differ and changed on both sides (or were never synced, or the evidence
    /// contradicts the record), and files of one side where the other holds something it
    /// does not sync (a refused key: a symbolic link, a file/folder clash): a person has to
    /// choose.
    pub conflicts: Vec<String>,
    /// Keys refused as unsafe, from either manifest, sorted by key.
    pub rejected: Vec<RejectedKey>,
    /// Paths (on either side, counted once) that the include/exclude filter left out: not
    /// compared, and never moved by a pull or push with that filter.
    pub left_out_by_filter: usize,
}

/// Compares the two sides among the paths `filter` lets through.
pub fn status(
    local: &Manifest,
    remote: &Manifest,
    synced: &BTreeMap<String, SyncedFile>,
    filter: &Filter,
    rules: ChangeRules,
) -> Status {
    let mut status = Status::default();
    let (paths, left_out): (BTreeSet<&str>, BTreeSet<&str>) = local
        .entries
        .iter()
        .chain(&remote.entries)
        .map(|e| e.path.as_str())
        .partition(|p| filter.matches(p));
    status.left_out_by_filter = left_out.len();
    for path in paths {
        let list = match (local.get(path), remote.get(path)) {
            (Some(_), None) if remote.refuses(path) => &mut status.conflicts,
            (None, Some(_)) if local.refuses(path) => &mut status.conflicts,
            (Some(_), None) => &mut status.to_push,
            (None, Some(_)) => &mut status.to_pull,
            (Some(l), Some(r)) => {
                let record = synced.get(path);
                if compare(l, r, record, rules) == Sameness::Same {
                    continue;
                }
                match (
                    local_changed_since_sync(l, record),
                    remote_changed_since_sync(r, record, rules),
                ) {
                    (true, false) => &mut status.to_push,
                    (false, true) => &mut status.to_pull,
                    _ => &mut status.conflicts,
                }
            }
            (None, None) => continue,
        };
        list.push(path.to_string());
    }
    status.rejected = local
        .rejected
        .iter()
        .chain(&remote.rejected)
        .cloned()
        .collect();
    status.rejected.sort_by(|a, b| a.key.cmp(&b.key));
    status.rejected.dedup();
    status.in_sync = status.to_pull.is_empty()
        && status.to_push.is_empty()
        && status.conflicts.is_empty()
        && !status.rejected.iter().any(|k| refusal_holds_data(k.reason));
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testutil::*;
    use crate::protocol::Protocol;

    #[test]
    fn what_differs_where() {
        let at_sync_l = vec![
            local("same", "s", 1),
            local("mine", "m1", 1),
            local("theirs", "t1", 1),
            local("both", "b1", 1),
        ];
        let at_sync_r = vec![
            s3("same", "s", 2),
            s3("mine", "m1", 2),
            s3("theirs", "t1", 2),
            s3("both", "b1", 2),
        ];
        let synced = synced_all(&manifest(at_sync_l, &[]), &manifest(at_sync_r, &[]));
        let local = manifest(
            vec![
                local("same", "s", 1),
                local("mine", "m2", 3),
                local("theirs", "t1", 1),
                local("both", "bL", 3),
                local("local-new", "x", 3),
                local("untracked", "u1", 3),
            ],
            &[],
        );
        let remote = manifest(
            vec![
                s3("same", "s", 2),
                s3("mine", "m1", 2),
                s3("theirs", "t2", 4),
                s3("both", "bR", 4),
                s3("remote-new", "x", 4),
                s3("untracked", "u2", 4),
            ],
            &["../x"],
        );
        let rules = ChangeRules::for_protocol(Protocol::S3);
        let got = status(&local, &remote, &synced, &Filter::all(), rules);
        assert!(!got.in_sync);
        assert_eq!(got.to_pull, vec!["remote-new", "theirs"]);
        assert_eq!(got.to_push, vec!["local-new", "mine"]);
        assert_eq!(got.conflicts, vec!["both", "untracked"]);
        assert_eq!(got.rejected.len(), 1);
        assert_eq!(got.left_out_by_filter, 0);

        let only_same = Filter::new(Some("same|*.none"), None).unwrap();
        let got = status(&local, &remote, &synced, &only_same, rules);
        assert!(!got.in_sync, "a refused key is not in sync: {got:?}");
        assert_eq!(
            (&got.to_pull, &got.to_push, &got.conflicts),
            (&vec![], &vec![], &vec![]),
            "{got:?}"
        );
        // Every other path, counted once even when both sides have it.
        assert_eq!(got.left_out_by_filter, 6, "{got:?}");
    }

    #[test]
    fn in_sync_after_a_perfect_sync_and_when_empty() {
        for p in [Protocol::S3, Protocol::Ftp, Protocol::Sftp, Protocol::Fs] {
            let local = manifest(vec![local("a", "1", 5), local("b/c d", "22", 6)], &[]);
            let remote = match p {
                Protocol::S3 => manifest(vec![s3("a", "1", 7), multipart("b/c d", "22", 8)], &[]),
                _ => manifest(vec![ftp("a", 1, 7), ftp("b/c d", 2, 8)], &[]),
            };
            let synced = synced_all(&local, &remote);
            let got = status(
                &local,
                &remote,
                &synced,
                &Filter::all(),
                ChangeRules::for_protocol(p),
            );
            assert!(got.in_sync, "{p}: {got:?}");
            assert_eq!(
                got,
                Status {
                    in_sync: true,
                    ..Status::default()
                }
            );
        }
        let empty = Manifest::default();
        let got = status(
            &empty,
            &empty,
            &BTreeMap::new(),
            &Filter::all(),
            ChangeRules::for_protocol(Protocol::S3),
        );
        assert!(got.in_sync);
    }

    /// A file on one side where the other holds a refused key (a symbolic link, the file of a
    /// clash) is a conflict, not a file to move; any refused key but an empty folder marker
    /// keeps the pipe out of sync.
    #[test]
    fn refused_keys_and_what_they_stand_in_for() {
        let rules = ChangeRules::for_protocol(Protocol::S3);
        let local_m = manifest(vec![local("clash", "c", 1)], &["link"]);
        let remote = manifest(vec![s3("link", "l", 1)], &["clash"]);
        let got = status(&local_m, &remote, &BTreeMap::new(), &Filter::all(), rules);
        assert_eq!(got.conflicts, vec!["clash", "link"], "{got:?}");
        assert!(got.to_pull.is_empty() && got.to_push.is_empty(), "{got:?}");
        assert!(!got.in_sync);

        let marker = |reason| Manifest {
            rejected: vec![RejectedKey {
                key: "e/".into(),
                reason,
            }],
            ..Manifest::default()
        };
        let empty = Manifest::default();
        for (reason, in_sync) in [
            (crate::manifest::FOLDER_MARKER, true),
            (crate::manifest::NAMES_A_FOLDER, false),
            ("empty path segment", false),
        ] {
            let got = status(
                &empty,
                &marker(reason),
                &BTreeMap::new(),
                &Filter::all(),
                rules,
            );
            assert_eq!(got.in_sync, in_sync, "{reason}");
            assert_eq!(got.rejected.len(), 1, "listed either way");
        }
    }
}
