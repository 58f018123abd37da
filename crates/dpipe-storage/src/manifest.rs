//! Scans of a storage into a [`Manifest`]: every file under a prefix with its relative path,
//! size, modification time and, where the storage has one, its ETag or dpipe's own SHA-256.
//! The manifest types and the key rule ([`check_key`]) are dpipe-core's; keys that fail the
//! rule, and keys that cannot become files here ([`Manifest::refuse_unplaceable`]: a file and
//! a folder of one name, a name too long, an S3 folder marker), are reported as
//! [`RejectedKey`]s, each once. No key is left out in silence but dpipe's own temporary files.
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

use dpipe_core::manifest::{FOLDER_MARKER, NAMES_A_FOLDER};
pub use dpipe_core::manifest::{Manifest, ManifestEntry, RejectedKey, check_key};

use crate::Protocol;
use crate::error::{Error, ErrorKind, Result};
use crate::operator::Storage;

/// The user-metadata key under which dpipe stores a file's full SHA-256 (hex) on upload:
/// S3 sends it as `x-amz-meta-dpipe-sha256`.
pub const SHA256_METADATA_KEY: &str = "dpipe-sha256";

/// What one folder listing found.
struct Listed {
    files: Vec<Entry>,
    folders: Vec<String>,
    /// Keys found that cannot be files: folder markers, keys under an empty segment.
    refused: Vec<RejectedKey>,
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
    /// every folder found in them; paths are made relative to `base`. Keys that cannot become
    /// files here are refused (see [`Manifest::refuse_unplaceable`]), each once.
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
            manifest
                .rejected
                .extend(listed.refused.into_iter().map(|mut key| {
                    key.key = relative_to(base, &key.key).to_string();
                    key
                }));
        }
        manifest.refuse_unplaceable();
        Ok(manifest)
    }

    /// The files and sub-folders directly in `folder` (a normalised prefix), and the keys
    /// there that name folders rather than files.
    ///
    /// Two kinds of S3 keys need more than a delimiter listing, which is why a scan no longer
    /// skips them in silence:
    /// * a folder marker, the object `e/` itself: listed (with a time, unlike the folder) only
    ///   in the listing of `e/`; refused. The marker of the pipe's own folder is the folder.
    /// * keys with an empty segment (`a//b.txt`, `//x` at the top): their folder `a//` cannot
    ///   be listed, as OpenDAL makes every path it is given normal (`a/`). They are found by
    ///   one listing of everything under `folder` (only when such a folder shows up) and each
    ///   refused by its key.
    async fn list_folder(&self, folder: String) -> Result<Listed> {
        let scan_error = |e| Error::from_opendal(e, "scan", &folder);
        let mut lister = self.op.lister(&folder).await.map_err(scan_error)?;
        let mut listed = Listed {
            files: Vec::new(),
            folders: Vec::new(),
            refused: Vec::new(),
        };
        let empty_segment = format!("{folder}/");
        while let Some(entry) = lister.try_next().await.map_err(scan_error)? {
            let path = entry.path();
            if entry.metadata().mode() != EntryMode::DIR && !path.ends_with('/') {
                listed.files.push(entry);
                continue;
            }
            let is_object = entry.metadata().last_modified().is_some();
            if self.protocol() == Protocol::S3 && is_object {
                // An object named like a folder is listed in that folder's own listing; the
                // pipe's own (`/` at the top) is the pipe's folder, not a key of it.
                if path == folder {
                    listed.refused.push(marker(&entry));
                }
            } else if self.protocol() == Protocol::S3 && path == empty_segment {
                listed
                    .refused
                    .extend(self.under_empty_segment(&folder).await?);
            } else if path.trim_start_matches('/') != folder {
                // Some services list the folder itself.
                listed
                    .folders
                    .push(path.trim_start_matches('/').to_string());
            }
        }
        Ok(listed)
    }

    /// Every key under `folder` that has an empty segment right after it (`{folder}/...`),
    /// refused (see [`Storage::list_folder`]).
    async fn under_empty_segment(&self, folder: &str) -> Result<Vec<RejectedKey>> {
        let scan_error = |e| Error::from_opendal(e, "scan", folder);
        let empty_segment = format!("{folder}/");
        let mut lister = self
            .op
            .lister_with(folder)
            .recursive(true)
            .await
            .map_err(scan_error)?;
        let mut refused = Vec::new();
        while let Some(entry) = lister.try_next().await.map_err(scan_error)? {
            let key = entry.path();
            // At the top, the marker of the pipe's own folder reads as `/`: the folder.
            let own_marker = folder.is_empty() && key == empty_segment;
            if key.starts_with(&empty_segment)
                && entry.metadata().last_modified().is_some()
                && !own_marker
            {
                refused.push(RejectedKey {
                    key: key.to_string(),
                    reason: check_key(key).err().unwrap_or(EMPTY_SEGMENT),
                });
            }
        }
        Ok(refused)
    }

    /// Adds the file `entry` to `manifest` under its path relative to `base`, or to its
    /// rejected keys; dpipe's own temporary files are left out.
    async fn add_entry(&self, base: &str, entry: Entry, manifest: &mut Manifest) {
        let raw = entry.path();
        let relative = relative_to(base, raw.trim_start_matches('/'));
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

/// `key` (relative to the location's root) made relative to the scanned prefix `base`.
fn relative_to<'a>(base: &str, key: &'a str) -> &'a str {
    key.strip_prefix(base).unwrap_or(key)
}

/// The folder marker `entry` (an S3 object whose key ends in `/`), refused: as a marker when
/// empty, as a key that names a folder when it holds bytes.
fn marker(entry: &Entry) -> RejectedKey {
    RejectedKey {
        key: entry.path().to_string(),
        reason: if entry.metadata().content_length() == 0 {
            FOLDER_MARKER
        } else {
            NAMES_A_FOLDER
        },
    }
}

/// Why a key with an empty segment is refused when [`check_key`] names no other reason.
const EMPTY_SEGMENT: &str = "empty path segment";

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
