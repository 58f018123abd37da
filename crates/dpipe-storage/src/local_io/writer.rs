//! The writing side: a download in progress ([`TempWriter`]), handing its batches to the
//! blocking pool, resumed from an earlier run's bytes or started afresh, then checked and
//! staged with its [`Hashed`] hashes.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use tempfile::TempPath;

use super::target::{Target, TempFile};
use super::{WRITE_BATCH, blocking};
use crate::error::{Error, Result};
use crate::staging::Staged;

/// The hashes of the bytes a download wrote.
pub(crate) struct Hashed {
    /// Bytes written.
    pub(crate) size: u64,
    /// Their SHA-256, hex.
    pub(crate) sha256: String,
    /// Their MD5, hex, if it was asked for ([`TempWriter::with_md5`]).
    pub(crate) md5: Option<String>,
}

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
