//! The transfers of a plan, a few at a time, with one retry on renewed credentials; while
//! the storage is out of reach they are tried again, until it answers or the run gives up
//! (see dpipe-storage's [`Reachability`]).

use std::collections::BTreeMap;

use dpipe_core::plan::Plan;
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use dpipe_storage::{ErrorKind as StorageErrorKind, Location, Reachability, Storage, Transferred};
use futures::StreamExt as _;

use super::Syncer;
use crate::Result;

/// What the transfers of a plan did: each file's outcome (its error in words), in path
/// order, and why the run gave up on a storage out of reach, if it did.
pub(super) struct Moved {
    pub(super) files: Vec<(String, Result<Transferred, String>)>,
    /// Why the transfers were stopped (the storage stayed out of reach for the whole bound);
    /// the files that went through before are in `files` all the same.
    pub(super) outage: Option<String>,
}

impl Syncer<'_> {
    /// Runs `one` for each transfer of the plan on the storage at `location`, `concurrency`
    /// at a time; the results come back in plan order, and the [`Progress`] (if any) hears
    /// each end, and how long the storage has been out of reach while it is. A file whose
    /// transfer could not reach the storage is tried again, until the storage answers or
    /// has been out of reach for [`Tuning::give_up_after`](dpipe_storage::Tuning) — then
    /// every transfer stops, and [`Moved::outage`] says why. Files that failed because the
    /// credentials (for `access`) expired are tried once more with credentials the repo API
    /// renewed.
    pub(super) fn transfer<F, Fut>(
        &self,
        plan: &Plan,
        view: &PipeView,
        access: Access,
        location: &Location,
        one: F,
    ) -> Result<Moved>
    where
        F: Fn(Storage, String) -> Fut,
        Fut: Future<Output = dpipe_storage::Result<Transferred>>,
    {
        let storage = self.connect(location, &view.name, access)?;
        let reach = Reachability::new(&self.tuning);
        if let Some(p) = self.progress {
            p.start(plan.transfers.len(), plan.bytes);
        }
        let paths = plan.transfers.iter().map(|t| t.path.clone()).collect();
        let mut done = self.run_jobs(&storage, &reach, paths, &one);
        let expired: Vec<String> = done
            .iter()
            .filter(
                |(_, r)| matches!(r, Err(e) if e.kind() == StorageErrorKind::ExpiredCredentials),
            )
            .map(|(path, _)| path.clone())
            .collect();
        let mut renew_error = None;
        if !expired.is_empty() && reach.gave_up().is_none() {
            match self
                .renewed(view, access)
                .and_then(|l| self.connect(&l, &view.name, access))
            {
                Ok(storage) => {
                    done.retain(|(path, _)| !expired.contains(path));
                    done.extend(self.run_jobs(&storage, &reach, expired, &one));
                }
                Err(e) => renew_error = Some(e.to_string()),
            }
        }
        if let Some(p) = self.progress {
            p.finish();
        }
        let mut done: Vec<_> = done
            .into_iter()
            .map(|(path, result)| {
                let result = result.map_err(|e| match (&renew_error, e.kind()) {
                    (Some(renew), StorageErrorKind::ExpiredCredentials) => {
                        format!("{e}; renewing the credentials failed: {renew}")
                    }
                    _ => e.to_string(),
                });
                (path, result)
            })
            .collect();
        done.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Moved {
            files: done,
            outage: reach.gave_up(),
        })
    }

    /// Runs `one` on `storage` for each of `paths`, `concurrency` at a time, each tried
    /// again while `reach` says the storage is worth waiting for.
    fn run_jobs<F, Fut>(
        &self,
        storage: &Storage,
        reach: &Reachability,
        paths: Vec<String>,
        one: &F,
    ) -> Vec<(String, dpipe_storage::Result<Transferred>)>
    where
        F: Fn(Storage, String) -> Fut,
        Fut: Future<Output = dpipe_storage::Result<Transferred>>,
    {
        let progress = self.progress;
        let jobs = paths.into_iter().map(|path| {
            async move {
                let result = reach
                    .call(
                        || one(storage.clone(), path.clone()),
                        |down_for| {
                            if let Some(p) = progress {
                                p.unreachable(down_for);
                            }
                        },
                        || {
                            if let Some(p) = progress {
                                p.reachable();
                            }
                        },
                    )
                    .await;
                if let Some(p) = progress {
                    match &result {
                        Ok(done) => p.file_done(&path, done.size),
                        // An expired credential may be renewed and the file tried again.
                        Err(e) if e.kind() == StorageErrorKind::ExpiredCredentials => {}
                        Err(_) => p.file_failed(&path),
                    }
                }
                (path, result)
            }
        });
        self.runtime.block_on(
            futures::stream::iter(jobs)
                .buffer_unordered(self.concurrency)
                .collect::<Vec<_>>(),
        )
    }
}

/// `moved` with the files of `failed` (keys whose commit failed) turned into errors.
pub(super) fn with_failures(moved: Moved, failed: Vec<(String, dpipe_storage::Error)>) -> Moved {
    let mut failed: BTreeMap<String, String> = failed
        .into_iter()
        .map(|(key, e)| (key, e.to_string()))
        .collect();
    let files = moved
        .files
        .into_iter()
        .map(|(path, result)| match failed.remove(&path) {
            Some(message) => (path, Err(message)),
            None => (path, result),
        })
        .collect();
    Moved { files, ..moved }
}
