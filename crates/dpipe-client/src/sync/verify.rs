//! `verify`: every local file of a pipe that the last sync recorded, read afresh (never through
//! the hash cache, so bit rot or a write that kept size and time is caught) and compared with
//! the SHA-256 recorded; optionally each recorded file's object too, by the storage's own
//! checksum where it keeps one. Reads, changes nothing: neither the files, nor the sync state,
//! nor the hash cache.
//!
//! Classes of a recorded file: ok, `changed` (its content hashes differently), `missing` (not
//! on disk as a regular file); and, with the remote compared, `remote differs` and `remote
//! missing`. A file on disk within the pipe's include/exclude that no sync recorded is listed
//! as `unrecorded`: it is not damage, only not synced yet (`status` says what a push would
//! send).
//!
//! The remote is compared from one scan of the storage, never by downloading: an object's
//! SHA-256 dpipe stored with it (S3 multipart uploads; a listing lacks it, so those objects
//! get one HEAD each, as do objects listed without an ETag), else on S3 its single-part ETag (an MD5) against the MD5 of the
//! recorded content (the local file's, read in the same pass, when it still holds that
//! content; else the ETag seen at the last sync), else its size. Storage that keeps no
//! checksums (fs, FTP, SFTP) is compared by size only, and the report says so.

use std::collections::BTreeMap;

use dpipe_core::manifest::{Manifest, ManifestEntry, SyncedFile};
use dpipe_core::plan::is_single_part_etag;
use dpipe_core::role::Access;
use dpipe_storage::{Location, Protocol, Storage};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::local_scan::{Hashing, read_afresh};
use super::location::{location_for, storage_error};
use super::scan::view_filter;
use super::{SyncState, Syncer};
use crate::Result;

/// What verifying a pipe found. Serialized as is for `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// The pipe.
    pub pipe: String,
    /// Recorded files verified (every file the last sync recorded); 0: nothing recorded yet.
    pub verified: usize,
    /// Recorded files found as recorded (locally and, if compared, remotely).
    pub ok: usize,
    /// Local files whose content differs from what was recorded.
    pub changed: Vec<Mismatch>,
    /// Recorded files not on disk (or no longer regular files).
    pub missing: Vec<Mismatch>,
    /// Files on disk within the pipe's include/exclude that no sync recorded.
    pub unrecorded: Vec<Unrecorded>,
    /// The comparison with the storage; `None` when not asked for or nothing is recorded.
    pub remote: Option<RemoteVerdict>,
}

impl VerifyReport {
    /// Recorded files that differ in any way (locally or remotely).
    pub fn differ(&self) -> usize {
        self.verified - self.ok
    }
}

/// One recorded file found otherwise than recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The path relative to the pipe's folder.
    pub path: String,
    /// What was compared.
    pub by: Basis,
    /// What the record says.
    pub expected: Evidence,
    /// What was found; `None` when nothing is there.
    pub found: Option<Evidence>,
}

/// What a comparison compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// The SHA-256 of the content.
    Sha256,
    /// The MD5 of the content against a single-part S3 ETag.
    Md5,
    /// The size only: the storage keeps no checksum of the object.
    Size,
}

/// A hash (lowercase hex) or a size in bytes; a JSON string or number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Evidence {
    /// A hash, lowercase hex.
    Hash(String),
    /// Bytes.
    Size(u64),
}

/// A file on disk that no sync recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unrecorded {
    /// The path relative to the pipe's folder.
    pub path: String,
    /// Bytes.
    pub size: u64,
}

/// How the recorded files compare with the storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteVerdict {
    /// Whether the storage keeps checksums (S3); without, every object was compared by size.
    pub checksums: bool,
    /// Objects compared by size only (all of them when the storage keeps no checksums; on S3
    /// multipart objects that other tools uploaded, without dpipe's SHA-256).
    pub by_size: usize,
    /// Recorded files whose object differs.
    pub differs: Vec<Mismatch>,
    /// Recorded files with no object.
    pub missing: Vec<Mismatch>,
}

impl Syncer<'_> {
    /// Verifies `pipe` (see the module docs); with `remote`, its storage too, which needs the
    /// pipe's read credentials. The files are read on several threads when there is much to
    /// read; the syncer's progress hears each one read. An unknown pipe is
    /// [`crate::ErrorKind::NotFound`] before anything is read.
    pub fn verify(&self, pipe: &str, remote: bool) -> Result<VerifyReport> {
        let view = self.api.get_pipe(pipe)?;
        let filter = view_filter(&view.options, None, None)?;
        let state = SyncState::open(&self.repo)?;
        let recorded = state.synced(&view.name)?;
        // Nothing recorded, nothing to compare: the storage is not asked.
        let location = if remote && !recorded.is_empty() {
            let credentials = self.api.credentials(&view.name, Access::Read)?;
            Some(location_for(&view, &credentials)?)
        } else {
            None
        };
        // The MD5 of a recorded file can decide only against a single-part S3 ETag.
        let with_md5 = location
            .as_ref()
            .is_some_and(|l| l.protocol == Protocol::S3);
        let hashing = |path: &str| match recorded.contains_key(path) {
            false => Hashing::Not,
            true if with_md5 => Hashing::Sha256AndMd5,
            true => Hashing::Sha256,
        };
        let folder = self.folder(&view.name);
        let local = read_afresh(&folder, &view.name, &state, &hashing, self.progress)?;
        let (changed, missing) = compare_local(&recorded, &local);
        let unrecorded = local
            .entries
            .iter()
            .filter(|e| !recorded.contains_key(&e.path) && filter.matches(&e.path))
            .map(|e| Unrecorded {
                path: e.path.clone(),
                size: e.size,
            })
            .collect();
        let remote = location
            .map(|location| self.compare_remote(&view.name, &location, &recorded, &local))
            .transpose()?;
        let differ = differing_paths(&changed, &missing, remote.as_ref());
        Ok(VerifyReport {
            pipe: view.name.clone(),
            verified: recorded.len(),
            ok: recorded.len() - differ,
            changed,
            missing,
            unrecorded,
            remote,
        })
    }

    /// Compares each recorded file with its object in one scan of the storage at `location`
    /// (see the module docs).
    fn compare_remote(
        &self,
        pipe: &str,
        location: &Location,
        recorded: &BTreeMap<String, SyncedFile>,
        local: &Manifest,
    ) -> Result<RemoteVerdict> {
        let checksums = location.protocol == Protocol::S3;
        let storage = Storage::connect(location, self.tuning.clone())
            .map_err(storage_error(pipe, Access::Read))?;
        let objects = self.runtime.block_on(async {
            let mut objects = storage.scan("").await?;
            if checksums {
                let concurrency = self.tuning.concurrency;
                add_stored_sha256(&storage, &mut objects, recorded, concurrency).await?;
            }
            Ok::<_, dpipe_storage::Error>(objects)
        });
        let objects = objects.map_err(storage_error(pipe, Access::Read))?;
        let mut verdict = RemoteVerdict {
            checksums,
            by_size: 0,
            differs: Vec::new(),
            missing: Vec::new(),
        };
        for (path, record) in recorded {
            let Some(object) = objects.get(path) else {
                verdict.missing.push(Mismatch {
                    path: path.clone(),
                    by: Basis::Size,
                    expected: Evidence::Size(record.size),
                    found: None,
                });
                continue;
            };
            let (by, expected, found) = remote_evidence(record, object, local.get(path), checksums);
            if by == Basis::Size {
                verdict.by_size += 1;
            }
            if expected != found {
                verdict.differs.push(Mismatch {
                    path: path.clone(),
                    by,
                    expected,
                    found: Some(found),
                });
            }
        }
        Ok(verdict)
    }
}

/// How many paths differ in any way (a file can be both changed and differ remotely).
fn differing_paths(
    changed: &[Mismatch],
    missing: &[Mismatch],
    remote: Option<&RemoteVerdict>,
) -> usize {
    let remote = remote.map(|r| r.differs.iter().chain(&r.missing));
    let mut paths: Vec<&str> = changed
        .iter()
        .chain(missing)
        .chain(remote.into_iter().flatten())
        .map(|m| m.path.as_str())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths.len()
}

/// The recorded files whose local content differs, and those not on disk.
fn compare_local(
    recorded: &BTreeMap<String, SyncedFile>,
    local: &Manifest,
) -> (Vec<Mismatch>, Vec<Mismatch>) {
    let (mut changed, mut missing) = (Vec::new(), Vec::new());
    for (path, record) in recorded {
        let expected = Evidence::Hash(record.sha256.to_ascii_lowercase());
        let found = local.get(path).and_then(|e| e.sha256.as_deref());
        match found {
            None => missing.push(Mismatch {
                path: path.clone(),
                by: Basis::Sha256,
                expected,
                found: None,
            }),
            Some(sha) if !sha.eq_ignore_ascii_case(&record.sha256) => changed.push(Mismatch {
                path: path.clone(),
                by: Basis::Sha256,
                expected,
                found: Some(Evidence::Hash(sha.to_ascii_lowercase())),
            }),
            Some(_) => {}
        }
    }
    (changed, missing)
}

/// What the object of a recorded file is compared by, what it should show and what it shows
/// (see the module docs); `local` is the file on disk as just read.
pub(super) fn remote_evidence(
    record: &SyncedFile,
    object: &ManifestEntry,
    local: Option<&ManifestEntry>,
    checksums: bool,
) -> (Basis, Evidence, Evidence) {
    let hash = |text: &str| Evidence::Hash(text.to_ascii_lowercase());
    if let Some(sha) = object.sha256.as_deref() {
        return (Basis::Sha256, hash(&record.sha256), hash(sha));
    }
    if checksums && let Some(etag) = object.etag.as_deref().filter(|e| is_single_part_etag(e)) {
        // The MD5 of the recorded content: the local file's if it still holds it.
        let local_md5 = local
            .filter(|l| {
                l.sha256
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&record.sha256))
            })
            .and_then(|l| l.md5.as_deref());
        let seen_at_sync = record
            .remote_etag
            .as_deref()
            .filter(|e| is_single_part_etag(e));
        if let Some(md5) = local_md5.or(seen_at_sync) {
            return (Basis::Md5, hash(md5), hash(etag));
        }
    }
    (
        Basis::Size,
        Evidence::Size(record.size),
        Evidence::Size(object.size),
    )
}

/// Gives each object of a `recorded` file that the listing left without a checksum (a
/// multipart ETag is no MD5; some servers list no ETag) the SHA-256 dpipe stored with it and
/// its ETag, where the storage has them: one HEAD each, `concurrency` at once.
async fn add_stored_sha256(
    storage: &Storage,
    objects: &mut Manifest,
    recorded: &BTreeMap<String, SyncedFile>,
    concurrency: usize,
) -> dpipe_storage::Result<()> {
    let unsure: Vec<usize> = (0..objects.entries.len())
        .filter(|&i| {
            let e = &objects.entries[i];
            recorded.contains_key(&e.path)
                && e.sha256.is_none()
                && !e.etag.as_deref().is_some_and(is_single_part_etag)
        })
        .collect();
    let stats: Vec<(usize, ManifestEntry)> = futures::stream::iter(unsure)
        .map(|i| {
            let path = objects.entries[i].path.clone();
            async move { storage.stat(&path).await.map(|entry| (i, entry)) }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    for (i, stat) in stats {
        let object = &mut objects.entries[i];
        object.sha256 = stat.sha256;
        object.etag = object.etag.take().or(stat.etag);
    }
    Ok(())
}
