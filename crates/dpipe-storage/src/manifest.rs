//! A recursive scan of a prefix into a [`Manifest`]: every file under it with its relative path,
//! size, modification time and, where the storage has one, its ETag or dpipe's own SHA-256.
//!
//! Keys from storage are untrusted: one that would land outside the pipe's folder once joined
//! to it (`..` segments, an absolute path, a backslash, a NUL, an empty segment) is not an entry
//! but a [`RejectedKey`], reported to the caller — never silently dropped, never written.

use std::time::SystemTime;

use futures::TryStreamExt as _;
use opendal::EntryMode;

use crate::error::{Error, ErrorKind, Result};
use crate::operator::Storage;

/// The user-metadata key under which dpipe stores a file's full SHA-256 (hex) on upload:
/// S3 sends it as `x-amz-meta-dpipe-sha256`.
pub const SHA256_METADATA_KEY: &str = "dpipe-sha256";

/// One file of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The path relative to the scanned prefix, `/`-separated, safe to join to a local folder.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time, when the storage says.
    pub modified: Option<SystemTime>,
    /// The storage's ETag, quotes removed (S3; an MD5 only for single-part uploads).
    pub etag: Option<String>,
    /// The SHA-256 (hex) dpipe stored with the object, when known without reading it.
    pub sha256: Option<String>,
}

/// A key that was refused because it would escape the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedKey {
    /// The key as the storage listed it, relative to the scanned prefix.
    pub key: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// Every file under a prefix, sorted by path, plus the keys refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Safe entries, sorted by `path`.
    pub entries: Vec<ManifestEntry>,
    /// Refused keys, sorted by `key`.
    pub rejected: Vec<RejectedKey>,
}

impl Manifest {
    /// The entry at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&ManifestEntry> {
        self.entries
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Total bytes of the entries.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

/// Checks that `key` is a relative `/`-separated path that stays inside its folder.
pub fn check_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        return Err("empty key");
    }
    if key.contains('\0') {
        return Err("contains NUL");
    }
    if key.contains('\\') {
        return Err("contains a backslash");
    }
    if key.starts_with('/') {
        return Err("absolute path");
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err("empty path segment"),
            "." | ".." => return Err("dot segment (`.` or `..`)"),
            _ => {}
        }
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::check_key;

    #[test]
    fn keys_that_escape_are_refused() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a\\b",
            "..\\..\\x",
            "a\0b",
            "a//b",
            "a/",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} must be refused");
        }
        for good in [
            "a",
            "a/b.csv",
            "with space/ü %20 'q\" .txt",
            "..a",
            "a..",
            ".hidden",
        ] {
            assert!(check_key(good).is_ok(), "{good:?} must be accepted");
        }
    }
}
