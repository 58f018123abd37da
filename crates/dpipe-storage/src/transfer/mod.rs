//! Streamed, verified transfers between a local file and a [`Storage`]: downloads ([`get`])
//! and uploads ([`put`]), plus what both share — the [`Transferred`] report, hashing an object
//! or a local file, deleting a key. Memory stays bounded whatever the file sizes: each
//! transfer first reserves, from the storage's memory budget ([`Tuning::memory_budget`]),
//! what it may buffer at most (parts in flight, write batches), so many large files wait for
//! each other rather than pile up.
//!
//! [`Tuning::memory_budget`]: crate::Tuning::memory_budget

mod get;
mod put;
mod put_resumable;

pub use put_resumable::resumable_temp_key;
pub mod resume;

use std::path::Path;

use futures::TryStreamExt as _;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, ErrorKind, Result};
use crate::local_io::LocalReader;
use crate::manifest::{ManifestEntry, check_key, unsafe_key};
use crate::operator::Storage;

/// Local read size of a put (and of hashing a local file).
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
    /// Bytes that an earlier, interrupted transfer of the same version had already moved and
    /// that this one verified and kept rather than moved again (0 when it started afresh).
    pub resumed: u64,
}

impl Storage {
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

/// SHA-256 (hex) of a local file, streamed.
pub async fn hash_file(path: &Path) -> Result<String> {
    let (mut file, _) = LocalReader::open(path).await?;
    while !file.read(READ_BUF).await?.is_empty() {}
    Ok(file.finish()?.0)
}

/// The error of an upload whose local file `source` changed since it was hashed, or while it
/// was read: nothing reaches `key`.
pub(crate) fn local_file_changed(source: &Path, key: &str) -> Error {
    Error::new(
        ErrorKind::Integrity,
        "put failed: the local file changed since it was hashed, or during the upload",
    )
    .with("local", source.display().to_string())
    .with("path", key)
}
