//! What the file repo knows: the synced files of a pipe, and the pipes pulled so far.

use std::path::PathBuf;
use std::time::SystemTime;

use dpipe_core::filter::Filter;
use dpipe_core::manifest::SyncedFile;
use serde::Serialize;

use crate::sync::{SyncState, Syncer};
use crate::{ErrorKind, Result};

/// How [`Syncer::synced_files`] sorts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortBy {
    /// By path.
    #[default]
    Name,
    /// Most recently modified (locally, at the sync) first.
    Time,
    /// Largest first.
    Size,
}

/// One synced file of a pipe, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncedEntry {
    /// The path relative to the pipe's folder.
    pub path: String,
    /// The full local path.
    pub local_path: PathBuf,
    /// Bytes.
    pub size: u64,
    /// SHA-256 (hex).
    pub sha256: String,
    /// The local modification time at the sync, seconds since the Unix epoch.
    pub modified: Option<u64>,
}

/// A pipe with sync records in the file repo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalPipe {
    /// The pipe.
    pub pipe: String,
    /// Files recorded as synced.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Its folder.
    pub folder: PathBuf,
}

impl Syncer<'_> {
    /// The files of `pipe` recorded as synced, those `filter` lets through, sorted.
    pub fn synced_files(
        &self,
        pipe: &str,
        filter: &Filter,
        sort: SortBy,
    ) -> Result<Vec<SyncedEntry>> {
        let folder = self.pipe_folder(pipe)?;
        let synced = SyncState::open(&self.repo)?.synced(pipe)?;
        if synced.is_empty() {
            // No records: a pipe that does not exist is an error naming it; when the repo API
            // cannot be asked (offline), the answer stays "no synced files".
            if let Err(err) = self.api.get_pipe(pipe)
                && err.kind() == ErrorKind::NotFound
            {
                return Err(err);
            }
        }
        let mut files: Vec<SyncedEntry> = synced
            .into_values()
            .filter(|f| filter.matches(&f.path))
            .map(|f: SyncedFile| SyncedEntry {
                local_path: folder.join(&f.path),
                modified: f.local_modified.and_then(|t| {
                    t.duration_since(SystemTime::UNIX_EPOCH)
                        .ok()
                        .map(|d| d.as_secs())
                }),
                path: f.path,
                size: f.size,
                sha256: f.sha256,
            })
            .collect();
        match sort {
            SortBy::Name => files.sort_by(|a, b| a.path.cmp(&b.path)),
            SortBy::Time => {
                files.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.path.cmp(&b.path)))
            }
            SortBy::Size => files.sort_by(|a, b| b.size.cmp(&a.size).then(a.path.cmp(&b.path))),
        }
        Ok(files)
    }

    /// The pipes with sync records in the file repo, with their synced file counts and bytes.
    pub fn local_pipes(&self) -> Result<Vec<LocalPipe>> {
        let state = SyncState::open(&self.repo)?;
        let mut out = Vec::new();
        for pipe in state.pipes()? {
            let synced = state.synced(&pipe)?;
            out.push(LocalPipe {
                files: synced.len(),
                bytes: synced.values().map(|f| f.size).sum(),
                folder: self.repo.join(&pipe),
                pipe,
            });
        }
        Ok(out)
    }
}
