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

use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use dpipe_core::manifest::{Manifest, ManifestEntry, RejectedKey, check_key};
use dpipe_storage::transfer::resume::is_download_part;
use dpipe_storage::{TEMP_PREFIX, is_abandoned_temp};
use md5::Md5;
use sha2::{Digest, Sha256};

use super::Progress;
use super::state::{FileStamp, HashRecord, Hashes, SyncState, io_error, time_to_ns};
use crate::{Error, ErrorKind, Result};

/// The read buffer of hashing.
const BUFFER_SIZE: usize = 64 * 1024;
/// How many times a file that changes while it is read is read.
const MAX_ATTEMPTS: usize = 3;
/// Threads that hash at most, and the bytes to read from which more than one is used.
const MAX_HASH_THREADS: usize = 4;
const PARALLEL_BYTES: u64 = 64 * 1024 * 1024;
/// Files modified this recently before the scan are hashed but not cached.
const RACY_NS: i64 = 2_000_000_000;

/// A hook tests run after each file is read.
#[cfg(test)]
type AfterRead = Box<dyn FnMut(&Path)>;

#[cfg(test)]
thread_local! {
    /// How many files this thread has read to hash them (tests prove a rescan reads none).
    pub(super) static FILES_HASHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Called with the path of each file right after it was read, before its stamp is checked
    /// again (tests change the file there, as a concurrent writer would).
    pub(super) static AFTER_READ: std::cell::RefCell<Option<AfterRead>> =
        const { std::cell::RefCell::new(None) };
}

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

/// A regular file found by the walk.
struct Found {
    abs: PathBuf,
    rel: String,
    meta: Metadata,
    /// What the scan must know of its content.
    hashing: Hashing,
}

/// Lists the regular files under `root` without following links, depth first, each with what
/// `hashing` says must be known of its content, and the temporary files killed runs left.
fn walk(
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

/// Reads and hashes `files` (see [`hash_file`]): on several threads when there is enough to
/// read that it pays (the storage is idle while a push scans), else on this one. `progress`
/// hears each file read, from the thread that read it.
fn hash_all(
    files: Vec<Found>,
    progress: Option<&dyn Progress>,
) -> Result<Vec<(ManifestEntry, HashRecord)>> {
    let bytes: u64 = files.iter().map(|f| f.meta.len()).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_HASH_THREADS)
        .min(files.len());
    if bytes < PARALLEL_BYTES || threads < 2 {
        let mut buffer = vec![0; BUFFER_SIZE];
        let mut done = Vec::with_capacity(files.len());
        for file in files {
            done.extend(hash_file(file, &mut buffer, progress)?);
        }
        return Ok(done);
    }
    // Round robin, so that each thread gets a share of the large files too.
    let mut shares: Vec<Vec<Found>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, file) in files.into_iter().enumerate() {
        shares[i % threads].push(file);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = shares
            .into_iter()
            .map(|share| {
                scope.spawn(move || {
                    let mut buffer = vec![0; BUFFER_SIZE];
                    let mut done = Vec::with_capacity(share.len());
                    for file in share {
                        done.extend(hash_file(file, &mut buffer, progress)?);
                    }
                    Ok::<_, Error>(done)
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            let done = worker.join().map_err(|_| {
                Error::new(ErrorKind::Io, "a hashing thread of the scan panicked")
            })??;
            all.extend(done);
        }
        Ok(all)
    })
}

/// The manifest entry of `file`, read and hashed, with its hash record (told to `progress`);
/// `None` if the file disappeared.
fn hash_file(
    file: Found,
    buffer: &mut [u8],
    progress: Option<&dyn Progress>,
) -> Result<Option<(ManifestEntry, HashRecord)>> {
    let Found {
        abs,
        rel,
        mut meta,
        hashing,
    } = file;
    for _ in 0..MAX_ATTEMPTS {
        if !meta.is_file() {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "{} stopped being a regular file during the scan; run again",
                    abs.display()
                ),
            ));
        }
        let stamp = stamp(&meta, &abs)?;
        let modified = meta.modified().ok();
        let with_md5 = hashing == Hashing::Sha256AndMd5;
        let read = read_hashes(&abs, stamp.inode, with_md5, buffer)?;
        meta = match fs::symlink_metadata(&abs) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_error("read", &abs, err)),
        };
        // The same inode, unchanged, both through the open handle and under the path: the
        // hashes are of one whole version of the file at `rel`.
        if let Outcome::Done(opened, hashes) = read
            && opened == stamp
            && self::stamp(&meta, &abs)? == stamp
        {
            let record = HashRecord {
                path: rel.clone(),
                stamp,
                hashes: hashes.clone(),
            };
            if let Some(progress) = progress {
                progress.file_done(&rel, stamp.size);
            }
            return Ok(Some((entry_of(&rel, stamp, modified, hashes), record)));
        }
    }
    Err(Error::new(
        ErrorKind::Io,
        format!(
            "{} kept changing while it was read ({MAX_ATTEMPTS} attempts); run again once it is no longer being written",
            abs.display()
        ),
    ))
}

/// What reading a file gave.
enum Outcome {
    /// Its stamp after the read (from the open handle) and its hashes.
    Done(FileStamp, Hashes),
    /// Something else than the expected inode is at the path now (not read).
    Replaced,
}

/// Reads the file at `path` through `buffer` if it is still inode `inode` (a path swapped for a
/// link after the walk is not read through), hashing it with SHA-256 and, if `with_md5`, MD5.
fn read_hashes(path: &Path, inode: u64, with_md5: bool, buffer: &mut [u8]) -> Result<Outcome> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::Replaced),
        Err(err) => return Err(io_error("open", path, err)),
    };
    let opened = file.metadata().map_err(|e| io_error("read", path, e))?;
    if opened.ino() != inode {
        return Ok(Outcome::Replaced);
    }
    #[cfg(test)]
    FILES_HASHED.with(|n| n.set(n.get() + 1));
    let mut sha256 = Sha256::new();
    let mut md5 = with_md5.then(Md5::new);
    loop {
        let n = match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(io_error("read", path, err)),
        };
        sha256.update(&buffer[..n]);
        if let Some(md5) = md5.as_mut() {
            md5.update(&buffer[..n]);
        }
    }
    #[cfg(test)]
    AFTER_READ.with_borrow_mut(|hook| hook.as_mut().map(|hook| hook(path)));
    let after = file.metadata().map_err(|e| io_error("read", path, e))?;
    let hashes = Hashes {
        sha256: hex::encode(sha256.finalize()),
        md5: md5.map(|md5| hex::encode(md5.finalize())),
    };
    Ok(Outcome::Done(stamp(&after, path)?, hashes))
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
