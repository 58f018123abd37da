//! Reading and hashing the files a scan found: streamed through a fixed buffer, on several
//! threads when there is enough to read, each file read again if it changed meanwhile.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use dpipe_core::manifest::ManifestEntry;
use md5::Md5;
use sha2::{Digest, Sha256};

use super::walk::Found;
use super::{Hashing, entry_of, stamp};
use crate::sync::Progress;
use crate::sync::state::{FileStamp, HashRecord, Hashes, io_error};
use crate::{Error, ErrorKind, Result};

/// The read buffer of hashing.
const BUFFER_SIZE: usize = 64 * 1024;
/// How many times a file that changes while it is read is read.
const MAX_ATTEMPTS: usize = 3;
/// Threads that hash at most, and the bytes to read from which more than one is used.
const MAX_HASH_THREADS: usize = 4;
const PARALLEL_BYTES: u64 = 64 * 1024 * 1024;

/// A hook tests run after each file is read.
#[cfg(test)]
type AfterRead = Box<dyn FnMut(&Path)>;

#[cfg(test)]
thread_local! {
    /// How many files this thread has read to hash them (tests prove a rescan reads none).
    pub(in crate::sync) static FILES_HASHED: std::cell::Cell<usize> =
        const { std::cell::Cell::new(0) };
    /// Called with the path of each file right after it was read, before its stamp is checked
    /// again (tests change the file there, as a concurrent writer would).
    pub(in crate::sync) static AFTER_READ: std::cell::RefCell<Option<AfterRead>> =
        const { std::cell::RefCell::new(None) };
}

/// Reads and hashes `files` (see [`hash_file`]): on several threads when there is enough to
/// read that it pays (the storage is idle while a push scans), else on this one. `progress`
/// hears each file read, from the thread that read it.
pub(super) fn hash_all(
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
