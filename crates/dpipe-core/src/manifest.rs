//! File manifests: every file of a pipe's folder with what is known of its content, and the
//! rule that decides which storage keys may become local paths at all.
//!
//! Keys from storage are untrusted: one that would land outside the pipe's folder once joined
//! to it (`..` segments, an absolute path, a backslash, a NUL, an empty segment) is not an entry
//! but a [`RejectedKey`], reported to the caller — never silently dropped, never written.
//! So is every key that cannot become a file here though it is safe
//! ([`Manifest::refuse_unplaceable`]): a folder marker or another key ending in `/`, a file
//! whose name is also a folder of other keys (`a` beside `a/b`), a name longer than a local
//! file system takes. They are refused when the storage is scanned, so that a preview, a pull
//! and a status name them before any transfer, instead of a failed rename at the end.

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

/// Why a folder marker is refused: the empty object S3 consoles create to show a folder
/// (`e/`). It holds nothing to sync, but it is still reported, so that no key of a pipe is
/// left out in silence (a marker that does hold bytes is refused as [`NAMES_A_FOLDER`]).
pub const FOLDER_MARKER: &str = "folder marker (an empty object named like a folder), not a file";
/// Why a key ending in `/` that holds bytes is refused.
pub const NAMES_A_FOLDER: &str = "ends with `/`: names a folder, cannot be a file";
/// Why a file is refused whose path is also the folder of other keys.
pub const FILE_FOLDER_CLASH: &str =
    "also the folder of other keys (`NAME/...`): a path cannot be a file and a folder here";
/// Why a key is refused that has a segment longer than [`NAME_MAX`] bytes.
pub const NAME_TOO_LONG: &str = "a path segment is over 255 bytes, the file system's limit";
/// Why a key is refused that is longer than [`PATH_MAX`] bytes.
pub const PATH_TOO_LONG: &str = "path of 4,096 bytes or more, over the file system's limit";

/// The longest file name (one path segment) local file systems take, in bytes (Linux's
/// `NAME_MAX`; ext4, XFS, btrfs, tmpfs).
pub const NAME_MAX: usize = 255;
/// The longest path Linux takes, in bytes (`PATH_MAX`, its final NUL left out). A key is
/// measured alone: the pipe's folder in front of it makes the local path longer still, so a
/// key close to the limit can still fail at its rename, named in the report.
pub const PATH_MAX: usize = 4095;

/// Whether a key refused for `reason` stands for data that is not synced: every refusal but
/// an empty folder marker, which holds nothing (so a run or a status is not whole while one
/// of the others exists).
pub fn refusal_holds_data(reason: &str) -> bool {
    reason != FOLDER_MARKER
}

/// A key that was refused because it would escape the folder or cannot become a file here.
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

    /// Whether the key `path` is among the refused ones: something is there that is not synced.
    pub fn refuses(&self, path: &str) -> bool {
        self.rejected
            .binary_search_by(|k| k.key.as_str().cmp(path))
            .is_ok()
    }

    /// Total bytes of the entries.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// Moves the entries that cannot become files in a local folder to `rejected`, with the
    /// reason: a path over [`PATH_MAX`] bytes or with a segment over [`NAME_MAX`], and a file
    /// whose path is also the folder of other entries (`a` beside `a/b`: the folder's files
    /// are kept, the one file is refused). Then sorts `rejected` and lists each key once.
    pub fn refuse_unplaceable(&mut self) {
        self.entries.sort_by(|a, b| a.path.cmp(&b.path));
        let folders: std::collections::BTreeSet<&str> = self
            .entries
            .iter()
            .flat_map(|e| e.path.match_indices('/').map(|(i, _)| &e.path[..i]))
            .collect();
        let reasons: Vec<Option<&'static str>> = self
            .entries
            .iter()
            .map(|e| placement_error(&e.path, &folders))
            .collect();
        let mut reasons = reasons.into_iter();
        let mut refused = Vec::new();
        self.entries.retain(|e| match reasons.next().flatten() {
            Some(reason) => {
                refused.push(RejectedKey {
                    key: e.path.clone(),
                    reason,
                });
                false
            }
            None => true,
        });
        self.rejected.extend(refused);
        self.rejected.sort_by(|a, b| a.key.cmp(&b.key));
        self.rejected.dedup_by(|a, b| a.key == b.key);
    }
}

/// Why the file at `path` cannot be placed in a local folder where `folders` are the folders
/// the other files need, if it cannot.
fn placement_error(path: &str, folders: &std::collections::BTreeSet<&str>) -> Option<&'static str> {
    if path.len() > PATH_MAX {
        Some(PATH_TOO_LONG)
    } else if path.split('/').any(|segment| segment.len() > NAME_MAX) {
        Some(NAME_TOO_LONG)
    } else if folders.contains(path) {
        Some(FILE_FOLDER_CLASH)
    } else {
        None
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
    if key.ends_with('/') {
        return Err(NAMES_A_FOLDER);
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
    use super::*;

    fn file(path: &str) -> ManifestEntry {
        ManifestEntry {
            path: path.to_string(),
            size: 1,
            modified: None,
            etag: None,
            sha256: None,
            md5: None,
        }
    }

    #[test]
    fn keys_that_cannot_be_files_here_are_refused_once() {
        let long_name = "n".repeat(NAME_MAX + 1);
        let longest_name = "n".repeat(NAME_MAX);
        let long_path = vec!["d"; PATH_MAX / 2 + 2].join("/");
        let mut manifest = Manifest {
            entries: [
                "a",
                "a/b",
                "a/b/c",
                "ab",
                &format!("x/{long_name}"),
                &format!("x/{longest_name}"),
                &long_path,
                "z",
            ]
            .into_iter()
            .map(file)
            .collect(),
            // Already refused once by the scan: not listed twice.
            rejected: vec![RejectedKey {
                key: "a".into(),
                reason: FILE_FOLDER_CLASH,
            }],
        };
        manifest.refuse_unplaceable();
        let kept: Vec<&str> = manifest.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(kept, ["a/b/c", "ab", &format!("x/{longest_name}"), "z"]);
        let refused: Vec<(&str, &str)> = manifest
            .rejected
            .iter()
            .map(|k| (k.key.as_str(), k.reason))
            .collect();
        assert_eq!(
            refused,
            [
                ("a", FILE_FOLDER_CLASH),
                ("a/b", FILE_FOLDER_CLASH),
                (long_path.as_str(), PATH_TOO_LONG),
                (&format!("x/{long_name}"), NAME_TOO_LONG),
            ]
        );
    }

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
            "e/",
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
