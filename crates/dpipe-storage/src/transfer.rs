//! Streamed, verified transfers between a local file and a [`Storage`]. Memory stays bounded
//! by the part size × part concurrency, whatever the file size.
//!
//! * get: bytes stream into a temporary file in the target's folder while SHA-256 (and MD5,
//!   for an S3 single-part ETag) is computed; the size and any hash the storage knows are
//!   checked, the file is fsynced and only then renamed to its final name. A failed get leaves
//!   no partial file under a final name.
//! * put: files larger than the part size go up in parts (S3 multipart). On S3 the file's
//!   SHA-256 is computed first and sent as user metadata ([`SHA256_METADATA_KEY`]), because a
//!   multipart ETag is no MD5; the upload pass hashes again and a file changed meanwhile is an
//!   [`ErrorKind::Integrity`] error with the object removed. On `fs` the upload goes to a
//!   `.dpipe-*.part` key next to the final one and is renamed into place once whole, so a
//!   killed upload leaves no partial file under a final name (scans skip such leftovers).

use std::path::{Path, PathBuf};

use futures::TryStreamExt as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::error::{Error, ErrorKind, Result};
use crate::location::Protocol;
use crate::manifest::{SHA256_METADATA_KEY, TEMP_PREFIX, check_key, unsafe_key};
use crate::operator::Storage;

/// Local read size of a put.
const READ_BUF: usize = 256 * 1024;

/// What one transfer moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// Bytes moved.
    pub size: u64,
    /// SHA-256 of the bytes moved, hex.
    pub sha256: String,
}

impl Storage {
    /// Downloads `key` into `folder`, at the same relative path. The key is checked first
    /// (no `..`, absolute path, backslash or NUL), and no folder on the way may be a symlink.
    pub async fn get_into(&self, key: &str, folder: &Path) -> Result<Transferred> {
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
        self.get_to_file(key, &dest).await
    }

    /// Downloads `key` to the local file `dest` (its folder must exist), atomically.
    pub async fn get_to_file(&self, key: &str, dest: &Path) -> Result<Transferred> {
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let expected = self.stat(key).await?;
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

        let reader = self
            .op
            .reader_with(key)
            .chunk(self.tuning.part_size)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        let mut stream = reader
            .into_bytes_stream(..)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        let etag_md5 = expected
            .etag
            .as_deref()
            .filter(|t| is_md5_hex(t))
            .map(str::to_ascii_lowercase);
        let mut sha = Sha256::new();
        let mut md5 = etag_md5.as_ref().map(|_| Md5::new());
        let mut size = 0u64;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::from_io(e, "get", dest))?
        {
            sha.update(&chunk);
            if let Some(m) = md5.as_mut() {
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
        if size != expected.size {
            return Err(integrity(&format!(
                "got {size} bytes, the storage said {}",
                expected.size
            )));
        }
        if let Some(want) = &expected.sha256
            && !want.eq_ignore_ascii_case(&sha256)
        {
            return Err(integrity(
                "SHA-256 differs from the one stored with the object",
            ));
        }
        if let (Some(want), Some(m)) = (etag_md5, md5)
            && hex::encode(m.finalize()) != want
        {
            return Err(integrity("MD5 differs from the object's ETag"));
        }
        file.sync_all()
            .await
            .map_err(|e| Error::from_io(e, "fsync", &temp_path))?;
        drop(file);
        temp_path
            .persist(dest)
            .map_err(|e| Error::from_io(e.error, "rename into place", dest))?;
        // The rename itself must survive a crash: fsync the folder.
        if let Ok(dir) = std::fs::File::open(&parent) {
            let _ = dir.sync_all();
        }
        Ok(Transferred { size, sha256 })
    }

    /// Uploads the local file `source` to `key`, in parts when it is larger than the part size.
    pub async fn put(&self, source: &Path, key: &str) -> Result<Transferred> {
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
        // On `fs` the bytes go to a temporary key next to the final one, renamed into place
        // once whole: a killed upload leaves no partial file under the final name.
        let target = if self.protocol == Protocol::Fs {
            temp_key(key)
        } else {
            key.to_string()
        };
        let result = self.put_to(source, key, &target, size).await;
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

    /// Uploads `source` (`size` bytes) to `target`, the final `key` or a temporary key.
    async fn put_to(
        &self,
        source: &Path,
        key: &str,
        target: &str,
        size: u64,
    ) -> Result<Transferred> {
        let mut writer = self.op.writer_with(target);
        let mut announced = None;
        if self.protocol == Protocol::S3 {
            let sha = hash_file(source).await?;
            writer = writer
                .chunk(self.tuning.part_size)
                .concurrent(self.tuning.part_concurrency.max(1))
                .user_metadata([(SHA256_METADATA_KEY.to_string(), sha.clone())]);
            announced = Some(sha);
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
                let _ = writer.abort().await;
                return Err(Error::from_opendal(e, "put", key));
            }
        }
        let sha256 = hex::encode(sha.finalize());
        let changed = sent != size || announced.as_ref().is_some_and(|a| *a != sha256);
        if changed {
            let _ = writer.abort().await;
            let _ = self.op.delete(target).await;
            return Err(Error::new(
                ErrorKind::Integrity,
                "put failed: the local file changed during the upload",
            )
            .with("local", source.display().to_string())
            .with("path", key));
        }
        writer
            .close()
            .await
            .map_err(|e| Error::from_opendal(e, "put", key))?;
        Ok(Transferred { size: sent, sha256 })
    }

    /// SHA-256 (hex) of the content of `key`, streamed (nothing is written).
    pub async fn hash_object(&self, key: &str) -> Result<String> {
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let reader = self
            .op
            .reader_with(key)
            .chunk(self.tuning.part_size)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        let mut stream = reader
            .into_bytes_stream(..)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        let mut sha = Sha256::new();
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::from_io(e, "get", Path::new(key)))?
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
