//! The sync engine: pull and push of one pipe between its storage and its folder in the file
//! repo (`<repo>/<pipe>/`).
//!
//! One run: resolve the pipe and its credentials through the repo API (read credentials to
//! scan and download, write credentials to upload), scan both sides, plan with dpipe-core's
//! pure planner against what the sync state recorded, then — unless it is a preview — refuse
//! before any transfer if the plan would lose a change, or transfer concurrently and record
//! each file that went through. A failing file does not stop the others: the report lists it.
//!
//! The repo API is blocking (it may be HTTP) and storage is async: the API calls happen
//! first, outside the runtime, and only the storage work runs on the runtime [`Handle`] the
//! caller gives. Call [`Syncer::pull`] and [`Syncer::push`] from outside any async task.
//! Nothing here prints.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use dpipe_core::filter::Filter;
use dpipe_core::manifest::{Manifest, SyncedFile};
use dpipe_core::plan::{ChangeRules, Merge, Mode, Plan, PlanRequest, plan_pull, plan_push, status};
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use dpipe_storage::{Location, Storage, Transferred, Tuning};
use futures::StreamExt as _;
use serde_json::Value;
use tokio::runtime::Handle;

use super::location::{location_for, storage_error};
use super::report::{
    Direction, FileMove, PathNote, PlanView, StatusReport, SyncReport, conflict_text, reason_text,
};
use super::{SyncState, scan_local};
use crate::{Error, ErrorKind, RepoApi, Result};

/// Transfers in flight at once, by default.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// What the user asked a pull or push to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOptions {
    /// Only plan: transfer nothing, record nothing.
    pub preview: bool,
    /// Which files, by their state.
    pub mode: Mode,
    /// Include globs (`|`-separated) replacing the pipe's own `include`.
    pub include: Option<String>,
    /// Exclude globs (`|`-separated) replacing the pipe's own `exclude`.
    pub exclude: Option<String>,
    /// Exactly these paths (still subject to conflicts and the filter).
    pub files: Option<Vec<String>>,
    /// Only the N most recently modified candidates.
    pub nrecent: Option<usize>,
    /// How to resolve conflicts; `None` refuses the run when there is one.
    pub merge: Option<Merge>,
}

/// Pulls and pushes pipes of one file repo through one repo API.
pub struct Syncer<'a> {
    api: &'a dyn RepoApi,
    repo: PathBuf,
    runtime: Handle,
    tuning: Tuning,
    concurrency: usize,
}

/// A pipe resolved for one run: how it is shown, where its files are, and the state.
struct Run {
    view: PipeView,
    scan: Location,
    state: SyncState,
    folder: PathBuf,
    rules: ChangeRules,
}

impl<'a> Syncer<'a> {
    /// A syncer for the file repo at `repo`, running storage work on `runtime`.
    pub fn new(api: &'a dyn RepoApi, repo: impl Into<PathBuf>, runtime: Handle) -> Syncer<'a> {
        Syncer {
            api,
            repo: repo.into(),
            runtime,
            tuning: Tuning::default(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    /// Sets the storage tuning (retries, timeouts, part size).
    pub fn with_tuning(mut self, tuning: Tuning) -> Syncer<'a> {
        self.tuning = tuning;
        self
    }

    /// Sets how many files are transferred at once (at least one).
    pub fn with_concurrency(mut self, concurrency: usize) -> Syncer<'a> {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The local folder of `pipe`.
    pub fn folder(&self, pipe: &str) -> PathBuf {
        self.repo.join(pipe)
    }

    /// Pulls `pipe` into its folder (see the module docs). A blocked plan is an
    /// [`ErrorKind::Conflict`] error listing the paths, returned before any transfer.
    pub fn pull(&self, pipe: &str, options: &SyncOptions) -> Result<SyncReport> {
        let run = self.resolve(pipe)?;
        let (local, remote) = self.scan(&run)?;
        let synced = run.state.synced(pipe)?;
        let plan = plan_pull(
            &local,
            &remote,
            &synced,
            &request(&run, options)?,
            run.rules,
        );
        if options.preview {
            return Ok(report(&run, Direction::Pull, true, &plan));
        }
        refuse_if_blocked(Direction::Pull, pipe, &plan)?;
        let storage = self.connect(&run.scan)?;
        let folder = run.folder.clone();
        let moved = self.transfer(&plan, |path| {
            let (storage, folder) = (storage.clone(), folder.clone());
            async move { storage.get_into(&path, &folder).await }
        });
        // What the scan saw of each object is what it looked like when it was synced.
        self.finish(run, Direction::Pull, &plan, moved, &remote, |path| {
            mtime(&folder.join(path))
        })
    }

    /// Pushes the folder of `pipe` to its storage (see the module docs). A read-only role is
    /// an [`ErrorKind::Forbidden`] error and a blocked plan an [`ErrorKind::Conflict`] error,
    /// both returned before any transfer.
    pub fn push(&self, pipe: &str, options: &SyncOptions) -> Result<SyncReport> {
        let run = self.resolve(pipe)?;
        if run.view.role == "read" {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("push refused: your role on pipe {pipe} is read; pushing needs write"),
            ));
        }
        let (local, remote) = self.scan(&run)?;
        let synced = run.state.synced(pipe)?;
        let plan = plan_push(
            &local,
            &remote,
            &synced,
            &request(&run, options)?,
            run.rules,
        );
        if options.preview {
            return Ok(report(&run, Direction::Push, true, &plan));
        }
        refuse_if_blocked(Direction::Push, pipe, &plan)?;
        let write = location_for(&run.view, &self.api.credentials(pipe, Access::Write)?)?;
        let storage = self.connect(&write)?;
        let folder = run.folder.clone();
        let moved = self.transfer(&plan, |path| {
            let (storage, source) = (storage.clone(), folder.join(&path));
            async move { storage.put(&source, &path).await }
        });
        // The objects as a listing shows them (as d6tpipe does, list again after a push): a
        // HEAD may report them differently (no ETag, a coarser time) than the next scan will.
        let after = self.scan_remote(&run.scan).unwrap_or_default();
        self.finish(run, Direction::Push, &plan, moved, &after, |path| {
            local.get(path).and_then(|e| e.modified)
        })
    }

    /// Whether `pipe` is in sync, and what a pull or push would move or refuse; `include` and
    /// `exclude` replace the pipe's own filter. Reads both sides, changes nothing.
    pub fn status(
        &self,
        pipe: &str,
        include: Option<&str>,
        exclude: Option<&str>,
    ) -> Result<StatusReport> {
        let run = self.resolve(pipe)?;
        let (local, remote) = self.scan(&run)?;
        let synced = run.state.synced(pipe)?;
        let filter = filter(&run, include, exclude)?;
        let status = status(&local, &remote, &synced, &filter, run.rules);
        Ok(StatusReport::new(pipe, status))
    }

    /// Fetches the pipe and its read credentials and opens the sync state.
    fn resolve(&self, pipe: &str) -> Result<Run> {
        let view = self.api.get_pipe(pipe)?;
        let scan = location_for(&view, &self.api.credentials(pipe, Access::Read)?)?;
        let state = SyncState::open(&self.repo)?;
        Ok(Run {
            folder: self.folder(pipe),
            rules: ChangeRules::for_protocol(scan.protocol),
            view,
            scan,
            state,
        })
    }

    fn connect(&self, location: &Location) -> Result<Storage> {
        Storage::connect(location, self.tuning.clone()).map_err(storage_error)
    }

    /// The local and the remote manifest.
    fn scan(&self, run: &Run) -> Result<(Manifest, Manifest)> {
        let remote = self.scan_remote(&run.scan)?;
        let local = scan_local(&run.folder, &run.view.name, &run.state)?;
        Ok((local, remote))
    }

    /// Every object of the pipe.
    fn scan_remote(&self, location: &Location) -> Result<Manifest> {
        let storage = self.connect(location)?;
        self.runtime
            .block_on(async move { storage.scan("").await })
            .map_err(storage_error)
    }

    /// Runs `one` for each transfer of the plan, `concurrency` at a time; the results come
    /// back in plan order.
    fn transfer<T, F, Fut>(&self, plan: &Plan, one: F) -> Vec<(String, Result<T, String>)>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = dpipe_storage::Result<T>>,
    {
        let jobs = plan.transfers.iter().map(|t| {
            let path = t.path.clone();
            let fut = one(path.clone());
            async move { (path, fut.await.map_err(|e| e.to_string())) }
        });
        let mut done: Vec<_> = self.runtime.block_on(
            futures::stream::iter(jobs)
                .buffer_unordered(self.concurrency)
                .collect::<Vec<_>>(),
        );
        done.sort_by(|a, b| a.0.cmp(&b.0));
        done
    }

    /// Records the files that went through and builds the report.
    fn finish(
        &self,
        run: Run,
        direction: Direction,
        plan: &Plan,
        moved: Vec<(String, Result<Transferred, String>)>,
        remote: &Manifest,
        local_modified: impl Fn(&str) -> Option<SystemTime>,
    ) -> Result<SyncReport> {
        let mut out = report(&run, direction, false, plan);
        let mut synced = Vec::new();
        for (path, result) in moved {
            match result {
                Ok(done) => {
                    let seen = remote.get(&path);
                    let reason = plan
                        .transfers
                        .iter()
                        .find(|t| t.path == path)
                        .map_or("new", |t| reason_text(t.reason));
                    out.bytes += done.size;
                    out.transferred.push(FileMove {
                        path: path.clone(),
                        size: done.size,
                        reason,
                    });
                    synced.push(SyncedFile {
                        local_modified: local_modified(&path),
                        path,
                        size: done.size,
                        sha256: done.sha256,
                        remote_etag: seen.and_then(|e| e.etag.clone()),
                        remote_modified: seen.and_then(|e| e.modified),
                    });
                }
                Err(message) => out.errors.push(PathNote {
                    path,
                    reason: message,
                }),
            }
        }
        run.state.record_synced(&run.view.name, &synced)?;
        Ok(out)
    }
}

/// The planner's request: the user's options over the pipe's own include/exclude.
fn request(run: &Run, options: &SyncOptions) -> Result<PlanRequest> {
    Ok(PlanRequest {
        mode: options.mode,
        filter: filter(run, options.include.as_deref(), options.exclude.as_deref())?,
        files: options.files.clone(),
        nrecent: options.nrecent,
        merge: options.merge,
    })
}

/// The user's include/exclude globs, each replacing the pipe's own when given.
fn filter(run: &Run, include: Option<&str>, exclude: Option<&str>) -> Result<Filter> {
    let own = |key: &str| run.view.options.get(key).and_then(Value::as_str);
    Ok(Filter::new(
        include.or_else(|| own("include")),
        exclude.or_else(|| own("exclude")),
    )?)
}

/// The report of `plan` before any transfer.
fn report(run: &Run, direction: Direction, preview: bool, plan: &Plan) -> SyncReport {
    SyncReport {
        pipe: run.view.name.clone(),
        direction,
        preview,
        transferred: Vec::new(),
        bytes: 0,
        skipped: plan.unchanged + plan.skipped,
        rejected: plan
            .rejected
            .iter()
            .map(|k| PathNote {
                path: k.key.clone(),
                reason: k.reason.to_string(),
            })
            .collect(),
        errors: Vec::new(),
        plan: PlanView::from(plan),
    }
}

/// Refuses a plan that would lose a change, naming every path in the way.
fn refuse_if_blocked(direction: Direction, pipe: &str, plan: &Plan) -> Result<()> {
    if !plan.is_blocked() {
        return Ok(());
    }
    let mut lines = Vec::new();
    for c in &plan.conflicts {
        lines.push(format!("  {} ({})", c.path, conflict_text(c.reason)));
    }
    if !plan.remote_ahead_allowed {
        for path in &plan.remote_ahead {
            lines.push(format!("  {path} (remote changed, not pulled yet)"));
        }
    }
    let hint = match direction {
        Direction::Pull => "use --merge keep or --merge overwrite to decide",
        Direction::Push => "pull first, or use --merge/--mode all to decide",
    };
    Err(Error::new(
        ErrorKind::Conflict,
        format!(
            "{} of pipe {pipe} refused, nothing was transferred: it would lose a change ({hint}):\n{}",
            direction.as_str(),
            lines.join("\n")
        ),
    ))
}

/// The modification time of a local file, if it can be read.
fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
