//! The walk of a pipe's folder: its regular files, never through a symbolic link, with the
//! keys that cannot be synced reported and the temporary files of killed runs (partial
//! downloads included) set apart.

use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use dpipe_core::manifest::{RejectedKey, check_key};
use dpipe_storage::transfer::resume::is_download_part;
use dpipe_storage::{TEMP_PREFIX, is_abandoned_temp};

use super::Hashing;
use crate::Result;
use crate::sync::state::{SyncState, io_error};

/// A regular file found by the walk.
pub(super) struct Found {
    pub(super) abs: PathBuf,
    pub(super) rel: String,
    pub(super) meta: Metadata,
    /// What the scan must know of its content.
    pub(super) hashing: Hashing,
}

/// Lists the regular files under `root` without following links, depth first, each with what
/// `hashing` says must be known of its content, and the temporary files killed runs left.
pub(super) fn walk(
    root: &Path,
    state: &SyncState,
    hashing: &dyn Fn(&str) -> Hashing,
    files: &mut Vec<Found>,
    rejected: &mut Vec<RejectedKey>,
    abandoned: &mut Vec<PathBuf>,
) -> Result<()> {
    let mut folders = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = folders.pop() {
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            // A sub-folder deleted since it was listed.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && dir != root => continue,
            Err(err) => return Err(io_error("list", &dir, err)),
        };
        for item in listing {
            let item = item.map_err(|e| io_error("list", &dir, e))?;
            let abs = item.path();
            // `symlink_metadata`: the link itself, never its target.
            let meta = match fs::symlink_metadata(&abs) {
                Ok(meta) => meta,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(io_error("read", &abs, err)),
            };
            let name = item.file_name();
            let Some(name) = name.to_str() else {
                let key = format!("{prefix}{}", String::from_utf8_lossy(name.as_bytes()));
                rejected.push(RejectedKey {
                    key,
                    reason: "name is not valid UTF-8",
                });
                continue;
            };
            let rel = format!("{prefix}{name}");
            let file_type = meta.file_type();
            if file_type.is_file() && name.starts_with(TEMP_PREFIX) {
                if is_abandoned_temp(name) || is_download_part(name) {
                    abandoned.push(abs);
                }
                continue;
            }
            if state.is_state_dir(&meta) {
                continue;
            }
            let reason = if file_type.is_symlink() {
                Some("symbolic link (not followed)")
            } else if !file_type.is_file() && !file_type.is_dir() {
                Some("not a regular file or folder")
            } else {
                check_key(&rel).err()
            };
            if let Some(reason) = reason {
                rejected.push(RejectedKey { key: rel, reason });
            } else if file_type.is_dir() {
                folders.push((abs, format!("{rel}/")));
            } else {
                files.push(Found {
                    hashing: hashing(&rel),
                    abs,
                    rel,
                    meta,
                });
            }
        }
    }
    Ok(())
}
