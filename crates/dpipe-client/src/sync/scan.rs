//! `scan`: the files of a pipe on one side — its storage or its folder in the file repo — as
//! the sync engine sees them, through the pipe's include/exclude (or the caller's). Reads one
//! side, changes nothing (but the local hash cache).

use dpipe_core::filter::Filter;
use dpipe_core::manifest::Manifest;
use dpipe_core::role::Access;
use dpipe_storage::Storage;
use serde_json::Value;

use super::location::{location_for, storage_error};
use super::{SyncState, Syncer, scan_local};
use crate::Result;

impl Syncer<'_> {
    /// Every object of `pipe` in its storage that the filter lets through (keys that cannot be
    /// local paths are in the manifest's `rejected`). `include` and `exclude` replace the
    /// pipe's own globs when given.
    pub fn scan_remote_files(
        &self,
        pipe: &str,
        include: Option<&str>,
        exclude: Option<&str>,
    ) -> Result<Manifest> {
        let view = self.api.get_pipe(pipe)?;
        let filter = view_filter(&view.options, include, exclude)?;
        let location = location_for(&view, &self.api.credentials(pipe, Access::Read)?)?;
        let storage = Storage::connect(&location, self.tuning.clone())
            .map_err(storage_error(pipe, Access::Read))?;
        let manifest = self
            .runtime
            .block_on(async move { storage.scan("").await })
            .map_err(storage_error(pipe, Access::Read))?;
        Ok(filtered(manifest, &filter))
    }

    /// Every file of the folder of `pipe` that the filter lets through, with its hashes (dpipe's
    /// own temporary files are never listed; links and unsafe names are in `rejected`).
    pub fn scan_local_files(
        &self,
        pipe: &str,
        include: Option<&str>,
        exclude: Option<&str>,
    ) -> Result<Manifest> {
        let view = self.api.get_pipe(pipe)?;
        let filter = view_filter(&view.options, include, exclude)?;
        let state = SyncState::open(&self.repo)?;
        let manifest = scan_local(&self.folder(pipe), &view.name, &state)?;
        Ok(filtered(manifest, &filter))
    }
}

/// The caller's globs, each replacing the pipe's own when given.
pub(super) fn view_filter(
    options: &serde_json::Map<String, Value>,
    include: Option<&str>,
    exclude: Option<&str>,
) -> Result<Filter> {
    let own = |key: &str| options.get(key).and_then(Value::as_str);
    Ok(Filter::new(
        include.or_else(|| own("include")),
        exclude.or_else(|| own("exclude")),
    )?)
}

fn filtered(mut manifest: Manifest, filter: &Filter) -> Manifest {
    manifest.entries.retain(|e| filter.matches(&e.path));
    manifest
}
