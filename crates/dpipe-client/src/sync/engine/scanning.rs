//! Both sides of a run scanned, and the records of the last sync corrected by content where
//! an object's metadata alone would call it changed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use dpipe_core::manifest::{Manifest, ManifestEntry, SyncedFile};
use dpipe_core::plan::{Sameness, compare, md5_may_decide, remote_changed_since_sync};
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use dpipe_storage::transfer::resume::leftovers_to_remove;
use dpipe_storage::{ErrorKind as StorageErrorKind, Location, Storage};
use futures::StreamExt as _;

use super::super::local_scan::{Hashing, scan_local_for};
use super::super::location::{location_for, storage_error};
use super::{Run, Scanned, Syncer};
use crate::Result;

impl Syncer<'_> {
    /// `synced`, what the sync state recorded of the pipe, corrected by content where only
    /// the content can tell: files of the same size on both sides whose object looks changed
    /// since the last sync (or was never synced) by its metadata alone — no hash in the listing
    /// decides, only a time. Changes are detected by content, never by time alone, so each of
    /// these objects is read and hashed (for a folder remote that is a local read; for FTP/SFTP
    /// a download, but only of files whose time moved and size did not):
    /// * the object holds the local file's content: the two are in sync (a run killed before
    ///   it recorded its transfers, a copy made by other means, or a `push --mode all` of
    ///   another profile that rewrote identical files); recorded as synced;
    /// * the object still holds the content last synced: only its time moved; the record
    ///   takes its new time, so that a local edit reads as a local change, not a conflict;
    /// * else the object did change, and the record stays.
    ///
    /// Returns the records with these corrections, and the corrected ones (to record).
    pub(super) fn settle_by_content(
        &self,
        run: &Run,
        local: &Manifest,
        remote: &Manifest,
        mut synced: BTreeMap<String, SyncedFile>,
    ) -> Result<(BTreeMap<String, SyncedFile>, Vec<SyncedFile>)> {
        let doubtful: Vec<(&ManifestEntry, &ManifestEntry, String)> = local
            .entries
            .iter()
            .filter_map(|l| {
                let r = remote.get(&l.path)?;
                let sha = l.sha256.clone()?;
                let record = synced.get(&l.path);
                let doubt = l.size == r.size
                    && remote_changed_since_sync(r, record, run.rules)
                    && compare(l, r, record, run.rules) == Sameness::Unknown;
                doubt.then_some((l, r, sha))
            })
            .collect();
        if doubtful.is_empty() {
            return Ok((synced, Vec::new()));
        }
        let storage = self.connect(&run.scan, &run.view.name, Access::Read)?;
        let checks = doubtful.into_iter().map(|(l, r, sha)| {
            let storage = storage.clone();
            let record = synced.get(&l.path).cloned();
            async move {
                let content = storage.hash_object(r).await.ok()?;
                if content.eq_ignore_ascii_case(&sha) {
                    return Some(SyncedFile {
                        path: l.path.clone(),
                        size: l.size,
                        sha256: sha,
                        local_modified: l.modified,
                        remote_etag: r.etag.clone(),
                        remote_modified: r.modified,
                    });
                }
                let record = record.filter(|f| f.sha256.eq_ignore_ascii_case(&content))?;
                Some(SyncedFile {
                    remote_etag: r.etag.clone(),
                    remote_modified: r.modified,
                    ..record
                })
            }
        });
        let settled: Vec<SyncedFile> = self.runtime.block_on(
            futures::stream::iter(checks)
                .buffer_unordered(self.concurrency)
                .filter_map(std::future::ready)
                .collect(),
        );
        for file in &settled {
            synced.insert(file.path.clone(), file.clone());
        }
        Ok((synced, settled))
    }

    /// The local and the remote manifest, and what the last sync recorded of the pipe. When
    /// the storage says the read credentials expired, they are renewed once (and kept in
    /// `run`) and the scan tried again.
    pub(super) fn scan(&self, run: &mut Run) -> Result<Scanned> {
        let remote = match self.try_scan_remote(&run.scan) {
            Err(e) if e.kind() == StorageErrorKind::ExpiredCredentials => {
                run.scan = self.renewed(&run.view, Access::Read)?;
                self.try_scan_remote(&run.scan)
                    .map_err(storage_error(&run.view.name, Access::Read))?
            }
            other => other.map_err(storage_error(&run.view.name, Access::Read))?,
        };
        // A local file is read only for the hashes a comparison may need: none for a file
        // new on this side (a push hashes what it sends), its MD5 only where it may tell
        // more than the record.
        let synced = run.state.synced(&run.view.name)?;
        let hashing = |path: &str| match (remote.get(path), synced.get(path)) {
            (None, None) => Hashing::Not,
            (Some(object), record) if md5_may_decide(object, record, run.rules) => {
                Hashing::Sha256AndMd5
            }
            _ => Hashing::Sha256,
        };
        let local = scan_local_for(&run.folder, &run.view.name, &run.state, &hashing)?;
        // Partial downloads of objects still listed (and not too old) are kept to resume.
        let leftovers = local.abandoned;
        let abandoned =
            leftovers_to_remove(&run.folder, leftovers, &remote, self.tuning.leftover_age);
        Ok(Scanned {
            local: local.manifest,
            remote,
            synced,
            abandoned,
        })
    }

    pub(super) fn try_scan_remote(&self, location: &Location) -> dpipe_storage::Result<Manifest> {
        let storage = Storage::connect(location, self.tuning.clone())?;
        self.runtime.block_on(async move { storage.scan("").await })
    }

    /// The files directly in `folders` of the pipe; empty if nothing is asked or the listing
    /// fails (the files are then seen as changed remotely, and checked by content, next time).
    pub(super) fn scan_folders(&self, location: &Location, folders: &BTreeSet<String>) -> Manifest {
        if folders.is_empty() {
            return Manifest::default();
        }
        let Ok(storage) = Storage::connect(location, self.tuning.clone()) else {
            return Manifest::default();
        };
        self.runtime
            .block_on(async move { storage.scan_folders(folders).await })
            .unwrap_or_default()
    }

    /// The location of `view` with credentials for `access` renewed by the repo API.
    pub(super) fn renewed(&self, view: &PipeView, access: Access) -> Result<Location> {
        location_for(view, &self.api.renew_credentials(&view.name, access)?)
    }
}

/// Deletes the temporary files killed runs left (partial downloads no run will finish). Only
/// tidying: a file that cannot be deleted stays, skipped by every scan as before.
pub(super) fn remove_abandoned(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}
