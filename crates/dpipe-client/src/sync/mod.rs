//! The sync engine's local side: the per-repo sync state ([`SyncState`]: hash cache and what
//! was recorded at the last sync, in `<repo>/.dpipe/state.sqlite`) and the scan of a pipe's
//! local folder into a [`Manifest`](dpipe_core::manifest::Manifest) ([`scan_local`]).
//!
//! Unix only: the hash cache keys files by inode, and the state folder is made mode 0700.
//! Nothing here writes outside the file repo: the only file written is the state file (and
//! SQLite's journal next to it) in the repo's `.dpipe` folder.

mod local_scan;
mod state;

pub use local_scan::scan_local;
pub use state::{FileStamp, HashRecord, Hashes, STATE_DIR, SyncState};

#[cfg(test)]
mod scan_tests;
#[cfg(test)]
mod state_tests;
