//! Streamed, verified transfers between a local file and a [`Storage`]. Memory stays bounded
//! whatever the file sizes: each transfer first reserves, from the storage's memory budget
//! ([`Tuning::memory_budget`]), what it may buffer at most (parts in flight, write batches),
//! so many large files wait for each other rather than pile up.
//!
//! * get: the object as a scan (or [`Storage::stat`]) described it is read without another
//!   request for its size — in one streamed GET, or, from [`Tuning::ranged_get_cutoff`] on,
//!   in ranged parts fetched concurrently (pinned to the listed ETag, so a replaced object
//!   cannot mix in). Bytes go to a temporary file in the target's folder and are hashed
//!   (SHA-256, and MD5 for an S3 single-part ETag) on the way; the size and any hash the
//!   storage knows (the ETag, or the SHA-256 dpipe stored with the object, from the listing
//!   or the GET's own response) are checked; the download is then staged, and only made
//!   durable and renamed to its final name when committed ([`crate::staging`]). A failed get
//!   leaves no partial file under a final name.
//! * put: files larger than the part size go up in parts (S3 multipart), with the file's
//!   SHA-256 as user metadata ([`SHA256_METADATA_KEY`]), because a multipart ETag is no MD5;
//!   a single-part object's ETag is its MD5 and needs none. The upload hashes what it sends:
//!   a file that changed since its SHA-256 was taken, or while it was read (its size, time or
//!   inode moved), is an [`ErrorKind::Integrity`] error and
//!   the remote keeps its earlier version (on FTP, which cannot abort an upload, it gets the
//!   file as read). An S3 object appears whole when its upload completes and OpenDAL's FTP
//!   writer renames its own temporary upload into place; on `fs` and SFTP the upload goes to a
//!   `.dpipe-*.part` key next to the final one, renamed into place once whole. A killed upload
//!   leaves no partial file under a final name (scans skip dpipe's leftovers).
//!
//! [`Tuning::memory_budget`]: crate::Tuning::memory_budget
//! [`Tuning::ranged_get_cutoff`]: crate::Tuning::ranged_get_cutoff

use std::path::Path;

use dpipe_core::plan::is_single_part_etag;
use futures::TryStreamExt as _;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::local_io::{Hashed, LocalReader, TempWriter, WRITE_BATCH, same_version};
use crate::location::Protocol;
use crate::manifest::{
    ManifestEntry, SHA256_METADATA_KEY, check_key, sha256_of, temp_name_prefix, unsafe_key,
};
use crate::operator::Storage;
use crate::staging::Staged;

/// Local read size of a put.
const READ_BUF: usize = 1024 * 1024;

/// What one transfer moved.
#[derive(Debug, Clone)]
pub struct Transferred {
    /// Bytes moved.
    pub size: u64,
    /// SHA-256 of the bytes moved, hex.
    pub sha256: String,
    /// MD5 of the bytes moved, hex, when it was computed (a get of an object whose ETag is
    /// an MD5).
    pub md5: Option<String>,
    /// The local file as a get wrote it or a put read it (from its open handle, so no later
    /// change can slip in; the rename into place of a get keeps it): lets a caller cache the
    /// hashes without reading the file again.
    pub file: Option<std::fs::Metadata>,
}

impl Storage {
    /// Downloads `object` (an entry of a scan or a stat) into `folder`, at the same relative
    /// path, and commits it on its own (fsync, rename; see [`Staged::commit`]). The key is
    /// checked first (no `..`, absolute path, backslash or NUL), and no folder on the way may
    /// be a symlink. Many files are better staged ([`Storage::stage_into`]) and committed in
    /// batches by a [`Stager`](crate::Stager).
    pub async fn get_into(&self, object: &ManifestEntry, folder: &Path) -> Result<Transferred> {
        self.stage_into(object, folder).await?.commit().await
    }

    /// Downloads `object` (an entry of a scan or a stat) to a temporary file in `folder`, at
    /// the same relative path, and verifies it: the download is then [`Staged`], to be
    /// committed (made durable and renamed into place). The key is checked first (no `..`,
    /// absolute path, backslash or NUL), and no folder on the way may be a symlink.
    pub async fn stage_into(&self, object: &ManifestEntry, folder: &Path) -> Result<Staged> {
        let key = object.path.as_str();
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let mut file = TempWriter::into_folder(folder, key);
        let _budget = self.reserve(self.get_buffer(object.size)).await;

        let reader = self.reader(object).await?;
        let mut stream = reader
            .clone()
            .into_bytes_stream(..)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        // The ETag to check the MD5 against: the listing's, else the GET's own (known once
        // the first bytes arrived).
        let mut md5_etag: Option<String> = None;
        let mut first = true;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::from_stream(e, key, Path::new(key)))?
        {
            if std::mem::take(&mut first) {
                md5_etag = object
                    .etag
                    .clone()
                    .or_else(|| reader.metadata().and_then(|m| m.etag()).map(str::to_string))
                    .map(|t| t.trim_matches('"').to_ascii_lowercase())
                    .filter(|t| is_single_part_etag(t));
                if md5_etag.is_some() {
                    file.with_md5();
                }
            }
            file.write(chunk).await?;
        }
        let (owned_key, size) = (key.to_string(), object.size);
        let stored_sha = object
            .sha256
            .clone()
            .or_else(|| reader.metadata().and_then(sha256_of));
        let check = move |got: &Hashed| {
            let integrity = |what: &str| {
                Err(
                    Error::new(ErrorKind::Integrity, format!("get failed: {what}"))
                        .with("path", owned_key.clone()),
                )
            };
            if got.size != size {
                return integrity(&format!("got {} bytes, the storage said {size}", got.size));
            }
            if let Some(want) = stored_sha
                && !want.eq_ignore_ascii_case(&got.sha256)
            {
                return integrity("SHA-256 differs from the one stored with the object");
            }
            if let (Some(want), Some(md5)) = (md5_etag, &got.md5)
                && *md5 != want
            {
                return integrity("MD5 differs from the object's ETag");
            }
            Ok(())
        };
        // The object's time, as rclone and `aws s3 sync` do: the file's own time then lies in
        // the past, so its hashes can be cached at once (see dpipe-client's local scan).
        file.stage(key, object.modified, check).await
    }

    /// Whether an object of `size` bytes is fetched in ranged parts.
    fn ranged(&self, size: u64) -> bool {
        size >= self.tuning.ranged_get_cutoff && size > self.tuning.part_size as u64
    }

    /// The most a get of `size` bytes buffers: its ranged parts in flight, or (streamed) a
    /// write batch and what the network hands over meanwhile.
    fn get_buffer(&self, size: u64) -> u64 {
        let parts = if self.ranged(size) {
            self.tuning.part_size as u64 * self.tuning.part_concurrency.max(1) as u64
        } else {
            0
        };
        size.min(parts + 2 * WRITE_BATCH as u64)
    }

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

    /// A reader of `object` that needs no request for its size: one streamed GET below the
    /// ranged-get cutoff, concurrent ranged GETs from it on (pinned to the listed ETag, if
    /// any).
    async fn reader(&self, object: &ManifestEntry) -> Result<opendal::Reader> {
        let mut reader = self
            .op
            .reader_with(&object.path)
            .content_length_hint(object.size);
        if self.ranged(object.size) {
            reader = reader
                .chunk(self.tuning.part_size)
                .concurrent(self.tuning.part_concurrency.max(1));
            if let Some(etag) = &object.etag {
                reader = reader.if_match(&format!("\"{etag}\""));
            }
        }
        reader
            .await
            .map_err(|e| Error::from_opendal(e, "get", &object.path))
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
        // An S3 object appears whole when its upload completes, and OpenDAL's FTP writer
        // uploads to a temporary name it renames at the end (FTP offers no other rename).
        // Elsewhere the bytes go to a temporary key next to the final one, renamed into place
        // once whole. Either way a killed upload leaves no partial file under the final name.
        let target = match self.protocol {
            Protocol::S3 | Protocol::Ftp => key.to_string(),
            Protocol::Fs | Protocol::Sftp => temp_key(key),
        };
        let _budget = self.reserve(self.put_buffer(size)).await;
        let result = self.put_to(file, source, key, &target, &meta, sha256).await;
        if target != key {
            match result {
                Ok(done) => {
                    if let Err(e) = self.op.rename(&target, key).await {
                        let _ = self.op.delete(&target).await;
                        return Err(Error::from_opendal(e, "put", key));
                    }
                    return Ok(done);
                }
                Err(e) => {
                    let _ = self.op.delete(&target).await;
                    return Err(e);
                }
            }
        }
        result
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
        let mut writer = self.op.writer_with(target);
        // What the bytes sent must hash to: the caller's SHA-256, or the one announced.
        let mut expected = sha256.map(str::to_ascii_lowercase);
        if self.protocol == Protocol::S3 {
            writer = writer
                .chunk(self.tuning.part_size)
                .concurrent(self.tuning.part_concurrency.max(1));
            if size > self.tuning.part_size as u64 {
                let sha = match expected.take() {
                    Some(known) => known,
                    None => hash_file(source).await?,
                };
                writer = writer.user_metadata([(SHA256_METADATA_KEY.to_string(), sha.clone())]);
                expected = Some(sha);
            }
        }
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
            return Err(Error::new(
                ErrorKind::Integrity,
                "put failed: the local file changed since it was hashed, or during the upload",
            )
            .with("local", source.display().to_string())
            .with("path", key));
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
        })
    }

    /// SHA-256 (hex) of the content of `object` (an entry of a scan or a stat), streamed
    /// (nothing is written).
    pub async fn hash_object(&self, object: &ManifestEntry) -> Result<String> {
        let key = object.path.as_str();
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let _budget = self.reserve(self.get_buffer(object.size)).await;
        let mut stream = self
            .reader(object)
            .await?
            .into_bytes_stream(..)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        let mut sha = Sha256::new();
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::from_stream(e, key, Path::new(key)))?
        {
            sha.update(&chunk);
        }
        Ok(hex::encode(sha.finalize()))
    }

    /// Deletes `key`. Deleting a key that does not exist succeeds.
    pub async fn delete(&self, key: &str) -> Result<()> {
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        self.op
            .delete(key)
            .await
            .map_err(|e| Error::from_opendal(e, "delete", key))
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

/// SHA-256 (hex) of a local file, streamed.
pub async fn hash_file(path: &Path) -> Result<String> {
    let (mut file, _) = LocalReader::open(path).await?;
    while !file.read(READ_BUF).await?.is_empty() {}
    Ok(file.finish()?.0)
}
