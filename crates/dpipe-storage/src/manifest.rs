//! Scans of a storage into a [`Manifest`]: every file under a prefix with its relative path,
//! size, modification time and, where the storage has one, its ETag or dpipe's own SHA-256.
//! The manifest types and the key rule ([`check_key`]) are dpipe-core's; keys that fail the
//! rule are reported as [`RejectedKey`]s.
//!
//! A scan walks the tree one folder at a time (S3: a delimiter listing per prefix), several
//! folders at once. On S3 this is the listing rclone does by default: a wide tree is listed in
//! parallel rather than one 1,000-key page after another, and a server that walks its disk for
//! every listing (s3s-fs) walks only the folder asked for.

use std::collections::BTreeSet;
use std::time::SystemTime;

use futures::stream::FuturesUnordered;
use futures::{StreamExt as _, TryStreamExt as _};
use opendal::{Entry, EntryMode, Metadata};

pub use dpipe_core::manifest::{Manifest, ManifestEntry, RejectedKey, check_key};

use crate::error::{Error, ErrorKind, Result};
use crate::operator::Storage;

/// The user-metadata key under which dpipe stores a file's full SHA-256 (hex) on upload:
/// S3 sends it as `x-amz-meta-dpipe-sha256`.
pub const SHA256_METADATA_KEY: &str = "dpipe-sha256";

/// What one folder listing found.
struct Listed {
    files: Vec<Entry>,
    folders: Vec<String>,
}

impl Storage {
    /// Lists every file under `prefix` (relative to the location's root; `""` for all).
    pub async fn scan(&self, prefix: &str) -> Result<Manifest> {
        let prefix = normalize_prefix(prefix)?;
        self.walk(&prefix, vec![prefix.clone()], true).await
    }

    /// Lists the files directly in each of `folders` (relative to the location's root, `""`
    /// for the root itself), not below them; paths in the manifest are relative to the root.
    /// A push lists the folders it wrote to, to record its objects as a scan sees them.
    pub async fn scan_folders(&self, folders: &BTreeSet<String>) -> Result<Manifest> {
        let folders = folders
            .iter()
            .map(|f| normalize_prefix(f))
            .collect::<Result<Vec<_>>>()?;
        self.walk("", folders, false).await
    }

    /// Lists `folders` (normalised prefixes), `concurrency` at a time, and — when `descend` —
    /// every folder found in them; paths are made relative to `base`.
    async fn walk(&self, base: &str, mut folders: Vec<String>, descend: bool) -> Result<Manifest> {
        let mut manifest = Manifest::default();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < self.tuning.concurrency.max(1)
                && let Some(folder) = folders.pop()
            {
                running.push(self.list_folder(folder));
            }
            let Some(listed) = running.next().await else {
                break;
            };
            let listed = listed?;
            if descend {
                folders.extend(listed.folders);
            }
            for entry in listed.files {
                self.add_entry(base, entry, &mut manifest).await;
            }
        }
        manifest.entries.sort_by(|a, b| a.path.cmp(&b.path));
        manifest.rejected.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(manifest)
    }

    /// The files and sub-folders directly in `folder` (a normalised prefix).
    async fn list_folder(&self, folder: String) -> Result<Listed> {
        let scan_error = |e| Error::from_opendal(e, "scan", &folder);
        let mut lister = self.op.lister(&folder).await.map_err(scan_error)?;
        let mut listed = Listed {
            files: Vec::new(),
            folders: Vec::new(),
        };
        while let Some(entry) = lister.try_next().await.map_err(scan_error)? {
            let path = entry.path();
            if entry.metadata().mode() == EntryMode::DIR || path.ends_with('/') {
                // Some services list the folder itself.
                if path.trim_start_matches('/') != folder {
                    listed
                        .folders
                        .push(path.trim_start_matches('/').to_string());
                }
            } else {
                listed.files.push(entry);
            }
        }
        Ok(listed)
    }

    /// Adds the file `entry` to `manifest` under its path relative to `base`, or to its
    /// rejected keys; dpipe's own temporary files are left out.
    async fn add_entry(&self, base: &str, entry: Entry, manifest: &mut Manifest) {
        let raw = entry.path();
        let relative = raw.trim_start_matches('/');
        let relative = relative.strip_prefix(base).unwrap_or(relative);
        if is_temp_name(relative) {
            return;
        }
        if let Err(reason) = check_key(relative) {
            manifest.rejected.push(RejectedKey {
                key: relative.to_string(),
                reason,
            });
            return;
        }
        let mut meta = entry.metadata().clone();
        // Some listings (FTP's LIST on some servers) leave size and time out: ask once.
        if meta.content_length() == 0
            && meta.last_modified().is_none()
            && let Ok(stat) = self.op.stat(raw).await
        {
            meta = stat;
        }
        manifest.entries.push(entry_of(relative, &meta));
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
        Ok(entry_of(path, &meta))
    }
}

/// The manifest entry of the object at `path` as `meta` describes it.
pub(crate) fn entry_of(path: &str, meta: &Metadata) -> ManifestEntry {
    ManifestEntry {
        path: path.to_string(),
        size: meta.content_length(),
        modified: meta.last_modified().map(SystemTime::from),
        etag: meta.etag().map(|t| t.trim_matches('"').to_string()),
        sha256: sha256_of(meta),
        md5: None,
    }
}

/// The SHA-256 dpipe stored with an object (user metadata), if `meta` carries it.
pub(crate) fn sha256_of(meta: &Metadata) -> Option<String> {
    meta.user_metadata()
        .and_then(|m| m.get(SHA256_METADATA_KEY))
        .map(str::to_string)
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

/// The prefix of dpipe's temporary files: partial downloads and (on `fs` and SFTP) partial
/// uploads. Scans of either side skip such names. Those dpipe makes now go on with the id of
/// the process that writes them and a `-`, so that a later run can tell the leftovers of a
/// killed one ([`is_abandoned_temp`]).
pub const TEMP_PREFIX: &str = ".dpipe-";

/// The start of the names of this process's temporary files: `.dpipe-<pid>-`.
pub(crate) fn temp_name_prefix() -> String {
    format!("{TEMP_PREFIX}{}-", std::process::id())
}

/// Whether `name` (a file name, no folder) is a temporary file of a dpipe process that no
/// longer runs on this machine: what a killed run left. A name without a process id (another
/// program's, or an older dpipe's) or whose process still runs is not.
pub fn is_abandoned_temp(name: &str) -> bool {
    let Some((pid, _)) = name
        .strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.split_once('-'))
    else {
        return false;
    };
    let Some(pid) = pid
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    // No such process (ESRCH); EPERM means it exists under another user.
    rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temporary_files_of_ended_processes_are_abandoned() {
        let mine = format!("{}Ab12.part", temp_name_prefix());
        assert!(!is_abandoned_temp(&mine), "this process runs");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let ended = child.id();
        child.wait().unwrap();
        assert!(is_abandoned_temp(&format!(".dpipe-{ended}-Ab12.part")));
        // Not dpipe's, no process id, or not a number: never judged abandoned.
        for name in [
            "data.bin",
            ".dpipe-Ab12cd.part",
            ".dpipe-12x-Ab12.part",
            ".dpipe--Ab12.part",
            &format!("other-{ended}-Ab12.part"),
        ] {
            assert!(!is_abandoned_temp(name), "{name}");
        }
        // Process 1 always runs (whether or not this user may signal it).
        assert!(!is_abandoned_temp(".dpipe-1-Ab12.part"));
    }
}
