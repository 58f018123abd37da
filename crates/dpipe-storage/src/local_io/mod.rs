//! The local side of transfers: reading (and hashing) a file to upload, and writing (and
//! hashing) a download to a temporary file that is verified, then staged (see
//! [`crate::staging`]: made durable and renamed into place, alone or in a batch).
//! Blocking file calls and hashing run on Tokio's blocking pool in batches — one hand-off per
//! MiB rather than one per call, and a single one for a whole small download (folders,
//! temporary file, bytes, hashes, time) — which matters when thousands of small
//! files move, and leaves the runtime's own threads to the network.
//!
//! The folders of a download are created without following a symlink, so that nothing is ever
//! written outside the target folder.
//!
//! A large download goes to a file named after the object's version instead, kept when the
//! download is cut, and goes on from its bytes next time (see [`crate::transfer::resume`]).
//! Bytes reach it strictly in order — the stream of a ranged get yields its parts in order,
//! and batches are appended one after the other — so whatever a killed run left is a prefix of
//! the object: the next run hashes it (one pass, continuing the hashes) and appends the rest.
//!
//! Its parts: [`reader`] reads an upload's file; [`writer`] writes a download, onto the
//! temporary file of [`target`]. This module holds what they share: the hand-off to the
//! blocking pool, the safe creation of a download's folders, and [`WRITE_BATCH`].

mod reader;
mod target;
mod writer;

use std::path::{Component, Path};

use crate::error::{Error, Result};
use crate::manifest::unsafe_key;

pub(crate) use reader::{LocalReader, same_version};
pub(crate) use writer::{Hashed, TempWriter};

/// Bytes gathered before a download hands them to the blocking pool.
pub(crate) const WRITE_BATCH: usize = 1024 * 1024;

/// Runs `f` on the blocking pool; a panicked task becomes an I/O error on `path`.
async fn blocking<T: Send + 'static>(
    operation: &'static str,
    path: &Path,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::from_io(e.into(), operation, path))?
}

/// Creates `folder` if missing, then the folders of `key` below it one by one, never through
/// a symbolic link: a component that is a link or not a folder is an unsafe-key error, so a
/// link planted in the file repo cannot send a download (or its folders) elsewhere.
fn prepare_folders(folder: &Path, key: &str) -> Result<()> {
    // The target folder itself is the caller's choice, links in its path included.
    std::fs::create_dir_all(folder).map_err(|e| Error::from_io(e, "create folder", folder))?;
    let parts: Vec<Component> = Path::new(key).components().collect();
    let mut at = folder.to_path_buf();
    for part in &parts[..parts.len().saturating_sub(1)] {
        at.push(part);
        match is_real_folder(&at) {
            Ok(true) => {}
            Ok(false) => {
                return Err(unsafe_key(
                    key,
                    "a folder on its way is a symlink or a file",
                ));
            }
            Err(e) => return Err(Error::from_io(e, "create folder", &at)),
        }
    }
    Ok(())
}

/// Whether `path` is a folder (not a link to one), creating it if it is missing.
fn is_real_folder(path: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.is_dir()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(path) {
            Ok(()) => Ok(true),
            // Made meanwhile by another download: look again.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok(std::fs::symlink_metadata(path)?.is_dir())
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}
