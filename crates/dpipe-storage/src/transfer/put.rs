//! Uploads. Files larger than the part size go up in a way a later run can continue: on S3
//! in a multipart upload of dpipe's own (see `s3_multipart`: the file's SHA-256 goes with it
//! as user metadata, [`SHA256_METADATA_KEY`](crate::SHA256_METADATA_KEY), because a multipart
//! ETag is no MD5), on `fs` and SFTP through a temporary key named after the file's version
//! (see `put_resumable`). Smaller files go up in one request; a single-part object's ETag is
//! its MD5 and needs no metadata. The upload hashes what it sends: a file that changed since
//! its SHA-256 was taken, or while it was read (its size, time or inode moved), is an
//! [`ErrorKind::Integrity`] error and the remote keeps its earlier version (on FTP, which
//! cannot abort an upload, it gets the file as read). An S3 object appears whole when its
//! upload completes and OpenDAL's FTP writer renames its own temporary upload into place (its
//! FTP service has no rename of its own, so FTP uploads are not continued); on `fs` and SFTP
//! the upload goes to a `.dpipe-*.part` key next to the final one, renamed into place once
//! whole. A killed upload leaves no partial file under a final name (scans skip dpipe's
//! leftovers; the next push removes old ones, see [`crate::leftovers`]).

use std::path::Path;

use crate::error::{Error, ErrorKind, Result};
use crate::local_io::{LocalReader, same_version};
use crate::location::Protocol;
use crate::manifest::{check_key, temp_name_prefix, unsafe_key};
use crate::operator::Storage;

use super::{READ_BUF, Transferred, local_file_changed};

impl Storage {
    /// The most a put of `size` bytes buffers: on S3 the object up to one part, then its parts
    /// in flight and the one being filled; elsewhere the read batches in flight.
    fn put_buffer(&self, size: u64) -> u64 {
        let most = match self.protocol {
            Protocol::S3 => {
                self.tuning.part_size as u64 * (self.tuning.part_concurrency.max(1) as u64 + 1)
            }
            Protocol::Fs | Protocol::Ftp | Protocol::Sftp => 2 * READ_BUF as u64,
        };
        size.min(most)
    }

    /// Uploads the local file `source` to `key`, in parts when it is larger than the part size.
    /// `sha256` is the file's SHA-256 when the caller knows it (a scan hashed it): an upload
    /// in parts then announces it without reading the file twice, and on every protocol bytes
    /// that hash differently (the file changed since) are an [`ErrorKind::Integrity`] error
    /// with nothing left at `key` — as is a file whose size, time or inode changed while it
    /// was read. The result's `file` is the metadata of the version sent.
    pub async fn put(&self, source: &Path, key: &str, sha256: Option<&str>) -> Result<Transferred> {
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let (file, meta) = LocalReader::open(source).await?;
        let size = meta.len();
        if size == 0 && self.protocol == Protocol::Ftp {
            // OpenDAL's FTP writer opens the upload on the first non-empty write, so an empty
            // file would silently not be created: refuse instead.
            return Err(Error::new(
                ErrorKind::Unsupported,
                "put failed: ftp cannot create an empty file",
            )
            .with("path", key));
        }
        let _budget = self.reserve(self.put_buffer(size)).await;
        let large = size > self.tuning.part_size as u64;
        // An S3 object appears whole when its upload completes, and OpenDAL's FTP writer
        // uploads to a temporary name it renames at the end (OpenDAL offers no FTP rename of
        // its own). Elsewhere the bytes go to a temporary key next to the final one, renamed
        // into place once whole. Either way a killed upload leaves no partial file under the
        // final name. Large files continue an interrupted upload: S3's multipart upload, or
        // the temporary key of the same version.
        let target = match self.protocol {
            Protocol::S3 if large => {
                return self.put_in_parts(file, source, key, &meta, sha256).await;
            }
            Protocol::Fs | Protocol::Sftp if large => {
                drop(file);
                return self.put_resumable(source, key, sha256).await;
            }
            Protocol::S3 | Protocol::Ftp => key.to_string(),
            Protocol::Fs | Protocol::Sftp => temp_key(key),
        };
        let result = self.put_to(file, source, key, &target, &meta, sha256).await;
        if target != key {
            return self.rename_into_place(result, &target, key, true).await;
        }
        result
    }

    /// Renames the temporary key `target` to `key` once `written` (its upload) succeeded;
    /// deletes it when the upload failed and `delete_on_failure` (a resumable one is kept for
    /// the next run unless its bytes were wrong) or when the rename fails.
    pub(super) async fn rename_into_place(
        &self,
        written: Result<Transferred>,
        target: &str,
        key: &str,
        delete_on_failure: bool,
    ) -> Result<Transferred> {
        match written {
            Ok(done) => {
                if let Err(e) = self.op.rename(target, key).await {
                    let _ = self.op.delete(target).await;
                    return Err(Error::from_opendal(e, "put", key));
                }
                Ok(done)
            }
            Err(e) => {
                if delete_on_failure || e.kind() == ErrorKind::Integrity {
                    let _ = self.op.delete(target).await;
                }
                Err(e)
            }
        }
    }

    /// Uploads `file`, open on `source` (`opened`: its metadata then; SHA-256 `sha256` if
    /// known), to `target`, the final `key` or a temporary key.
    async fn put_to(
        &self,
        mut file: LocalReader,
        source: &Path,
        key: &str,
        target: &str,
        opened: &std::fs::Metadata,
        sha256: Option<&str>,
    ) -> Result<Transferred> {
        let size = opened.len();
        let writer = self.op.writer_with(target);
        // What the bytes sent must hash to: the caller's SHA-256, or the one announced.
        let expected = sha256.map(str::to_ascii_lowercase);
        let mut writer = writer
            .await
            .map_err(|e| Error::from_opendal(e, "put", key))?;
        let mut sent = 0u64;
        loop {
            let buf = file.read(READ_BUF).await?;
            if buf.is_empty() {
                break;
            }
            sent += buf.len() as u64;
            if let Err(e) = writer.write(buf).await {
                discard(&mut writer).await;
                return Err(Error::from_opendal(e, "put", key));
            }
        }
        let (sha256, now) = file.finish()?;
        let changed = sent != size
            || expected.as_ref().is_some_and(|e| *e != sha256)
            || !same_version(opened, &now);
        if changed {
            // Nothing reaches the final key (but on FTP, see `discard`): S3 drops the upload,
            // elsewhere the caller deletes the temporary key.
            discard(&mut writer).await;
            return Err(local_file_changed(source, key));
        }
        writer
            .close()
            .await
            .map_err(|e| Error::from_opendal(e, "put", key))?;
        Ok(Transferred {
            size: sent,
            sha256,
            md5: None,
            file: Some(now),
            resumed: 0,
        })
    }
}

/// Ends an upload that must not complete. OpenDAL's FTP writer cannot abort: it is closed
/// instead, which puts the file as it was read — a whole version of it — at its key, rather
/// than leave OpenDAL's temporary upload behind under a name scans would list.
async fn discard(writer: &mut opendal::Writer) {
    if writer.abort().await.is_err() {
        let _ = writer.close().await;
    }
}

/// A temporary key in the folder of `key`, unique to this process and call.
fn temp_key(key: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("{}{nanos}-{n}.part", temp_name_prefix());
    match key.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{name}"),
        None => name,
    }
}
