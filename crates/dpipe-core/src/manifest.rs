//! File manifests: every file of a pipe's folder with what is known of its content, and the
//! rule that decides which storage keys may become local paths at all.
//!
//! Keys from storage are untrusted: one that would land outside the pipe's folder once joined
//! to it (`..` segments, an absolute path, a backslash, a NUL, an empty segment) is not an entry
//! but a [`RejectedKey`], reported to the caller — never silently dropped, never written.

use std::time::SystemTime;

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
    /// The SHA-256 (hex) dpipe stored with the object, when known without reading it; for a
    /// local file, its content hash.
    pub sha256: Option<String>,
    /// The MD5 (hex) of a local file, to compare with an S3 ETag of a single-part upload.
    pub md5: Option<String>,
}

/// What dpipe recorded of a file when it last synced it, on both sides: the state a later
/// run compares against to tell who changed what since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedFile {
    /// The path relative to the pipe's folder.
    pub path: String,
    /// Size in bytes (the same on both sides after a sync).
    pub size: u64,
    /// SHA-256 (hex) of the content synced.
    pub sha256: String,
    /// The local file's modification time right after the sync.
    pub local_modified: Option<SystemTime>,
    /// The remote object's ETag right after the sync.
    pub remote_etag: Option<String>,
    /// The remote object's modification time right after the sync.
    pub remote_modified: Option<SystemTime>,
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
