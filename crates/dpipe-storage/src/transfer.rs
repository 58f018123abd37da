//! Streamed, verified transfers between a local file and a [`Storage`]. Memory stays bounded
//! whatever the file sizes: each transfer first reserves, from the storage's memory budget
//! ([`Tuning::memory_budget`]), what it may buffer at most (its size, capped at part size ×
//! (part concurrency + 1)), so many large files wait for each other rather than pile up.
//!
//! * get: the object as a scan (or [`Storage::stat`]) described it is read without another
//!   request for its size — in one streamed GET, or, beyond the part size, in ranged parts
//!   fetched concurrently (pinned to the listed ETag, so a replaced object cannot mix in).
//!   Bytes go to a temporary file in the target's folder while SHA-256 (and MD5, for an S3
//!   single-part ETag) is computed; the size and any hash the storage knows (the ETag, or the
//!   SHA-256 dpipe stored with the object, from the listing or the GET's own response) are
//!   checked, the file is fsynced and only then renamed to its final name. A failed get
//!   leaves no partial file under a final name.
//! * put: files larger than the part size go up in parts (S3 multipart), with the file's
//!   SHA-256 as user metadata ([`SHA256_METADATA_KEY`]), because a multipart ETag is no MD5;
//!   a single-part object's ETag is its MD5 and needs none. The upload hashes what it sends:
//!   a file that changed since its SHA-256 was taken is an [`ErrorKind::Integrity`] error and
//!   the remote keeps its earlier version (on FTP, which cannot abort an upload, it gets the
//!   file as read). An S3 object appears whole when its upload completes and OpenDAL's FTP
//!   writer renames its own temporary upload into place; on `fs` and SFTP the upload goes to a
//!   `.dpipe-*.part` key next to the final one, renamed into place once whole. A killed upload
//!   leaves no partial file under a final name (scans skip dpipe's leftovers).
//!
//! [`Tuning::memory_budget`]: crate::Tuning::memory_budget

use std::path::{Path, PathBuf};

use futures::TryStreamExt as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::error::{Error, ErrorKind, Result};
use crate::location::Protocol;
use crate::manifest::{
    ManifestEntry, SHA256_METADATA_KEY, TEMP_PREFIX, check_key, sha256_of, unsafe_key,
};
use crate::operator::Storage;

/// Local read size of a put.
const READ_BUF: usize = 256 * 1024;

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
    /// A get's local file as it was renamed into place (from its open handle, so no later
    /// change can slip in): lets a caller cache the hashes without reading the file again.
    pub file: Option<std::fs::Metadata>,
}

impl Storage {
    /// Downloads `object` (an entry of a scan or a stat) into `folder`, at the same relative
    /// path. The key is checked first (no `..`, absolute path, backslash or NUL), and no
    /// folder on the way may be a symlink.
    pub async fn get_into(&self, object: &ManifestEntry, folder: &Path) -> Result<Transferred> {
        let key = object.path.as_str();
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let dest = folder.join(key);
        let parent = dest.parent().unwrap_or(folder);
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| Error::from_io(e, "create folder", parent))?;
        let real_folder = canonical(folder).await?;
        if !canonical(parent).await?.starts_with(&real_folder) {
            return Err(unsafe_key(
                key,
                "a folder on its way is a symlink out of the target folder",
            ));
        }
        self.get_to_file(object, &dest).await
    }

    /// Downloads `object` (an entry of a scan or a stat) to the local file `dest` (its folder
    /// must exist), atomically.
    pub async fn get_to_file(&self, object: &ManifestEntry, dest: &Path) -> Result<Transferred> {
        let key = object.path.as_str();
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let _budget = self.reserve(object.size).await;
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temp = tempfile::Builder::new()
            .prefix(".dpipe-")
            .suffix(".part")
            .tempfile_in(&parent)
            .map_err(|e| Error::from_io(e, "create temporary file", &parent))?;
        let (std_file, temp_path) = temp.into_parts();
        let mut file = tokio::fs::File::from_std(std_file);

        let reader = self.reader(object).await?;
        let mut stream = reader
            .clone()
            .into_bytes_stream(..)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        let mut sha = Sha256::new();
        // The ETag to check the MD5 against: the listing's, else the GET's own (known once
        // the first bytes arrived).
        let mut md5: Option<(Md5, String)> = None;
        let mut size = 0u64;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::from_stream(e, key, dest))?
        {
            if size == 0 {
                md5 = object
                    .etag
                    .clone()
                    .or_else(|| reader.metadata().and_then(|m| m.etag()).map(str::to_string))
                    .map(|t| t.trim_matches('"').to_ascii_lowercase())
                    .filter(|t| is_md5_hex(t))
                    .map(|t| (Md5::new(), t));
            }
            sha.update(&chunk);
            if let Some((m, _)) = md5.as_mut() {
                m.update(&chunk);
            }
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::from_io(e, "write", &temp_path))?;
        }
        let sha256 = hex::encode(sha.finalize());
        let integrity = |what: &str| {
            Error::new(ErrorKind::Integrity, format!("get failed: {what}")).with("path", key)
        };
        if size != object.size {
            return Err(integrity(&format!(
                "got {size} bytes, the storage said {}",
                object.size
            )));
        }
        let stored_sha = object
            .sha256
            .clone()
            .or_else(|| reader.metadata().and_then(sha256_of));
        if let Some(want) = stored_sha
            && !want.eq_ignore_ascii_case(&sha256)
        {
            return Err(integrity(
                "SHA-256 differs from the one stored with the object",
            ));
        }
        let md5 = md5.map(|(m, want)| (hex::encode(m.finalize()), want));
        if let Some((got, want)) = &md5
            && got != want
        {
            return Err(integrity("MD5 differs from the object's ETag"));
        }
        file.flush()
            .await
            .map_err(|e| Error::from_io(e, "write", &temp_path))?;
        let file = file.into_std().await;
        let modified = object.modified;
        let local = tokio::task::spawn_blocking(move || {
            // The object's time, as rclone and `aws s3 sync` do: the file's own time then lies
            // in the past, so its hashes can be cached at once (see dpipe-client's local scan).
            // A file system that refuses it keeps the time of the download; nothing is lost.
            if let Some(time) = modified {
                let _ = file.set_modified(time);
            }
            file.sync_all()?;
            file.metadata()
        })
        .await
        .map_err(|e| Error::from_io(e.into(), "fsync", &temp_path))?
        .map_err(|e| Error::from_io(e, "fsync", &temp_path))?;
        temp_path
            .persist(dest)
            .map_err(|e| Error::from_io(e.error, "rename into place", dest))?;
        // The rename itself must survive a crash: fsync the folder.
        if let Ok(dir) = std::fs::File::open(&parent) {
            let _ = dir.sync_all();
        }
        Ok(Transferred {
            size,
            sha256,
            md5: md5.map(|(got, _)| got),
            file: Some(local),
        })
    }

    /// A reader of `object` that needs no request for its size: one streamed GET up to the
    /// part size, concurrent ranged GETs beyond it (pinned to the listed ETag, if any).
    async fn reader(&self, object: &ManifestEntry) -> Result<opendal::Reader> {
        let mut reader = self
            .op
            .reader_with(&object.path)
            .content_length_hint(object.size);
        if object.size > self.tuning.part_size as u64 {
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
    /// with nothing left at `key`.
    pub async fn put(&self, source: &Path, key: &str, sha256: Option<&str>) -> Result<Transferred> {
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let size = tokio::fs::metadata(source)
            .await
            .map_err(|e| Error::from_io(e, "put", source))?
            .len();
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
        let _budget = self.reserve(size).await;
        let result = self.put_to(source, key, &target, size, sha256).await;
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

    /// Uploads `source` (`size` bytes, SHA-256 `sha256` if known) to `target`, the final
    /// `key` or a temporary key.
    async fn put_to(
        &self,
        source: &Path,
        key: &str,
        target: &str,
        size: u64,
        sha256: Option<&str>,
    ) -> Result<Transferred> {
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
        let mut file = tokio::fs::File::open(source)
            .await
            .map_err(|e| Error::from_io(e, "put", source))?;
        let mut sha = Sha256::new();
        let mut sent = 0u64;
        loop {
            let mut buf = vec![0u8; READ_BUF];
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| Error::from_io(e, "read", source))?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            sha.update(&buf);
            sent += n as u64;
            if let Err(e) = writer.write(buf).await {
                discard(&mut writer).await;
                return Err(Error::from_opendal(e, "put", key));
            }
        }
        let sha256 = hex::encode(sha.finalize());
        let changed = sent != size || expected.as_ref().is_some_and(|e| *e != sha256);
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
            file: None,
        })
    }

    /// SHA-256 (hex) of the content of `object` (an entry of a scan or a stat), streamed
    /// (nothing is written).
    pub async fn hash_object(&self, object: &ManifestEntry) -> Result<String> {
        let key = object.path.as_str();
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let _budget = self.reserve(object.size).await;
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
    let name = format!("{TEMP_PREFIX}{}-{nanos}-{n}.part", std::process::id());
    match key.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{name}"),
        None => name,
    }
}

/// SHA-256 (hex) of a local file, streamed.
pub async fn hash_file(path: &Path) -> Result<String> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::from_io(e, "hash", path))?;
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| Error::from_io(e, "hash", path))?;
        if n == 0 {
            return Ok(hex::encode(sha.finalize()));
        }
        sha.update(&buf[..n]);
    }
}

fn is_md5_hex(tag: &str) -> bool {
    tag.len() == 32 && tag.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn canonical(path: &Path) -> Result<PathBuf> {
    tokio::fs::canonicalize(path)
        .await
        .map_err(|e| Error::from_io(e, "resolve folder", path))
}
