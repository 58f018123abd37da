//! The sync engine: [`Syncer`] pulls and pushes a pipe (scan, plan, transfer, record) and
//! returns a [`SyncReport`]; [`location_for`] turns a pipe and its credentials into a storage
//! location. Its local side: the per-repo sync state ([`SyncState`]: hash cache and what
//! was recorded at the last sync, in `<repo>/.dpipe/state.sqlite`) and the scan of a pipe's
//! local folder into a [`Manifest`](dpipe_core::manifest::Manifest) ([`scan_local`]).
//!
//! Unix only: the hash cache keys files by inode, and the state folder is made mode 0700.
//! Nothing here writes outside the file repo: pulled files land in the pipe's folder (keys that
//! would escape it are refused), and the state file (and SQLite's journal next to it) lives
//! in the repo's `.dpipe` folder.

mod engine;
mod local_scan;
mod location;
mod maintain;
mod report;
mod scan;
mod state;
mod verify;

/// How transfers are tuned, and how long a run waits out an unreachable storage.
pub use dpipe_storage::{DEFAULT_GIVE_UP_AFTER, Tuning};
pub use engine::{DEFAULT_CONCURRENCY, Progress, SHOWN_WHEN_FIRST_PULLED, SyncOptions, Syncer};
pub use local_scan::scan_local;
pub use location::{host_key_fingerprint, known_hosts_file, location_for};
pub use maintain::{
    Doomed, ImportOptions, ImportReport, LocalPipe, Removal, Side, SortBy, SyncedEntry,
};
pub use report::{
    Direction, FileMove, PathNote, PlanView, REMOTE_AHEAD_TEXT, StatusReport, SyncReport,
    conflict_text, reason_text,
};
pub use state::{FileStamp, HashRecord, Hashes, STATE_DIR, SyncState};
pub use verify::{Basis, Evidence, Mismatch, RemoteVerdict, Unrecorded, VerifyReport};

#[cfg(test)]
mod scan_tests;
#[cfg(test)]
mod state_tests;
#[cfg(test)]
mod verify_tests;
