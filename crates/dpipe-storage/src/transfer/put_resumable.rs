//! Large uploads to `fs` and SFTP that a later run continues: the bytes go to a temporary key
//! next to the final one whose name follows from the file's version
//! ([`resumable_temp_key`]: SHA-256, size and the final name), appended to (OpenDAL's append
//! mode), and renamed into place once whole. A run that finds that temporary key shorter than
//! the file reads it back and compares its SHA-256 with the local file's first bytes before
//! it appends the rest; different bytes delete it and the upload starts over. Whatever is
//! kept, the whole local file is read and hashed, and must hash to the version's SHA-256 with
//! its size, time and inode unchanged; the temporary key must then hold exactly the file's
//! size, else nothing is renamed ([`ErrorKind::Integrity`], the temporary key is deleted).
//! A failure of another kind keeps the temporary key for the next run; the next push removes
//! such keys once older than [`Tuning::leftover_age`](crate::Tuning::leftover_age) (see
//! [`crate::leftovers`]) — but a run pushing that same version continues it whatever its age,
//! as only that version can match its name and its bytes are verified anyway.
//!
//! The read-back of a kept prefix is a download: it costs time, not upload bytes.

use std::fs::Metadata;
use std::path::Path;

use futures::TryStreamExt as _;
use opendal::EntryMode;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::local_io::{LocalReader, same_version};
use crate::manifest::TEMP_PREFIX;
use crate::operator::Storage;

use super::{READ_BUF, Transferred, hash_file, local_file_changed};

impl Storage {
    /// Uploads `source` to `key` through its resumable temporary key (see the module docs);
    /// `sha256` is the file's SHA-256 when the caller knows it.
    pub(super) async fn put_resumable(
        &self,
        source: &Path,
        key: &str,
        sha256: Option<&str>,
    ) -> Result<Transferred> {
        let (file, opened) = LocalReader::open(source).await?;
        let sha = match sha256 {
            Some(known) => known.to_ascii_lowercase(),
            None => hash_file(source).await?,
        };
        let temp = resumable_temp_key(key, &sha, opened.len());
        let written = match self
            .continue_temp(file, source, key, &temp, &opened, &sha)
            .await
        {
            Ok(Some(done)) => Ok(done),
            // The temporary key held other bytes and is gone: start over, from byte 0.
            Ok(None) => {
                let (file, again) = LocalReader::open(source).await?;
                if same_version(&opened, &again) {
                    self.continue_temp(file, source, key, &temp, &again, &sha)
                        .await
                        .and_then(|done| done.ok_or_else(|| local_file_changed(source, key)))
                } else {
                    Err(local_file_changed(source, key))
                }
            }
            Err(e) => Err(e),
        };
        self.rename_into_place(written, &temp, key, false).await
    }

    /// Appends to `temp` what it lacks of `file` (open on `source`, `opened` its metadata
    /// then, SHA-256 `sha`), after checking what it holds; `None` when it held other bytes
    /// (it is then deleted).
    async fn continue_temp(
        &self,
        mut file: LocalReader,
        source: &Path,
        key: &str,
        temp: &str,
        opened: &Metadata,
        sha: &str,
    ) -> Result<Option<Transferred>> {
        let size = opened.len();
        let held = self.temp_length(temp, key).await?;
        let resumed = match held {
            None => {
                // Append mode writes in place only to a file that exists.
                self.op
                    .write(temp, Vec::<u8>::new())
                    .await
                    .map_err(|e| Error::from_opendal(e, "put", key))?;
                0
            }
            Some(held) if held > size => {
                self.delete_temp(temp, key).await?;
                return Ok(None);
            }
            Some(held) => {
                if held > 0 && !self.same_prefix(&mut file, temp, key, held).await? {
                    self.delete_temp(temp, key).await?;
                    return Ok(None);
                }
                held
            }
        };
        let mut writer = self
            .op
            .writer_with(temp)
            .append(true)
            .await
            .map_err(|e| Error::from_opendal(e, "put", key))?;
        let mut sent = resumed;
        loop {
            let buf = file.read(READ_BUF).await?;
            if buf.is_empty() {
                break;
            }
            sent += buf.len() as u64;
            writer
                .write(buf)
                .await
                .map_err(|e| Error::from_opendal(e, "put", key))?;
        }
        writer
            .close()
            .await
            .map_err(|e| Error::from_opendal(e, "put", key))?;
        let (read_sha, now) = file.finish()?;
        if sent != size || read_sha != sha || !same_version(opened, &now) {
            return Err(local_file_changed(source, key));
        }
        if self.temp_length(temp, key).await? != Some(size) {
            return Err(Error::new(
                ErrorKind::Integrity,
                "put failed: the temporary upload does not hold the file's size (was it written by another run at once?)",
            )
            .with("path", key));
        }
        Ok(Some(Transferred {
            size,
            sha256: read_sha,
            md5: None,
            file: Some(now),
            resumed,
        }))
    }

    /// The length of the file at `temp`, `None` when there is none.
    async fn temp_length(&self, temp: &str, key: &str) -> Result<Option<u64>> {
        match self.op.stat(temp).await {
            Ok(meta) if meta.mode() == EntryMode::FILE => Ok(Some(meta.content_length())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from_opendal(e, "put", key)),
        }
    }

    async fn delete_temp(&self, temp: &str, key: &str) -> Result<()> {
        self.op
            .delete(temp)
            .await
            .map_err(|e| Error::from_opendal(e, "put", key))
    }

    /// Whether the first `held` bytes of `temp` hash as the next `held` bytes of `file`
    /// (read from it, so the upload goes on from there).
    async fn same_prefix(
        &self,
        file: &mut LocalReader,
        temp: &str,
        key: &str,
        held: u64,
    ) -> Result<bool> {
        let mut remote = Sha256::new();
        let mut stream = self
            .op
            .reader_with(temp)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?
            .into_bytes_stream(0..held)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::from_stream(e, key, Path::new(key)))?
        {
            remote.update(&chunk);
        }
        let mut local = Sha256::new();
        let mut left = held;
        while left > 0 {
            let buf = file.read(READ_BUF.min(left as usize)).await?;
            if buf.is_empty() {
                return Ok(false);
            }
            left -= buf.len() as u64;
            local.update(&buf);
        }
        Ok(remote.finalize() == local.finalize())
    }
}

/// The temporary key of the upload of a file of SHA-256 `sha` and `size` bytes to `key`: in
/// its folder, `.dpipe-put-<16 hex>.part`, the hex digits from the SHA-256 of the version and
/// the final name (two files of equal content in one folder must not share one).
pub fn resumable_temp_key(key: &str, sha: &str, size: u64) -> String {
    let (dir, name) = match key.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, key),
    };
    let digest = Sha256::digest(format!("{sha}\n{size}\n{name}"));
    let temp = format!("{TEMP_PREFIX}put-{}.part", &hex::encode(digest)[..16]);
    match dir {
        Some(dir) => format!("{dir}/{temp}"),
        None => temp,
    }
}
