//! The local side of a sync: every file of a pipe's folder with its size, modification time and
//! content hashes, as a [`Manifest`].
//!
//! * The walk never follows a symbolic link: a link (to a file or a folder, inside the repo or
//!   out of it) is reported as a [`RejectedKey`] and neither read nor descended into. Names
//!   that are not UTF-8 or fail [`check_key`] are reported the same way, as are sockets,
//!   FIFOs and devices.
//! * dpipe's own files are skipped: partial downloads (`.dpipe-*` files, see
//!   `dpipe_storage`'s transfers) and the sync state folder when the scanned folder contains it.
//!   Partial downloads of runs that were killed are reported apart, for the next pull to
//!   delete.
//! * Content is hashed by streaming through a 64 KiB buffer (memory does not grow with file
//!   size) — on up to four threads when there are 64 MiB or more to read — unless the hash
//!   cache of the [`SyncState`] has the hashes for the file's exact [`FileStamp`] (size,
//!   mtime, inode): an unchanged tree is not read again. A caller inside the crate may ask
//!   for less ([`Hashing`]): no hash of a file only this side has, no MD5 where it cannot
//!   decide a comparison.
//! * A file whose stamp changed while it was read (it was being written, or replaced) is read
//!   again, up to three times; if it is still changing the scan fails with an
//!   [`ErrorKind::Io`] error naming it, rather than reporting a hash of content that never
//!   existed as a whole. A file that disappears during the scan is left out.
//! * Racy timestamps: a write within the file system's timestamp granularity of the hashing
//!   could leave the stamp unchanged. Hashes of files modified less than two seconds before the
//!   scan started are therefore not cached; such files are simply hashed again next time.
//!
//! Its parts: [`walk`](mod@walk) lists a folder's files (and the leftovers of killed runs);
//! [`hashing`] reads and hashes them, on several threads when it pays. This module puts the
//! two together with the hash cache into a manifest.
//!
//! [`RejectedKey`]: dpipe_core::manifest::RejectedKey
//! [`check_key`]: dpipe_core::manifest::check_key

mod hashing;
mod walk;

use std::fs::{self, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use dpipe_core::manifest::{Manifest, ManifestEntry};

use super::Progress;
use super::state::{FileStamp, HashRecord, Hashes, SyncState, io_error, time_to_ns};
use crate::{Error, ErrorKind, Result};
use hashing::hash_all;
#[cfg(test)]
pub(super) use hashing::{AFTER_READ, FILES_HASHED};
use walk::{Found, walk};

/// Files modified this recently before the scan are hashed but not cached.
const RACY_NS: i64 = 2_000_000_000;

/// Scans `folder`, the local folder of `pipe`, using and updating the hash cache of `state`
/// (see the module docs). A missing folder is an empty manifest (nothing pulled yet); a
/// `folder` that is a symbolic link or not a folder is an [`ErrorKind::Config`] error. The
/// entries' `etag` is `None`; `sha256` is always set, `md5` unless the cache lacks it (a
/// download that had no ETag to check it against, a file hashed without it by a sync).
pub fn scan_local(folder: &Path, pipe: &str, state: &SyncState) -> Result<Manifest> {
    Ok(scan_local_for(folder, pipe, state, &|_| Hashing::Sha256AndMd5)?.manifest)
}

/// What [`scan_local_for`] found.
pub(super) struct LocalScan {
    /// The pipe's files.
    pub(super) manifest: Manifest,
    /// Temporary files left by dpipe runs that were killed (see
    /// [`dpipe_storage::is_abandoned_temp`]) and partial downloads (which a later run may
    /// resume: see [`dpipe_storage::transfer::resume::leftovers_to_remove`]): never listed.
    pub(super) abandoned: Vec<PathBuf>,
}

/// What a scan must know of a file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hashing {
    /// Nothing: the file is listed without hashes unless the cache has them (a file that
    /// only this side has and no sync recorded: a push hashes what it sends).
    Not,
    /// Its SHA-256.
    Sha256,
    /// Its SHA-256 and its MD5 (the costlier of the two).
    Sha256AndMd5,
}

/// [`scan_local`], reading each file only for what `hashing` says its path needs; a file
/// hashed less has only what the cache knows of it besides.
pub(super) fn scan_local_for(
    folder: &Path,
    pipe: &str,
    state: &SyncState,
    hashing: &dyn Fn(&str) -> Hashing,
) -> Result<LocalScan> {
    let scan_started = time_to_ns(SystemTime::now());
    if !folder_exists(folder, pipe)? {
        return Ok(LocalScan {
            manifest: Manifest::default(),
            abandoned: Vec::new(),
        });
    }
    let mut files = Vec::new();
    let mut rejected = Vec::new();
    let mut abandoned = Vec::new();
    walk(
        folder,
        state,
        hashing,
        &mut files,
        &mut rejected,
        &mut abandoned,
    )?;

    let mut entries = Vec::with_capacity(files.len());
    let mut pending = Vec::new();
    for file in files {
        match cached_entry(pipe, state, &file)? {
            Some(entry) => entries.push(entry),
            None if file.hashing == Hashing::Not => {
                let stamp = stamp(&file.meta, &file.abs)?;
                entries.push(unhashed_entry(&file.rel, stamp, file.meta.modified().ok()));
            }
            None => pending.push(file),
        }
    }
    let mut computed = Vec::new();
    for (entry, record) in hash_all(pending, None)? {
        if record.stamp.mtime_ns < scan_started.saturating_sub(RACY_NS) {
            computed.push(record);
        }
        entries.push(entry);
    }
    state.store_hashes(pipe, &computed)?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    rejected.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(LocalScan {
        manifest: Manifest { entries, rejected },
        abandoned,
    })
}

/// Every file of `folder` (of `pipe`), those `hashing` asks for read and hashed afresh, the
/// others listed by size: the hash cache is neither consulted nor updated, so a change its
/// stamp misses (bit rot, a write that kept size and time) is seen and never cached. For
/// [`crate::sync::Syncer::verify`]; `progress` hears the reads, from start to finish.
pub(super) fn read_afresh(
    folder: &Path,
    pipe: &str,
    state: &SyncState,
    hashing: &dyn Fn(&str) -> Hashing,
    progress: Option<&dyn Progress>,
) -> Result<Manifest> {
    if !folder_exists(folder, pipe)? {
        return Ok(Manifest::default());
    }
    let (mut files, mut rejected, mut leftovers) = (Vec::new(), Vec::new(), Vec::new());
    walk(
        folder,
        state,
        hashing,
        &mut files,
        &mut rejected,
        &mut leftovers,
    )?;
    let (pending, unhashed): (Vec<Found>, Vec<Found>) = files
        .into_iter()
        .partition(|file| file.hashing != Hashing::Not);
    let mut entries = Vec::with_capacity(pending.len() + unhashed.len());
    for file in unhashed {
        let stamp = stamp(&file.meta, &file.abs)?;
        entries.push(unhashed_entry(&file.rel, stamp, file.meta.modified().ok()));
    }
    if let Some(progress) = progress {
        progress.start(pending.len(), pending.iter().map(|f| f.meta.len()).sum());
    }
    let hashed = hash_all(pending, progress);
    if let Some(progress) = progress {
        progress.finish();
    }
    entries.extend(hashed?.into_iter().map(|(entry, _)| entry));
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    rejected.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Manifest { entries, rejected })
}

/// Whether the folder of `pipe` exists (a missing one holds nothing yet); a `folder` that is a
/// symbolic link or not a folder is an [`ErrorKind::Config`] error.
fn folder_exists(folder: &Path, pipe: &str) -> Result<bool> {
    match fs::symlink_metadata(folder) {
        Ok(meta) if meta.is_dir() => Ok(true),
        Ok(meta) => {
            let what = if meta.is_symlink() {
                "is a symbolic link (dpipe does not follow links out of the file repo)"
            } else {
                "is not a folder"
            };
            Err(Error::new(
                ErrorKind::Config,
                format!("the folder of pipe {pipe:?}, {}, {what}", folder.display()),
            ))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(io_error("read", folder, err)),
    }
}

/// The hash-cache record of `path`, a file dpipe itself just wrote (a download) or read whole
/// and unchanged (an upload), with `hashes`, from the metadata of its handle; `None` when its
/// time is too recent to be trusted (see the module docs) or unreadable.
pub(super) fn transferred_file_record(
    path: &str,
    meta: &Metadata,
    hashes: Hashes,
) -> Option<HashRecord> {
    let stamp = stamp(meta, Path::new(path)).ok()?;
    let now = time_to_ns(SystemTime::now());
    (stamp.mtime_ns < now.saturating_sub(RACY_NS)).then(|| HashRecord {
        path: path.to_string(),
        stamp,
        hashes,
    })
}

/// The manifest entry of `file` as the hash cache knows it, if it does (for its exact stamp,
/// with an MD5 if one is needed).
fn cached_entry(pipe: &str, state: &SyncState, file: &Found) -> Result<Option<ManifestEntry>> {
    let stamp = stamp(&file.meta, &file.abs)?;
    Ok(state
        .cached_hash(pipe, &file.rel, stamp)?
        .filter(|hashes| file.hashing != Hashing::Sha256AndMd5 || hashes.md5.is_some())
        .map(|hashes| entry_of(&file.rel, stamp, file.meta.modified().ok(), hashes)))
}

/// The manifest entry of a file at `rel` with `stamp`, modified at `modified`, and `hashes`.
fn entry_of(
    rel: &str,
    stamp: FileStamp,
    modified: Option<SystemTime>,
    hashes: Hashes,
) -> ManifestEntry {
    ManifestEntry {
        sha256: Some(hashes.sha256),
        md5: hashes.md5,
        ..unhashed_entry(rel, stamp, modified)
    }
}

/// The manifest entry of a file at `rel` with `stamp`, modified at `modified`, not hashed.
fn unhashed_entry(rel: &str, stamp: FileStamp, modified: Option<SystemTime>) -> ManifestEntry {
    ManifestEntry {
        path: rel.to_string(),
        size: stamp.size,
        modified,
        etag: None,
        sha256: None,
        md5: None,
    }
}

/// The stamp of a file's metadata.
fn stamp(meta: &Metadata, path: &Path) -> Result<FileStamp> {
    let modified = meta
        .modified()
        .map_err(|e| io_error("read the modification time of", path, e))?;
    Ok(FileStamp {
        size: meta.len(),
        mtime_ns: time_to_ns(modified),
        inode: meta.ino(),
    })
}
