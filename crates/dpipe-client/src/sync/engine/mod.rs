//! The sync engine: pull and push of one pipe between its storage and its folder in the file
//! repo (`<repo>/<pipe>/`).
//!
//! One run: resolve the pipe and its credentials through the repo API (read credentials to
//! scan and download, write credentials to upload), scan both sides, plan with dpipe-core's
//! pure planner against what the sync state recorded, then — unless it is a preview — refuse
//! before any transfer if the plan would lose a change, or transfer concurrently and record
//! each file that went through. A failing file does not stop the others: the report lists it.
//! Downloads are staged next to their final names and put in place in batches, fsynced in
//! the background (dpipe-storage's `Stager`), before the state records them.
//! Changes are detected by content, never by time alone: where an object's metadata only
//! says its time moved, the object is hashed (see `scanning`). So files that both sides hold
//! identically though no sync recorded them (a run killed after its transfers but before it
//! recorded them) are recognised and recorded, not reported as conflicts: a rerun reaches the
//! end state of an uninterrupted run; and identical files rewritten by another profile's
//! `push --mode all` are not pulled again. A conflict settled by `merge keep` is recorded as
//! such (see [`dpipe_core::plan::settle`]): the next status shows a change in one direction.
//!
//! The repo API is blocking (it may be HTTP) and storage is async: the API calls happen
//! first, outside the runtime, and only the storage work runs on the runtime [`Handle`] the
//! caller gives. Call [`Syncer::pull`] and [`Syncer::push`] from outside any async task.
//! Nothing here prints.
//!
//! Modules: `scanning` (both sides scanned, records corrected by content), `transfer`
//! (the concurrent transfers, with renewed credentials), `record` (what went through is
//! recorded and reported); the run itself (resolve, plan, refuse) is here.

mod leftovers;
mod record;
mod scanning;
mod transfer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dpipe_core::filter::Filter;
use dpipe_core::manifest::{Manifest, SyncedFile};
use dpipe_core::plan::{
    ChangeRules, Merge, Mode, Plan, PlanRequest, keeping_local, keeping_remote, plan_pull,
    plan_push, status,
};
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use dpipe_storage::{Location, Stager, Storage, Tuning};
use serde_json::Value;
use tokio::runtime::Handle;

use super::location::{location_for, run_warnings, storage_error};
use super::report::{
    Direction, FileMove, PathNote, PlanView, REMOTE_AHEAD_TEXT, StatusReport, SyncReport,
    conflict_text,
};
use super::{STATE_DIR, SyncState};
use crate::{Error, ErrorKind, RepoApi, Result};
use record::{cache_hashes, sync_folders, written_folders};
use scanning::remove_abandoned;
use transfer::with_failures;

/// Transfers in flight at once, by default.
pub const DEFAULT_CONCURRENCY: usize = 16;

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

/// Files shown to people when first pulled (d6tpipe's behaviour), at the top of a pipe.
pub const SHOWN_WHEN_FIRST_PULLED: [&str; 2] = ["README.md", "LICENSE.md"];

/// Hears how the transfers of a pull or push go, for a progress display. Called from the
/// storage tasks (hence `Send + Sync`); nothing is called for a preview or a refused run.
pub trait Progress: Send + Sync {
    /// The transfers begin: this many files, this many bytes in all (as planned).
    fn start(&self, files: usize, bytes: u64);
    /// One file went through, `bytes` long.
    fn file_done(&self, path: &str, bytes: u64);
    /// One file failed (its error is in the report); by default nothing.
    fn file_failed(&self, path: &str) {
        let _ = path;
    }
    /// The storage has been out of reach for `down_for` (no transfer reached it since): the
    /// transfers are tried again until it answers or the run gives up (see
    /// [`Tuning::give_up_after`]). Heard before each pause; by default nothing.
    fn unreachable(&self, down_for: std::time::Duration) {
        let _ = down_for;
    }
    /// A transfer reached the storage again after it was out of reach; by default nothing.
    fn reachable(&self) {}
    /// Every transfer has ended, well or not.
    fn finish(&self);
}

/// Pulls and pushes pipes of one file repo through one repo API.
pub struct Syncer<'a> {
    pub(super) api: &'a dyn RepoApi,
    pub(super) repo: PathBuf,
    pub(super) runtime: Handle,
    pub(super) tuning: Tuning,
    concurrency: usize,
    pub(super) progress: Option<&'a dyn Progress>,
}

/// Both sides of a run, what the last sync recorded (corrected by content), and the plan.
struct Planned {
    local: Manifest,
    remote: Manifest,
    synced: BTreeMap<String, SyncedFile>,
    plan: Plan,
}

/// A pipe resolved for one run: how it is shown, where its files are, and the state.
struct Run {
    view: PipeView,
    scan: Location,
    state: SyncState,
    folder: PathBuf,
    rules: ChangeRules,
}

/// Both sides of a run as scanned, and what the last sync recorded of the pipe.
struct Scanned {
    local: Manifest,
    remote: Manifest,
    synced: BTreeMap<String, SyncedFile>,
    /// Temporary files of killed runs found in the pipe's folder, and partial downloads no run
    /// will resume (see `scan`): deleted by a run that goes ahead.
    abandoned: Vec<PathBuf>,
}

impl<'a> Syncer<'a> {
    /// A syncer for the file repo at `repo`, running storage work on `runtime`, which must be
    /// a multi-thread runtime: [`Handle::block_on`] cannot drive a current-thread runtime's
    /// I/O, and a pull would wait forever.
    pub fn new(api: &'a dyn RepoApi, repo: impl Into<PathBuf>, runtime: Handle) -> Syncer<'a> {
        let repo = repo.into();
        Syncer {
            api,
            tuning: with_upload_records(Tuning::default(), &repo),
            repo,
            runtime,
            concurrency: DEFAULT_CONCURRENCY,
            progress: None,
        }
    }

    /// Reports the transfers of each pull and push to `progress`.
    pub fn with_progress(mut self, progress: &'a dyn Progress) -> Syncer<'a> {
        self.progress = Some(progress);
        self
    }

    /// Sets the storage tuning (retries, timeouts, part size).
    pub fn with_tuning(mut self, tuning: Tuning) -> Syncer<'a> {
        self.tuning = with_upload_records(tuning, &self.repo);
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
        let mut run = self.resolve(pipe)?;
        let Planned {
            remote,
            synced,
            plan,
            ..
        } = self.plan(&mut run, Direction::Pull, options)?;
        if options.preview {
            return Ok(report(&run, Direction::Pull, true, &plan));
        }
        let folder = run.folder.clone();
        // Downloads are staged, then made durable and renamed into place in batches.
        let stager = Stager::new();
        let moved = self.transfer(
            &plan,
            &run.view,
            Access::Read,
            &run.scan,
            |storage, path| {
                let folder = folder.clone();
                // Planned transfers come from the remote manifest: the entry is there.
                let object = remote.get(&path).cloned();
                let stager = &stager;
                async move {
                    let object = match object {
                        Some(object) => object,
                        None => storage.stat(&path).await?,
                    };
                    Ok(stager.add(storage.stage_into(&object, &folder).await?))
                }
            },
        )?;
        let moved = with_failures(moved, self.runtime.block_on(stager.finish()));
        // The renames into place are durable before the state records them.
        sync_folders(&folder, &written_folders(&moved))?;
        // The downloads carry the object's time: their hashes can be cached at once.
        cache_hashes(&run.state, pipe, &moved)?;
        // What the scan saw of each object is what it looked like when it was synced.
        let mut out = self.finish(run, Direction::Pull, &plan, moved, &remote, |_, done| {
            done.file.as_ref().and_then(|m| m.modified().ok())
        })?;
        out.first_pulled = first_pulled(&out.transferred, &synced);
        Ok(out)
    }

    /// Pushes the folder of `pipe` to its storage (see the module docs). A read-only role is
    /// an [`ErrorKind::Forbidden`] error and a blocked plan an [`ErrorKind::Conflict`] error,
    /// both returned before any transfer.
    pub fn push(&self, pipe: &str, options: &SyncOptions) -> Result<SyncReport> {
        let mut run = self.resolve(pipe)?;
        if run.view.role == "read" {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("push refused: your role on pipe {pipe} is read; pushing needs write"),
            ));
        }
        let Planned { local, plan, .. } = self.plan(&mut run, Direction::Push, options)?;
        if options.preview {
            let mut out = report(&run, Direction::Push, true, &plan);
            self.sweep_leftovers(pipe, &run.scan, Access::Read, false, &mut out);
            return Ok(out);
        }
        let write = location_for(&run.view, &self.api.credentials(pipe, Access::Write)?)?;
        let folder = run.folder.clone();
        let moved = self.transfer(&plan, &run.view, Access::Write, &write, |storage, path| {
            let source = folder.join(&path);
            let sha256 = local.get(&path).and_then(|e| e.sha256.clone());
            async move { storage.put(&source, &path, sha256.as_deref()).await }
        })?;
        // The objects as a listing shows them (d6tpipe lists again after a push): a HEAD may
        // report them differently (no ETag, a coarser time) than the next scan will. Only
        // the folders written to are listed, not the whole pipe.
        let after = self.scan_folders(&run.scan, &written_folders(&moved));
        // The scan left new files unhashed: the uploads hashed them.
        cache_hashes(&run.state, pipe, &moved)?;
        let mut out = self.finish(run, Direction::Push, &plan, moved, &after, |path, _| {
            local.get(path).and_then(|e| e.modified)
        })?;
        // After the transfers: a push of the same version continues an upload of any age.
        self.sweep_leftovers(pipe, &write, Access::Write, true, &mut out);
        Ok(out)
    }

    /// Scans both sides of `run`, corrects the records by content (see
    /// [`Syncer::settle_by_content`]) and plans a run in `direction`. Unless it is a preview,
    /// a plan that would lose a change is refused here, before any transfer; else the
    /// corrected records and the conflicts settled by `merge keep` (see
    /// [`dpipe_core::plan::settle`]) are recorded.
    fn plan(&self, run: &mut Run, direction: Direction, options: &SyncOptions) -> Result<Planned> {
        let Scanned {
            local,
            remote,
            synced,
            abandoned,
        } = self.scan(run)?;
        let (synced, settled) = self.settle_by_content(run, &local, &remote, synced)?;
        let request = request(run, options)?;
        let plan = match direction {
            Direction::Pull => plan_pull(&local, &remote, &synced, &request, run.rules),
            Direction::Push => plan_push(&local, &remote, &synced, &request, run.rules),
        };
        if !options.preview {
            refuse_if_blocked(direction, &run.view.name, &plan)?;
            // The kept decisions come last: they win over a correction of the same path.
            let mut records = settled;
            records.extend(kept_records(direction, &plan, &local, &remote));
            run.state.record_synced(&run.view.name, &records)?;
            remove_abandoned(&abandoned);
        }
        Ok(Planned {
            local,
            remote,
            synced,
            plan,
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
        let mut run = self.resolve(pipe)?;
        let Scanned {
            local,
            remote,
            synced,
            ..
        } = self.scan(&mut run)?;
        let (synced, _) = self.settle_by_content(&run, &local, &remote, synced)?;
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

    /// Opens the storage of `pipe` at `location`, reached with its `access` credentials.
    fn connect(&self, location: &Location, pipe: &str, access: Access) -> Result<Storage> {
        Storage::connect(location, self.tuning.clone()).map_err(storage_error(pipe, access))
    }
}

/// `tuning`, recording S3 uploads in progress in the repo's state folder (`.dpipe/uploads`)
/// unless it names a folder of its own: a push killed halfway is continued by the next one.
fn with_upload_records(mut tuning: Tuning, repo: &Path) -> Tuning {
    if tuning.upload_records.is_none() {
        tuning.upload_records = Some(repo.join(STATE_DIR).join("uploads"));
    }
    tuning
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
        resumed_bytes: 0,
        rejected: plan
            .rejected
            .iter()
            .map(|k| PathNote {
                path: k.key.clone(),
                reason: k.reason.to_string(),
            })
            .collect(),
        errors: Vec::new(),
        first_pulled: Vec::new(),
        plan: PlanView::from(plan),
        leftovers: Vec::new(),
        leftovers_error: None,
        warnings: run_warnings(&run.view.name, &run.scan),
    }
}

/// Refuses a plan that would lose a change, naming every path in the way once, with one
/// reason, and saying what would decide each kind.
fn refuse_if_blocked(direction: Direction, pipe: &str, plan: &Plan) -> Result<()> {
    if !plan.is_blocked() {
        return Ok(());
    }
    let mut lines = Vec::new();
    let mut hints = Vec::new();
    for c in &plan.conflicts {
        lines.push(format!("  {} ({})", c.path, conflict_text(c.reason)));
    }
    if !plan.conflicts.is_empty() {
        hints.push("--merge keep or --merge overwrite decides the conflicts");
    }
    if !plan.remote_ahead_allowed && !plan.remote_ahead.is_empty() {
        for path in &plan.remote_ahead {
            lines.push(format!("  {path} ({REMOTE_AHEAD_TEXT})"));
        }
        hints.push("pull first, or push anyway with --mode all");
    }
    Err(Error::new(
        ErrorKind::Conflict,
        format!(
            "{} of pipe {pipe} refused, nothing was transferred: it would lose a change ({}):\n{}",
            direction.as_str(),
            hints.join("; "),
            lines.join("\n")
        ),
    ))
}

/// The records that settle the conflicts `plan` kept: a pull kept the local versions, a push
/// the versions on storage (see [`dpipe_core::plan::settle`]).
fn kept_records(
    direction: Direction,
    plan: &Plan,
    local: &Manifest,
    remote: &Manifest,
) -> Vec<SyncedFile> {
    plan.kept
        .iter()
        .filter_map(|path| match direction {
            Direction::Pull => remote.get(path).map(keeping_local),
            Direction::Push => local.get(path).and_then(keeping_remote),
        })
        .collect()
}

/// The files of [`SHOWN_WHEN_FIRST_PULLED`] among `transferred` that no earlier sync recorded.
fn first_pulled(transferred: &[FileMove], synced: &BTreeMap<String, SyncedFile>) -> Vec<String> {
    transferred
        .iter()
        .filter(|t| SHOWN_WHEN_FIRST_PULLED.contains(&t.path.as_str()))
        .filter(|t| !synced.contains_key(&t.path))
        .map(|t| t.path.clone())
        .collect()
}

#[cfg(test)]
mod tests;
