//! Upkeep of a pipe's files and sync state: remove orphans, delete files, reset, list the
//! synced files and the pipes pulled so far, import files into a pipe's folder.
//!
//! Deleting is a preview unless `apply` is set, and an applied run deletes nothing when a scan
//! refused a key: a run that had an error deletes nothing. The first deletion that fails stops
//! the run (the report lists it). Remote deletion needs a write role, checked before any
//! scan; local deletion only removes files the scan of the pipe's folder found (which never
//! follows a symbolic link). Every deleted path's sync record is forgotten.
//!
//! Modules: `removal` (remove-orphans, delete, reset), `listing` (synced files, local pipes),
//! `import`; the checks they share on the pipe's folder are here.

mod import;
mod listing;
mod removal;

use std::fs;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use dpipe_core::name::validate_resource_name;

use super::Syncer;
use super::state::io_error;
use crate::{Error, ErrorKind, Result};

pub use import::{ImportOptions, ImportReport};
pub use listing::{LocalPipe, SortBy, SyncedEntry};
pub use removal::{Doomed, Removal, Side};

impl Syncer<'_> {
    /// The folder of `pipe`, after checking its name cannot climb out of the repo.
    fn pipe_folder(&self, pipe: &str) -> Result<PathBuf> {
        validate_resource_name(pipe)
            .map_err(|e| Error::new(ErrorKind::Invalid, format!("pipe name {pipe:?}: {e}")))?;
        Ok(self.repo.join(pipe))
    }
}

/// Refuses a pipe folder that is a symbolic link or not a folder; a missing one is fine.
fn check_folder_or_missing(folder: &Path) -> Result<()> {
    match fs::symlink_metadata(folder) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::new(
            ErrorKind::Config,
            format!(
                "refused: the pipe folder {} is a symbolic link; dpipe never follows links out of the file repo",
                folder.display()
            ),
        )),
        Ok(m) if !m.is_dir() => Err(Error::new(
            ErrorKind::Config,
            format!("refused: {} is not a folder", folder.display()),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == IoKind::NotFound => Ok(()),
        Err(e) => Err(io_error("read", folder, e)),
    }
}

/// Refuses a destination whose existing parent folders (inside `folder`) include a symbolic
/// link or a file.
fn check_parents(folder: &Path, key: &str) -> Result<()> {
    let mut at = folder.to_path_buf();
    let segments: Vec<&str> = key.split('/').collect();
    for seg in &segments[..segments.len().saturating_sub(1)] {
        at.push(seg);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "refused, nothing was written or deleted there: {} is a symbolic link or a file",
                        at.display()
                    ),
                ));
            }
            Err(e) if e.kind() == IoKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error("read", &at, e)),
        }
    }
    Ok(())
}

/// Removes `dir` and its parents while they are empty, stopping at `top` (kept).
fn remove_empty_up_to(dir: &Path, top: &Path) {
    let mut at = dir;
    while at != top && at.starts_with(top) && fs::remove_dir(at).is_ok() {
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
}

/// Removes the empty folders under and including `dir`, bottom up (a moved import's source).
fn remove_empty_dirs(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}
