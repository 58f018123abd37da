//! What went through is made durable, recorded in the sync state and reported; a run that
//! gave up on a storage out of reach is, once that is recorded, one error that says how far
//! it got.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

use dpipe_core::manifest::{Manifest, SyncedFile};
use dpipe_core::plan::Plan;
use dpipe_storage::Transferred;

use super::super::local_scan::transferred_file_record;
use super::super::report::{Direction, FileMove, PathNote, SyncReport, reason_text};
use super::super::{HashRecord, Hashes, SyncState};
use super::transfer::Moved;
use super::{Run, Syncer, report};
use crate::{Error, ErrorKind, Result};

impl Syncer<'_> {
    /// Records the files that went through and builds the report; when the run gave up on
    /// a storage out of reach, the error (of kind [`ErrorKind::Transport`]) instead, after
    /// the recording, so that a rerun continues where this run stopped.
    pub(super) fn finish(
        &self,
        run: Run,
        direction: Direction,
        plan: &Plan,
        moved: Moved,
        remote: &Manifest,
        local_modified: impl Fn(&str, &Transferred) -> Option<SystemTime>,
    ) -> Result<SyncReport> {
        let mut out = report(&run, direction, false, plan);
        let reasons: BTreeMap<&str, _> = plan
            .transfers
            .iter()
            .map(|t| (t.path.as_str(), reason_text(t.reason)))
            .collect();
        let mut synced = Vec::new();
        for (path, result) in moved.files {
            match result {
                Ok(done) => {
                    let seen = remote.get(&path);
                    let reason = reasons.get(path.as_str()).copied().unwrap_or("new");
                    out.bytes += done.size;
                    out.resumed_bytes += done.resumed;
                    out.transferred.push(FileMove {
                        path: path.clone(),
                        size: done.size,
                        reason,
                    });
                    synced.push(SyncedFile {
                        local_modified: local_modified(&path, &done),
                        path,
                        size: done.size,
                        sha256: done.sha256,
                        remote_etag: seen.and_then(|e| e.etag.clone()),
                        remote_modified: seen.and_then(|e| e.modified),
                    });
                }
                Err(message) => out.errors.push(PathNote {
                    path,
                    reason: message,
                }),
            }
        }
        run.state.record_synced(&run.view.name, &synced)?;
        match moved.outage {
            Some(why) => Err(gave_up(&out, &why)),
            None => Ok(out),
        }
    }
}

/// Caches the hashes of the local files that `moved` went through whole (downloaded, or read
/// unchanged for an upload; see [`Transferred::file`]), so that the next scan reads none of
/// them again.
pub(super) fn cache_hashes(state: &SyncState, pipe: &str, moved: &Moved) -> Result<()> {
    let records: Vec<HashRecord> = moved
        .files
        .iter()
        .filter_map(|(path, result)| {
            let done = result.as_ref().ok()?;
            let hashes = Hashes {
                sha256: done.sha256.clone(),
                md5: done.md5.clone(),
            };
            transferred_file_record(path, done.file.as_ref()?, hashes)
        })
        .collect();
    state.store_hashes(pipe, &records)
}

/// Fsyncs each of `folders` (relative to `base`), so that the renames in them survive a crash.
pub(super) fn sync_folders(base: &Path, folders: &BTreeSet<String>) -> Result<()> {
    for folder in folders {
        let path = base.join(folder);
        std::fs::File::open(&path)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot fsync the folder {}: {e}", path.display()),
                )
            })?;
    }
    Ok(())
}

/// The folders (relative to the pipe, `""` for its top) that received a file in `moved`.
pub(super) fn written_folders(moved: &Moved) -> BTreeSet<String> {
    moved
        .files
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(path, _)| {
            path.rsplit_once('/')
                .map_or("", |(folder, _)| folder)
                .to_string()
        })
        .collect()
}

/// The one error of a run that gave up on its storage (`why`: out of reach, for how long)
/// after `out` went through: how many of the planned files moved, and that a rerun continues.
fn gave_up(out: &SyncReport, why: &str) -> Error {
    Error::new(
        ErrorKind::Transport,
        format!(
            "pipe {}: {why}; {} of {} files {}ed; rerun to continue",
            out.pipe,
            out.transferred.len(),
            out.plan.transfers.len(),
            out.direction.as_str()
        ),
    )
}
