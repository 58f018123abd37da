//! A recursive scan of a prefix into a [`Manifest`]: every file under it with its relative path,
//! size, modification time and, where the storage has one, its ETag or dpipe's own SHA-256.
//! The manifest types and the key rule ([`check_key`]) are dpipe-core's; keys that fail the
//! rule are reported as [`RejectedKey`]s.

use std::time::SystemTime;

use futures::TryStreamExt as _;
use opendal::EntryMode;

pub use dpipe_core::manifest::{Manifest, ManifestEntry, RejectedKey, check_key};

use crate::error::{Error, ErrorKind, Result};
use crate::operator::Storage;

/// The user-metadata key under which dpipe stores a file's full SHA-256 (hex) on upload:
/// S3 sends it as `x-amz-meta-dpipe-sha256`.
pub const SHA256_METADATA_KEY: &str = "dpipe-sha256";

impl Storage {
    /// Lists every file under `prefix` (relative to the location's root; `""` for all).
    pub async fn scan(&self, prefix: &str) -> Result<Manifest> {
        let prefix = normalize_prefix(prefix)?;
        let mut lister = self
            .op
            .lister_with(&prefix)
            .recursive(true)
            .await
            .map_err(|e| Error::from_opendal(e, "scan", &prefix))?;
        let mut manifest = Manifest::default();
        while let Some(entry) = lister
            .try_next()
            .await
            .map_err(|e| Error::from_opendal(e, "scan", &prefix))?
        {
            let mut meta = entry.metadata().clone();
            if meta.mode() == EntryMode::DIR || entry.path().ends_with('/') {
                continue;
            }
            let raw = entry.path();
            // OpenDAL gives paths relative to the root without a leading `/`; strip the prefix.
            let relative = raw.strip_prefix(prefix.as_str()).unwrap_or(raw);
            // dpipe's own partial uploads (see `put`), left behind by a killed run.
            if is_temp_name(relative) {
                continue;
            }
            if let Err(reason) = check_key(relative) {
                manifest.rejected.push(RejectedKey {
                    key: relative.to_string(),
                    reason,
                });
                continue;
            }
            // Some listings (FTP, S3 servers without sizes) leave fields out: stat once.
            if meta.content_length() == 0
                && meta.last_modified().is_none()
                && let Ok(stat) = self.op.stat(raw).await
            {
                meta = stat;
            }
            manifest.entries.push(ManifestEntry {
                path: relative.to_string(),
                size: meta.content_length(),
                modified: meta.last_modified().map(SystemTime::from),
                etag: meta.etag().map(|t| t.trim_matches('"').to_string()),
                sha256: meta
                    .user_metadata()
                    .and_then(|m| m.get(SHA256_METADATA_KEY))
                    .map(str::to_string),
                md5: None,
            });
        }
        manifest.entries.sort_by(|a, b| a.path.cmp(&b.path));
        manifest.rejected.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(manifest)
    }

    /// Metadata of one file at `path` (relative to the root).
    pub async fn stat(&self, path: &str) -> Result<ManifestEntry> {
        check_key(path).map_err(|reason| unsafe_key(path, reason))?;
        let meta = self
            .op
            .stat(path)
            .await
            .map_err(|e| Error::from_opendal(e, "stat", path))?;
        if meta.mode() == EntryMode::DIR {
            return Err(
                Error::new(ErrorKind::NotFound, "stat failed: a folder, not a file")
                    .with("path", path),
            );
        }
        Ok(ManifestEntry {
            path: path.to_string(),
            size: meta.content_length(),
            modified: meta.last_modified().map(SystemTime::from),
            etag: meta.etag().map(|t| t.trim_matches('"').to_string()),
            sha256: meta
                .user_metadata()
                .and_then(|m| m.get(SHA256_METADATA_KEY))
                .map(str::to_string),
            md5: None,
        })
    }
}

pub(crate) fn unsafe_key(key: &str, reason: &str) -> Error {
    Error::new(
        ErrorKind::UnsafeKey,
        format!("refused object key: {reason}"),
    )
    .with("path", key.escape_debug().to_string())
}

/// `""` → `""`; `a/b` or `a/b/` → `a/b/`; anything escaping → an error.
fn normalize_prefix(prefix: &str) -> Result<String> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    check_key(trimmed).map_err(|reason| unsafe_key(prefix, reason))?;
    Ok(format!("{trimmed}/"))
}

/// Whether the last segment of `key` names one of dpipe's temporary files (`.dpipe-*`).
pub(crate) fn is_temp_name(key: &str) -> bool {
    key.rsplit('/')
        .next()
        .is_some_and(|name| name.starts_with(TEMP_PREFIX))
}

/// The prefix of dpipe's temporary files: partial downloads and (on `fs`) partial uploads.
pub(crate) const TEMP_PREFIX: &str = ".dpipe-";
