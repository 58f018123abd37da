//! The pure sync planner: local manifest × remote manifest × last-synced state → what `pull`
//! or `push` would move, what it must refuse, and why. No I/O: the engine in `dpipe-client`
//! scans, calls these functions, and carries out (or previews) the [`Plan`].
//!
//! * [`change`]: content comparison and "changed since the last sync", per protocol.
//! * [`pull`] / [`push`]: the two plans, with their safety rules (no local edit lost on pull,
//!   no remote change lost on push).
//! * [`mod@orphans`]: files present on one side only, for `remove-orphans`.
//! * [`mod@status`]: whether a pipe is in sync, and what differs in which direction.
//! * [`mod@settle`]: the sync records that end a conflict decided by `merge keep`.
//!
//! Ordering is deterministic everywhere: every list is sorted by path.

pub mod change;
mod engine;
pub mod orphans;
pub mod pull;
pub mod push;
pub mod settle;
pub mod status;
#[cfg(test)]
mod testutil;

pub use change::{
    ChangeRules, Sameness, compare, is_single_part_etag, local_changed_since_sync, md5_may_decide,
    remote_changed_since_sync,
};
pub use orphans::{Orphans, orphans};
pub use pull::plan_pull;
pub use push::plan_push;
pub use settle::{keeping_local, keeping_remote};
pub use status::{Status, status};

use crate::filter::Filter;
use crate::manifest::RejectedKey;
use crate::{Error, Result};

/// Which source files a pull or push considers (d6tpipe's `mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// New and modified files.
    #[default]
    Default,
    /// Only files missing on the target side.
    New,
    /// Only files present on both sides whose content differs.
    Mod,
    /// Every (filtered) source file, even unchanged ones; for push it also lifts the
    /// "remote has changes not yet pulled" refusal (never the per-file conflicts).
    All,
}

impl Mode {
    /// Parses `default`, `new`, `mod` or `all`; the error names the `mode` field.
    pub fn parse(value: &str) -> Result<Mode> {
        match value {
            "default" => Ok(Mode::Default),
            "new" => Ok(Mode::New),
            "mod" => Ok(Mode::Mod),
            "all" => Ok(Mode::All),
            _ => Err(Error::invalid_field(
                "mode",
                format!("\"{value}\" is not a valid choice (default, new, mod, all)."),
            )),
        }
    }
}

/// How to resolve a conflict: a file changed on both sides since the last sync (or never
/// synced and different). It decides exactly the conflicting files, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Merge {
    /// Keep the target's version: the file is not transferred, it is listed in
    /// [`Plan::kept`], and the decision is recorded (see [`mod@settle`]) so that the conflict
    /// is over: the kept version then reads as the one change to send the other way.
    Keep,
    /// Overwrite the target's version with the source's (recorded as synced, as any
    /// transfer).
    Overwrite,
}

impl Merge {
    /// Parses `keep` or `overwrite`; the error names the `merge` field.
    pub fn parse(value: &str) -> Result<Merge> {
        match value {
            "keep" => Ok(Merge::Keep),
            "overwrite" => Ok(Merge::Overwrite),
            _ => Err(Error::invalid_field(
                "merge",
                format!("\"{value}\" is not a valid choice (keep, overwrite)."),
            )),
        }
    }
}

/// What the user asked a pull or push to consider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanRequest {
    /// Which files, by their state.
    pub mode: Mode,
    /// Include/exclude globs; applies to everything, `files` included. The engine passes the
    /// pipe's own filter unless the user gave one.
    pub filter: Filter,
    /// Exactly these paths, transferred even when unchanged (still subject to conflicts).
    pub files: Option<Vec<String>>,
    /// Only the N most recently modified source files among the candidates (ties by path).
    pub nrecent: Option<usize>,
    /// How to resolve conflicts; `None` reports them and blocks the plan.
    pub merge: Option<Merge>,
}

/// Why a file is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferReason {
    /// The target side has no file at this path.
    New,
    /// Both sides have it and the content differs (or cannot be shown to be the same).
    Modified,
    /// Both sides have the same content; transferred because of mode `all` or `files`.
    Forced,
}

/// One file to copy from the source side to the target side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Relative path, the same on both sides.
    pub path: String,
    /// Bytes to move: the source file's size.
    pub size: u64,
    /// Why it moves.
    pub reason: TransferReason,
}

/// Why a transfer would lose a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConflictReason {
    /// Pull: the local file changed since the last sync and differs from the remote.
    LocalChanged,
    /// Pull: a local file dpipe never synced differs from the remote.
    LocalUntracked,
    /// Push: the remote file changed since the last sync and differs from the local one.
    RemoteChanged,
    /// Push: a remote file dpipe never synced differs from the local one.
    RemoteUntracked,
}

/// A transfer refused because it would overwrite a change on the target side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Relative path.
    pub path: String,
    /// What changed where.
    pub reason: ConflictReason,
}

/// What a pull or push would do, and what stands in its way. Lists are sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Files to copy from the source side to the target side.
    pub transfers: Vec<Transfer>,
    /// Transfers refused because they would overwrite a change (no `merge` given).
    pub conflicts: Vec<Conflict>,
    /// Conflicting files left alone because of [`Merge::Keep`] (see [`mod@settle`]).
    pub kept: Vec<String>,
    /// Differing files where only the target side changed since the last sync (pull: local
    /// edits not yet pushed; push: remote changes not yet pulled). Nothing is new on the
    /// source side, so they are not transferred; forcing them (`all`, `files`) makes them
    /// conflicts. Informational: they do not block.
    pub newer_on_target: Vec<String>,
    /// Push only: remote files changed since the last sync or never pulled, other than those
    /// the plan already decides per file (a conflict, a kept or an overwritten file): a
    /// refusal names each file once.
    pub remote_ahead: Vec<String>,
    /// Whether a non-empty `remote_ahead` may be ignored (push in mode `all`).
    pub remote_ahead_allowed: bool,
    /// Keys of the source manifest refused as unsafe; reported, never transferred.
    pub rejected: Vec<RejectedKey>,
    /// Paths named in `files` that the source side does not have.
    pub unknown_files: Vec<String>,
    /// Paths named in `files` that the filter excludes.
    pub filtered_files: Vec<String>,
    /// Candidates with the same content on both sides, not transferred.
    pub unchanged: usize,
    /// Candidates that differ but that the mode leaves out (`new`: modified; `mod`: new).
    pub left_out_by_mode: usize,
    /// Total bytes of `transfers`.
    pub bytes: u64,
}

impl Plan {
    /// Whether the engine must refuse to run this plan at all: a conflict, or (push) remote
    /// changes not yet pulled outside mode `all`.
    pub fn is_blocked(&self) -> bool {
        !self.conflicts.is_empty() || (!self.remote_ahead.is_empty() && !self.remote_ahead_allowed)
    }

    /// Whether there is nothing to transfer and nothing in the way (e.g. right after a full
    /// sync); `newer_on_target`, `kept` and `rejected` are informational and not considered.
    pub fn is_noop(&self) -> bool {
        self.transfers.is_empty() && self.conflicts.is_empty() && self.remote_ahead.is_empty()
    }

    /// Number of files to transfer.
    pub fn file_count(&self) -> usize {
        self.transfers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_mode_and_merge() {
        for (text, mode) in [
            ("default", Mode::Default),
            ("new", Mode::New),
            ("mod", Mode::Mod),
            ("all", Mode::All),
        ] {
            assert_eq!(Mode::parse(text).unwrap(), mode);
        }
        let err = Mode::parse("modified").unwrap_err();
        assert_eq!(err.field(), Some("mode"));
        assert!(err.message().contains("not a valid choice"));
        assert_eq!(Merge::parse("keep").unwrap(), Merge::Keep);
        assert_eq!(Merge::parse("overwrite").unwrap(), Merge::Overwrite);
        assert_eq!(Merge::parse("Keep").unwrap_err().field(), Some("merge"));
    }

    #[test]
    fn blocked_and_noop() {
        let conflict = Conflict {
            path: "a".into(),
            reason: ConflictReason::LocalChanged,
        };
        let cases = [
            (Plan::default(), false, true),
            (
                Plan {
                    conflicts: vec![conflict],
                    ..Plan::default()
                },
                true,
                false,
            ),
            (
                Plan {
                    remote_ahead: vec!["a".into()],
                    ..Plan::default()
                },
                true,
                false,
            ),
            (
                Plan {
                    remote_ahead: vec!["a".into()],
                    remote_ahead_allowed: true,
                    ..Plan::default()
                },
                false,
                false,
            ),
        ];
        for (i, (plan, blocked, noop)) in cases.into_iter().enumerate() {
            assert_eq!(plan.is_blocked(), blocked, "case {i}");
            assert_eq!(plan.is_noop(), noop, "case {i}");
        }
    }
}
