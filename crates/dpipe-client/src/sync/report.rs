//! What a pull or push did (or, as a preview, would do), in a shape that serializes for
//! `--json`: the files moved, the bytes, what was left alone, the keys refused and the
//! per-file errors, with the plan it carried out.

use dpipe_core::plan::{ConflictReason, Plan, Status, TransferReason};
use serde::Serialize;

/// Which way files move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Remote → local.
    Pull,
    /// Local → remote.
    Push,
}

impl Direction {
    /// `pull` or `push`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Pull => "pull",
            Direction::Push => "push",
        }
    }
}

/// One file moved, or to be moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileMove {
    /// The path relative to the pipe's folder.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// `new`, `modified` or `forced` (same content, moved because of mode `all` or `files`).
    pub reason: &'static str,
}

/// A path with why it is listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathNote {
    /// The path (or, for a refused key, the key as the source listed it).
    pub path: String,
    /// Why.
    pub reason: String,
}

/// The plan of a pull or push, for people and scripts (see [`Plan`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanView {
    /// Whether the run would be refused before any transfer (a conflict, or remote changes
    /// not yet pulled outside mode `all`).
    pub blocked: bool,
    /// Files to copy.
    pub transfers: Vec<FileMove>,
    /// Total bytes of `transfers`.
    pub bytes: u64,
    /// Transfers refused because they would overwrite a change on the target side.
    pub conflicts: Vec<PathNote>,
    /// Conflicting files left alone because of `merge keep`.
    pub kept: Vec<String>,
    /// Files only the target side changed since the last sync (to be sent the other way).
    pub newer_on_target: Vec<String>,
    /// Push: remote files changed since the last sync or never pulled.
    pub remote_ahead: Vec<String>,
    /// Whether `remote_ahead` is ignored (push in mode `all`).
    pub remote_ahead_allowed: bool,
    /// Named `files` the source side does not have.
    pub unknown_files: Vec<String>,
    /// Named `files` the filter excludes.
    pub filtered_files: Vec<String>,
    /// Files with the same content on both sides.
    pub unchanged: usize,
    /// Differing files the mode leaves out (`new`: modified ones; `mod`: new ones).
    pub left_out_by_mode: usize,
}

impl From<&Plan> for PlanView {
    fn from(plan: &Plan) -> PlanView {
        PlanView {
            blocked: plan.is_blocked(),
            transfers: plan
                .transfers
                .iter()
                .map(|t| FileMove {
                    path: t.path.clone(),
                    size: t.size,
                    reason: reason_text(t.reason),
                })
                .collect(),
            bytes: plan.bytes,
            conflicts: plan
                .conflicts
                .iter()
                .map(|c| PathNote {
                    path: c.path.clone(),
                    reason: conflict_text(c.reason).to_string(),
                })
                .collect(),
            kept: plan.kept.clone(),
            newer_on_target: plan.newer_on_target.clone(),
            remote_ahead: plan.remote_ahead.clone(),
            remote_ahead_allowed: plan.remote_ahead_allowed,
            unknown_files: plan.unknown_files.clone(),
            filtered_files: plan.filtered_files.clone(),
            unchanged: plan.unchanged,
            left_out_by_mode: plan.left_out_by_mode,
        }
    }
}

/// The wire name of why a file moves: `new`, `modified` or `forced`.
pub fn reason_text(reason: TransferReason) -> &'static str {
    match reason {
        TransferReason::New => "new",
        TransferReason::Modified => "modified",
        TransferReason::Forced => "forced",
    }
}

/// Why a push refuses a file that is not a conflict: it changed on storage only.
pub const REMOTE_AHEAD_TEXT: &str = "changed on storage, not pulled yet";

/// What a conflict means, for people.
pub fn conflict_text(reason: ConflictReason) -> &'static str {
    match reason {
        ConflictReason::LocalChanged => "local file changed since the last sync",
        ConflictReason::LocalUntracked => "local file never synced and different",
        ConflictReason::RemoteChanged => "file on storage changed since the last sync",
        ConflictReason::RemoteUntracked => "file on storage never synced and different",
    }
}

/// The outcome of one pull or push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The pipe.
    pub pipe: String,
    /// Pull or push.
    pub direction: Direction,
    /// True when nothing was transferred because a preview was asked for.
    pub preview: bool,
    /// Files transferred and recorded as synced (empty for a preview).
    pub transferred: Vec<FileMove>,
    /// Bytes of `transferred`. (What was not moved, and why, is in `plan`: `unchanged`,
    /// `left_out_by_mode`, `kept`, `newer_on_target`.)
    pub bytes: u64,
    /// Of `bytes`, those an earlier, interrupted run had moved and this one verified and kept
    /// rather than moved again (resumed downloads and uploads).
    pub resumed_bytes: u64,
    /// Source keys refused as unsafe (`..`, absolute, backslash, NUL, symlinks); never moved.
    pub rejected: Vec<PathNote>,
    /// Files whose transfer failed; the others were still transferred.
    pub errors: Vec<PathNote>,
    /// Pull: the pipe's `README.md` and `LICENSE.md`, when this run pulled them and no
    /// earlier sync had (to be shown to people once).
    pub first_pulled: Vec<String>,
    /// The plan carried out (or previewed).
    pub plan: PlanView,
    /// Push: leftovers of interrupted pushes on the storage (temporary keys, unfinished
    /// uploads) older than the leftover age, each as `key (… old)`: removed by this push, or,
    /// for a preview, that the push would remove.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<String>,
    /// Push: why the leftovers could not be listed or removed (the push itself went on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leftovers_error: Option<String>,
    /// What the run warns about, each once: a password that plain FTP sends in plain text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl SyncReport {
    /// Whether everything went through: no per-file error and no refused key that holds data
    /// (an empty folder marker is reported, but nothing was left behind).
    pub fn is_complete(&self) -> bool {
        self.errors.is_empty()
            && !self
                .rejected
                .iter()
                .any(|k| dpipe_core::manifest::refusal_holds_data(&k.reason))
    }
}

/// Whether a pipe is in sync, and what differs in which direction (see [`Status`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// The pipe.
    pub pipe: String,
    /// Nothing to pull, push or decide.
    pub in_sync: bool,
    /// Remote-only files, and files only the remote changed since the last sync.
    pub to_pull: Vec<String>,
    /// Local-only files, and files only the local side changed since the last sync.
    pub to_push: Vec<String>,
    /// Files changed on both sides: a person has to choose (`--merge`).
    pub conflicts: Vec<String>,
    /// Keys refused as unsafe, on either side.
    pub rejected: Vec<PathNote>,
    /// Files (on either side, counted once) the include/exclude filter left out.
    pub left_out_by_filter: usize,
}

impl StatusReport {
    /// The report of `status` for `pipe`.
    pub fn new(pipe: &str, status: Status) -> StatusReport {
        StatusReport {
            pipe: pipe.to_string(),
            in_sync: status.in_sync,
            to_pull: status.to_pull,
            to_push: status.to_push,
            conflicts: status.conflicts,
            rejected: status
                .rejected
                .into_iter()
                .map(|k| PathNote {
                    path: k.key,
                    reason: k.reason.to_string(),
                })
                .collect(),
            left_out_by_filter: status.left_out_by_filter,
        }
    }
}
