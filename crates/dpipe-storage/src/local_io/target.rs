//! The blocking side of a download: its temporary file (random, or resumable and named after
//! the object's version), written and hashed in batches inside calls on the blocking pool, and
//! written back to disk as it grows.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use tempfile::TempPath;

use super::{WRITE_BATCH, prepare_folders};
use crate::error::{Error, Result};
use crate::manifest::temp_name_prefix;

/// Bytes a download writes before it has the system start writing them to disk (see
/// [`start_writeback`]).
const WRITEBACK_STEP: u64 = 8 * 1024 * 1024;

/// The temporary file of a download.
pub(super) enum TempFile {
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
pub(super) struct Target {
    pub(super) dest: PathBuf,
    /// The target folder and the key whose folders are created with the temporary file.
    pub(super) folders: (PathBuf, String),
    pub(super) open: Option<(File, TempFile)>,
    pub(super) size: u64,
    /// Bytes already handed to [`start_writeback`].
    pub(super) written_back: u64,
    pub(super) sha: Sha256,
    pub(super) md5: Option<Md5>,
}

impl Target {
    /// Creates the folders (once) and the temporary file (once), appends `chunks` and hashes
    /// them.
    pub(super) fn write(&mut self, chunks: &[Bytes]) -> Result<()> {
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
    pub(super) fn open_resumable(
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
