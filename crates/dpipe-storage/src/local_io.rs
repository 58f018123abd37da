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

use std::fs::{File, Metadata};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use tempfile::TempPath;

use crate::error::{Error, Result};
use crate::manifest::{temp_name_prefix, unsafe_key};
use crate::staging::Staged;

/// Bytes gathered before a download hands them to the blocking pool.
pub(crate) const WRITE_BATCH: usize = 1024 * 1024;

/// Bytes a download writes before it has the system start writing them to disk (see
/// [`start_writeback`]).
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024;

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

/// A local file read in batches, for an upload, and hashed (SHA-256) as it is read.
pub(crate) struct LocalReader {
    file: Option<(File, Sha256)>,
    path: PathBuf,
    /// A read came back short: the end is reached, no need to ask the file again.
    at_end: bool,
}

impl LocalReader {
    /// Opens `path`; returns the reader and the file's metadata (from the open handle).
    pub(crate) async fn open(path: &Path) -> Result<(LocalReader, Metadata)> {
        let owned = path.to_path_buf();
        let (file, meta) = blocking("open", path, move || {
            let io = |e| Error::from_io(e, "open", &owned);
            let file = File::open(&owned).map_err(io)?;
            let meta = file.metadata().map_err(io)?;
            Ok((file, meta))
        })
        .await?;
        let reader = LocalReader {
            file: Some((file, Sha256::new())),
            path: path.to_path_buf(),
            at_end: false,
        };
        Ok((reader, meta))
    }

    /// Up to `max` bytes (fewer only at the end of the file; none at its end).
    pub(crate) async fn read(&mut self, max: usize) -> Result<Vec<u8>> {
        if self.at_end {
            return Ok(Vec::new());
        }
        let Some((mut file, mut sha)) = self.file.take() else {
            return Ok(Vec::new());
        };
        let path = self.path.clone();
        let (file, sha, buf) = blocking("read", &self.path, move || {
            let mut buf = Vec::with_capacity(max);
            (&mut file)
                .take(max as u64)
                .read_to_end(&mut buf)
                .map_err(|e| Error::from_io(e, "read", &path))?;
            sha.update(&buf);
            Ok((file, sha, buf))
        })
        .await?;
        self.file = Some((file, sha));
        self.at_end = buf.len() < max;
        Ok(buf)
    }

    /// The SHA-256 (hex) of what was read, and the file's metadata now (from the handle).
    pub(crate) fn finish(self) -> Result<(String, Metadata)> {
        let Some((file, sha)) = self.file else {
            return Err(Error::from_io(
                std::io::Error::other("an earlier read failed"),
                "read",
                &self.path,
            ));
        };
        let meta = file
            .metadata()
            .map_err(|e| Error::from_io(e, "read", &self.path))?;
        Ok((hex::encode(sha.finalize()), meta))
    }
}

/// Whether `a` and `b`, metadata of one open file at two moments, show the same version of it:
/// same inode, size and modification time (a write in between changes the time).
pub(crate) fn same_version(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    a.ino() == b.ino() && a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// The hashes of the bytes a download wrote.
pub(crate) struct Hashed {
    /// Bytes written.
    pub(crate) size: u64,
    /// Their SHA-256, hex.
    pub(crate) sha256: String,
    /// Their MD5, hex, if it was asked for ([`TempWriter::with_md5`]).
    pub(crate) md5: Option<String>,
}

/// The temporary file of a download.
enum TempFile {
    /// A random name, deleted when the download fails or is dropped.
    Random(TempPath),
    /// The name of the object's version (see [`crate::transfer::resume`]), kept when the
    /// download fails or is dropped, so that the next run goes on from it; deleted when the
    /// whole fails its check.
    Resumable(PathBuf),
}

impl TempFile {
    fn path(&self) -> &Path {
        match self {
            TempFile::Random(temp) => temp,
            TempFile::Resumable(path) => path,
        }
    }
}

/// Where a download goes, its temporary file once opened, and the hashes so far. Moved into
/// each blocking call and back.
struct Target {
    dest: PathBuf,
    /// The target folder and the key whose folders are created with the temporary file.
    folders: (PathBuf, String),
    open: Option<(File, TempFile)>,
    size: u64,
    /// Bytes already handed to [`start_writeback`].
    written_back: u64,
    sha: Sha256,
    md5: Option<Md5>,
}

impl Target {
    /// Creates the folders (once) and the temporary file (once), appends `chunks` and hashes
    /// them.
    fn write(&mut self, chunks: &[Bytes]) -> Result<()> {
        if self.open.is_none() {
            prepare_folders(&self.folders.0, &self.folders.1)?;
            let parent = match self.dest.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let temp = tempfile::Builder::new()
                .prefix(&temp_name_prefix())
                .suffix(".part")
                .tempfile_in(parent)
                .map_err(|e| Error::from_io(e, "create temporary file", parent))?;
            let (file, temp) = temp.into_parts();
            self.open = Some((file, TempFile::Random(temp)));
        }
        if let Some((file, temp)) = self.open.as_mut() {
            for chunk in chunks {
                hash(&mut self.sha, self.md5.as_mut(), chunk);
                self.size += chunk.len() as u64;
                file.write_all(chunk)
                    .map_err(|e| Error::from_io(e, "write", temp.path()))?;
            }
            if self.size - self.written_back >= WRITEBACK_STEP {
                start_writeback(file, self.written_back, self.size - self.written_back);
                self.written_back = self.size;
            }
        }
        Ok(())
    }

    /// Opens (or creates) the resumable file `part` (no link followed; locked, so that a
    /// second run downloading the same version at once takes a random name instead) and
    /// hashes the bytes it holds: they are kept, unless there are more than `size` (then it
    /// starts empty). Returns the last `overlap` bytes kept (fewer if fewer are), or `None`,
    /// changing nothing, if another run holds the file.
    fn open_resumable(
        &mut self,
        part: PathBuf,
        size: u64,
        overlap: u64,
    ) -> Result<Option<Vec<u8>>> {
        use rustix::fs::{FlockOperation, OFlags, flock};
        use std::os::unix::fs::OpenOptionsExt as _;
        prepare_folders(&self.folders.0, &self.folders.1)?;
        let io = |e| Error::from_io(e, "open temporary file", &part);
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(OFlags::NOFOLLOW.bits() as i32)
            .open(&part)
            .map_err(io)?;
        if !file.metadata().map_err(io)?.is_file() {
            return Err(io(std::io::Error::other("not a regular file")));
        }
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => return Ok(None),
            Err(e) => return Err(io(e.into())),
        }
        if file.metadata().map_err(io)?.len() > size {
            file.set_len(0).map_err(io)?;
        }
        let mut buf = vec![0; WRITE_BATCH];
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hash(&mut self.sha, self.md5.as_mut(), &buf[..n]);
            self.size += n as u64;
        }
        let mut tail = vec![0; overlap.min(self.size) as usize];
        file.seek(SeekFrom::Start(self.size - tail.len() as u64))
            .and_then(|_| file.read_exact(&mut tail))
            .map_err(io)?;
        // Appends go right after the bytes hashed (the position the read left).
        self.written_back = self.size;
        self.open = Some((file, TempFile::Resumable(part)));
        Ok(Some(tail))
    }
}

/// Adds `bytes` to the hashes of a download.
fn hash(sha: &mut Sha256, md5: Option<&mut Md5>, bytes: &[u8]) {
    sha.update(bytes);
    if let Some(md5) = md5 {
        md5.update(bytes);
    }
}

/// Has the system start writing `len` bytes of `file` from `offset` to disk, without waiting
/// for it (on Linux, `fadvise(DONTNEED)` starts the writeback of the range's dirty pages), so
/// that the disk works while a large download goes on and its final flush finds little left.
/// Only advice: a refusal changes nothing.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    let advice = rustix::fs::Advice::DontNeed;
    let _ = rustix::fs::fadvise(file, offset, std::num::NonZeroU64::new(len), advice);
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

/// A download in progress: a temporary file in the target's folder, written and hashed in
/// batches and created only with the first batch (a small download touches the disk once, at
/// the end). Dropped before [`TempWriter::stage`], the temporary file is deleted.
pub(crate) struct TempWriter {
    target: Option<Target>,
    pending: Vec<Bytes>,
    pending_len: usize,
    /// Bytes an earlier run left in the resumable file, kept.
    resumed: u64,
    /// The last of those bytes, to compare with the storage's (see [`TempWriter::kept_tail`]).
    kept_tail: Vec<u8>,
}

impl TempWriter {
    /// A download of `key` into `folder` (created if missing); the folders of `key` are
    /// created without following a symlink (a link on the way is an unsafe-key error).
    pub(crate) fn into_folder(folder: &Path, key: &str) -> TempWriter {
        TempWriter {
            target: Some(Target {
                dest: folder.join(key),
                folders: (folder.to_path_buf(), key.to_string()),
                open: None,
                size: 0,
                written_back: 0,
                sha: Sha256::new(),
                md5: None,
            }),
            pending: Vec::new(),
            pending_len: 0,
            resumed: 0,
            kept_tail: Vec::new(),
        }
    }

    /// A download of `key` (an object of `size` bytes) into `folder`, to the resumable file
    /// `part` (in the key's folder): what an earlier run left there is hashed — with the MD5
    /// too if `md5` — and kept (see [`TempWriter::resumed`]); the download goes on after it.
    /// The last `overlap` bytes kept are remembered ([`TempWriter::kept_tail`]). If another
    /// run is writing that file right now, the download takes a random name.
    pub(crate) async fn resume(
        folder: &Path,
        key: &str,
        part: PathBuf,
        size: u64,
        md5: bool,
        overlap: u64,
    ) -> Result<TempWriter> {
        let mut writer = TempWriter::into_folder(folder, key);
        if md5 {
            writer.with_md5();
        }
        let mut target = writer.take()?;
        let at = part.clone();
        let (target, tail) = blocking("open temporary file", &at, move || {
            let tail = target.open_resumable(part, size, overlap)?;
            Ok((target, tail))
        })
        .await?;
        writer.resumed = target.size;
        writer.kept_tail = tail.unwrap_or_default();
        writer.target = Some(target);
        Ok(writer)
    }

    /// The last bytes kept from an earlier run (empty when it started afresh): the storage's
    /// bytes there must be the same, or what was kept is not the object's.
    pub(crate) fn kept_tail(&self) -> &[u8] {
        &self.kept_tail
    }

    /// Deletes the resumable file, whose kept bytes turned out wrong; the error to return.
    pub(crate) async fn discard(mut self, err: Error) -> Error {
        if let Ok(target) = self.take()
            && let Some((_, TempFile::Resumable(path))) = target.open
        {
            let at = path.clone();
            let _ = blocking("delete", &at, move || {
                std::fs::remove_file(&path).map_err(|e| Error::from_io(e, "delete", &path))
            })
            .await;
        }
        err
    }

    /// The bytes kept from an earlier run's download (0 when it started afresh); the rest of
    /// the object is to be written from this offset on.
    pub(crate) fn resumed(&self) -> u64 {
        self.resumed
    }

    /// Computes the MD5 too; call it before the first byte is written (after it, or once it
    /// is computed, it changes nothing).
    pub(crate) fn with_md5(&mut self) {
        if let Some(target) = self.target.as_mut()
            && target.size == 0
            && target.md5.is_none()
        {
            target.md5 = Some(Md5::new());
        }
    }

    /// Appends `chunk` (written and hashed once a batch is full).
    pub(crate) async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= WRITE_BATCH {
            let pending = std::mem::take(&mut self.pending);
            self.pending_len = 0;
            let mut target = self.take()?;
            let dest = target.dest.clone();
            self.target = Some(
                blocking("write", &dest, move || {
                    target.write(&pending)?;
                    Ok(target)
                })
                .await?,
            );
        }
        Ok(())
    }

    /// Writes what is left and lets `check` judge the hashes of the whole download (a
    /// resumable file that fails is deleted, so that a bad leftover cannot fail the next run
    /// too); if it passes, gives the file the time `modified` (if any; a file system that refuses keeps
    /// the current time) and closes it. The download is then staged: whole and verified in
    /// its temporary file, neither durable nor at its final name yet (see [`Staged`]).
    pub(crate) async fn stage(
        mut self,
        key: &str,
        modified: Option<SystemTime>,
        check: impl FnOnce(&Hashed) -> Result<()> + Send + 'static,
    ) -> Result<Staged> {
        let pending = std::mem::take(&mut self.pending);
        let mut target = self.take()?;
        let dest = target.dest.clone();
        let key = key.to_string();
        let resumed = self.resumed;
        blocking("write", &dest, move || {
            target.write(&pending)?;
            let hashed = Hashed {
                size: target.size,
                sha256: hex::encode(target.sha.finalize()),
                md5: target.md5.map(|m| hex::encode(m.finalize())),
            };
            let Some((file, temp)) = target.open else {
                unreachable!("write opened the temporary file");
            };
            let temp = match (check(&hashed), temp) {
                (Ok(()), TempFile::Random(temp)) => temp,
                (Ok(()), TempFile::Resumable(path)) => {
                    TempPath::try_from_path(&path).map_err(|e| Error::from_io(e, "write", &path))?
                }
                (Err(e), TempFile::Random(_)) => return Err(e),
                (Err(e), TempFile::Resumable(path)) => {
                    let _ = std::fs::remove_file(path);
                    return Err(e);
                }
            };
            if let Some(time) = modified {
                let _ = file.set_modified(time);
            }
            let meta = file
                .metadata()
                .map_err(|e| Error::from_io(e, "write", &temp))?;
            Ok(Staged::new(key, temp, target.dest, hashed, meta, resumed))
        })
        .await
    }

    /// The target, back from the last blocking call (gone only if that call failed).
    fn take(&mut self) -> Result<Target> {
        self.target.take().ok_or_else(|| {
            Error::from_io(
                std::io::Error::other("an earlier write failed"),
                "write",
                Path::new(""),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_written_while_it_is_read_is_another_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "first").unwrap();
        let (mut reader, opened) = LocalReader::open(&path).await.unwrap();
        assert_eq!(reader.read(1024).await.unwrap(), b"first");
        let (sha, now) = reader.finish().unwrap();
        assert_eq!(sha, hex::encode(Sha256::digest(b"first")));
        assert!(same_version(&opened, &now), "untouched: the same version");

        let (mut reader, opened) = LocalReader::open(&path).await.unwrap();
        reader.read(2).await.unwrap();
        let mut file = std::fs::File::options().append(true).open(&path).unwrap();
        file.write_all(b" and more").unwrap();
        file.set_modified(SystemTime::now() + std::time::Duration::from_secs(1))
            .unwrap();
        let (_, now) = reader.finish().unwrap();
        assert!(!same_version(&opened, &now), "written meanwhile");
    }
}
