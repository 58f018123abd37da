//! The local record of one S3 multipart upload in progress: which object, which version of
//! which local file (size, time, inode, SHA-256), the part size, and every part the server
//! acknowledged with its ETag (the MD5 the server computed of what it got) and CRC32C. One
//! small JSON file per object key in [`Tuning::upload_records`], rewritten (write, rename)
//! after each part, removed when the upload completes or is aborted. A record is what lets the
//! next run continue the upload, and only for the very version it was started for: S3 offers
//! no way to learn which bytes an upload holds but the parts' ETags.
//!
//! [`Tuning::upload_records`]: crate::Tuning::upload_records

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// One upload in progress, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    /// The S3 endpoint (empty for AWS's own), so a record is never matched to another server.
    pub endpoint: String,
    pub bucket: String,
    /// The object's full key (the pipe's root included).
    pub key: String,
    pub upload_id: String,
    pub part_size: u64,
    /// The local file's version the upload is of.
    pub version: FileVersion,
    /// When the upload was created, in seconds since the epoch.
    pub started: u64,
    /// The parts the server acknowledged.
    pub parts: Vec<RecordedPart>,
}

/// A version of a local file: what a continued upload must be of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileVersion {
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub modified_ns: u128,
    pub inode: u64,
    /// SHA-256, lowercase hex: also the object's `dpipe-sha256` metadata.
    pub sha256: String,
}

impl FileVersion {
    /// The version of the file whose metadata is `meta` and SHA-256 `sha256`.
    pub(crate) fn of(meta: &Metadata, sha256: &str) -> FileVersion {
        use std::os::unix::fs::MetadataExt as _;
        FileVersion {
            size: meta.len(),
            modified_ns: meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos()),
            inode: meta.ino(),
            sha256: sha256.to_ascii_lowercase(),
        }
    }
}

/// A part the server acknowledged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RecordedPart {
    pub number: i32,
    /// The part's ETag without quotes: on AWS (without KMS) and s3s-fs, the MD5 of its bytes.
    pub etag: String,
    /// The part's CRC32C as the server returned it (base64), needed to complete the upload.
    pub crc32c: Option<String>,
}

impl UploadRecord {
    /// How long ago the upload was created.
    pub(crate) fn age(&self) -> Duration {
        Duration::from_secs(now_secs().saturating_sub(self.started))
    }
}

/// The records of one storage: a folder, or none (then nothing is recorded).
#[derive(Debug, Clone)]
pub(crate) struct Records {
    folder: Option<PathBuf>,
}

impl Records {
    pub(crate) fn new(folder: Option<PathBuf>) -> Records {
        Records { folder }
    }

    /// Whether uploads are recorded (and so may be continued by a later run).
    pub(crate) fn enabled(&self) -> bool {
        self.folder.is_some()
    }

    /// The file of the record of `key` in `bucket` at `endpoint`.
    fn path(&self, endpoint: &str, bucket: &str, key: &str) -> Option<PathBuf> {
        let digest = Sha256::digest(format!("{endpoint}\n{bucket}\n{key}"));
        let name = format!("s3-upload-{}.json", &hex::encode(digest)[..32]);
        self.folder.as_ref().map(|f| f.join(name))
    }

    /// The record of `key`, if there is a readable one.
    pub(crate) fn load(&self, endpoint: &str, bucket: &str, key: &str) -> Option<UploadRecord> {
        let path = self.path(endpoint, bucket, key)?;
        let text = std::fs::read(path).ok()?;
        serde_json::from_slice::<UploadRecord>(&text)
            .ok()
            .filter(|r| r.endpoint == endpoint && r.bucket == bucket && r.key == key)
    }

    /// Writes `record` (to a temporary file renamed over the old one: a kill leaves either).
    pub(crate) fn save(&self, record: &UploadRecord) -> Result<()> {
        let Some(path) = self.path(&record.endpoint, &record.bucket, &record.key) else {
            return Ok(());
        };
        let folder = path.parent().unwrap_or(Path::new("."));
        let io = |e| Error::from_io(e, "record upload", &path);
        std::fs::create_dir_all(folder).map_err(io)?;
        let temp = path.with_extension("json.new");
        let text = serde_json::to_vec(record).expect("a record serializes");
        std::fs::write(&temp, text).map_err(io)?;
        std::fs::rename(&temp, &path).map_err(io)
    }

    /// Removes the record of `key` (none is fine).
    pub(crate) fn remove(&self, endpoint: &str, bucket: &str, key: &str) {
        if let Some(path) = self.path(endpoint, bucket, key) {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Every readable record of `bucket` at `endpoint` whose key starts with `prefix`.
    pub(crate) fn all(&self, endpoint: &str, bucket: &str, prefix: &str) -> Vec<UploadRecord> {
        let Some(Ok(entries)) = self.folder.as_ref().map(std::fs::read_dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|text| serde_json::from_slice::<UploadRecord>(&text).ok())
            .filter(|r| r.endpoint == endpoint && r.bucket == bucket && r.key.starts_with(prefix))
            .collect()
    }
}

/// Now, in seconds since the epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
