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
//! Files that both sides hold identically though no sync recorded them (a run killed after its
//! transfers but before it recorded them) are recognised and recorded, not reported as
//! conflicts: a rerun reaches the end state of an uninterrupted run.
//!
//! The repo API is blocking (it may be HTTP) and storage is async: the API calls happen
//! first, outside the runtime, and only the storage work runs on the runtime [`Handle`] the
//! caller gives. Call [`Syncer::pull`] and [`Syncer::push`] from outside any async task.
//! Nothing here prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use dpipe_core::filter::Filter;
use dpipe_core::manifest::{Manifest, ManifestEntry, SyncedFile};
use dpipe_core::plan::{
    ChangeRules, Merge, Mode, Plan, PlanRequest, Sameness, compare, local_changed_since_sync,
    md5_may_decide, plan_pull, plan_push, remote_changed_since_sync, status,
};
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use dpipe_storage::{
    ErrorKind as StorageErrorKind, Location, Stager, Storage, Transferred, Tuning,
};
use futures::StreamExt as _;
use serde_json::Value;
use tokio::runtime::Handle;

use super::local_scan::{Hashing, scan_local_for, transferred_file_record};
use super::location::{location_for, storage_error};
use super::report::{
    Direction, FileMove, PathNote, PlanView, StatusReport, SyncReport, conflict_text, reason_text,
};
use super::{HashRecord, Hashes, SyncState};
use crate::{Error, ErrorKind, RepoApi, Result};

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
    progress: Option<&'a dyn Progress>,
}

/// Both sides of a run, what the last sync recorded (with adopted copies), and the plan.
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
    /// Temporary files of killed runs found in the pipe's folder.
    abandoned: Vec<PathBuf>,
}

impl<'a> Syncer<'a> {
    /// A syncer for the file repo at `repo`, running storage work on `runtime`, which must be
    /// a multi-thread runtime: [`Handle::block_on`] cannot drive a current-thread runtime's
    /// I/O, and a pull would wait forever.
    pub fn new(api: &'a dyn RepoApi, repo: impl Into<PathBuf>, runtime: Handle) -> Syncer<'a> {
        Syncer {
            api,
            repo: repo.into(),
            runtime,
            tuning: Tuning::default(),
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
            return Ok(report(&run, Direction::Push, true, &plan));
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
        self.finish(run, Direction::Push, &plan, moved, &after, |path, _| {
            local.get(path).and_then(|e| e.modified)
        })
    }

    /// Scans both sides of `run`, adopts identical unrecorded copies (see
    /// [`Syncer::adopt_identical`]) and plans a run in `direction`. Unless it is a preview, a
    /// plan that would lose a change is refused here, before any transfer, and the adopted
    /// copies are recorded.
    fn plan(&self, run: &mut Run, direction: Direction, options: &SyncOptions) -> Result<Planned> {
        let Scanned {
            local,
            remote,
            synced,
            abandoned,
        } = self.scan(run)?;
        let (synced, adopted) = self.adopt_identical(run, &local, &remote, synced)?;
        let request = request(run, options)?;
        let plan = match direction {
            Direction::Pull => plan_pull(&local, &remote, &synced, &request, run.rules),
            Direction::Push => plan_push(&local, &remote, &synced, &request, run.rules),
        };
        if !options.preview {
            refuse_if_blocked(direction, &run.view.name, &plan)?;
            run.state.record_synced(&run.view.name, &adopted)?;
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
        let (synced, _) = self.adopt_identical(&run, &local, &remote, synced)?;
        let filter = filter(&run, include, exclude)?;
        let status = status(&local, &remote, &synced, &filter, run.rules);
        Ok(StatusReport::new(pipe, status))
    }

    /// `synced`, what the sync state recorded of the pipe, plus the files found identical on both
    /// sides though both look changed since (or were never synced): a run killed after some
    /// transfers and before it recorded them leaves such files behind, and so does a copy
    /// made by other means. Only those are read from the storage (when neither a hash nor the
    /// record can tell): same size, and the object's SHA-256 equals the local file's. Returns
    /// the records with these added, and the added ones (to record).
    fn adopt_identical(
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
                    && local_changed_since_sync(l, record)
                    && remote_changed_since_sync(r, record, run.rules)
                    && compare(l, r, record, run.rules) == Sameness::Unknown;
                doubt.then_some((l, r, sha))
            })
            .collect();
        if doubtful.is_empty() {
            return Ok((synced, Vec::new()));
        }
        let storage = self.connect(&run.scan)?;
        let checks = doubtful.into_iter().map(|(l, r, sha)| {
            let storage = storage.clone();
            async move {
                let same = storage
                    .hash_object(r)
                    .await
                    .is_ok_and(|remote_sha| remote_sha.eq_ignore_ascii_case(&sha));
                same.then(|| SyncedFile {
                    path: l.path.clone(),
                    size: l.size,
                    sha256: sha,
                    local_modified: l.modified,
                    remote_etag: r.etag.clone(),
                    remote_modified: r.modified,
                })
            }
        });
        let adopted: Vec<SyncedFile> = self.runtime.block_on(
            futures::stream::iter(checks)
                .buffer_unordered(self.concurrency)
                .filter_map(std::future::ready)
                .collect(),
        );
        for file in &adopted {
            synced.insert(file.path.clone(), file.clone());
        }
        Ok((synced, adopted))
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

    /// The local and the remote manifest, and what the last sync recorded of the pipe. When
    /// the storage says the read credentials expired, they are renewed once (and kept in
    /// `run`) and the scan tried again.
    fn scan(&self, run: &mut Run) -> Result<Scanned> {
        let remote = match self.try_scan_remote(&run.scan) {
            Err(e) if e.kind() == StorageErrorKind::ExpiredCredentials => {
                run.scan = self.renewed(&run.view, Access::Read)?;
                self.scan_remote(&run.scan)?
            }
            other => other.map_err(storage_error)?,
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
        Ok(Scanned {
            local: local.manifest,
            remote,
            synced,
            abandoned: local.abandoned,
        })
    }

    /// Every object of the pipe.
    fn scan_remote(&self, location: &Location) -> Result<Manifest> {
        self.try_scan_remote(location).map_err(storage_error)
    }

    fn try_scan_remote(&self, location: &Location) -> dpipe_storage::Result<Manifest> {
        let storage = Storage::connect(location, self.tuning.clone())?;
        self.runtime.block_on(async move { storage.scan("").await })
    }

    /// The files directly in `folders` of the pipe; empty if nothing is asked or the listing
    /// fails (the files are then seen as changed remotely, and checked by content, next time).
    fn scan_folders(&self, location: &Location, folders: &BTreeSet<String>) -> Manifest {
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
    fn renewed(&self, view: &PipeView, access: Access) -> Result<Location> {
        location_for(view, &self.api.renew_credentials(&view.name, access)?)
    }

    /// Runs `one` for each transfer of the plan on the storage at `location`, `concurrency`
    /// at a time; the results come back in plan order, and the [`Progress`] (if any) hears
    /// each end. Files that failed because the credentials (for `access`) expired are tried
    /// once more with credentials the repo API renewed.
    fn transfer<F, Fut>(
        &self,
        plan: &Plan,
        view: &PipeView,
        access: Access,
        location: &Location,
        one: F,
    ) -> Result<Vec<(String, Result<Transferred, String>)>>
    where
        F: Fn(Storage, String) -> Fut,
        Fut: Future<Output = dpipe_storage::Result<Transferred>>,
    {
        let storage = self.connect(location)?;
        if let Some(p) = self.progress {
            p.start(plan.transfers.len(), plan.bytes);
        }
        let paths = plan.transfers.iter().map(|t| t.path.clone()).collect();
        let mut done = self.run_jobs(&storage, paths, &one);
        let expired: Vec<String> = done
            .iter()
            .filter(
                |(_, r)| matches!(r, Err(e) if e.kind() == StorageErrorKind::ExpiredCredentials),
            )
            .map(|(path, _)| path.clone())
            .collect();
        let mut renew_error = None;
        if !expired.is_empty() {
            match self.renewed(view, access).and_then(|l| self.connect(&l)) {
                Ok(storage) => {
                    done.retain(|(path, _)| !expired.contains(path));
                    done.extend(self.run_jobs(&storage, expired, &one));
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
        Ok(done)
    }

    /// Runs `one` on `storage` for each of `paths`, `concurrency` at a time.
    fn run_jobs<F, Fut>(
        &self,
        storage: &Storage,
        paths: Vec<String>,
        one: &F,
    ) -> Vec<(String, dpipe_storage::Result<Transferred>)>
    where
        F: Fn(Storage, String) -> Fut,
        Fut: Future<Output = dpipe_storage::Result<Transferred>>,
    {
        let progress = self.progress;
        let jobs = paths.into_iter().map(|path| {
            let fut = one(storage.clone(), path.clone());
            async move {
                let result = fut.await;
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

    /// Records the files that went through and builds the report.
    fn finish(
        &self,
        run: Run,
        direction: Direction,
        plan: &Plan,
        moved: Vec<(String, Result<Transferred, String>)>,
        remote: &Manifest,
        local_modified: impl Fn(&str, &Transferred) -> Option<SystemTime>,
    ) -> Result<SyncReport> {
        let mut out = report(&run, direction, false, plan);
        let reasons: BTreeMap<&str, _> = plan
            .transfers
            .iter()
            .map(|t| (t.path.as_str(), reason_text(t.reason)))
            .collect();
        let mut synced = Vec::new();
        for (path, result) in moved {
            match result {
                Ok(done) => {
                    let seen = remote.get(&path);
                    let reason = reasons.get(path.as_str()).copied().unwrap_or("new");
                    out.bytes += done.size;
                    out.transferred.push(FileMove {
                        path: path.clone(),
                        size: done.size,
                        reason,
                    });
                    synced.push(SyncedFile {
                        local_modified: local_modified(&path, &done),
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
        first_pulled: Vec::new(),
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

/// The files of [`SHOWN_WHEN_FIRST_PULLED`] among `transferred` that no earlier sync recorded.
fn first_pulled(transferred: &[FileMove], synced: &BTreeMap<String, SyncedFile>) -> Vec<String> {
    transferred
        .iter()
        .filter(|t| SHOWN_WHEN_FIRST_PULLED.contains(&t.path.as_str()))
        .filter(|t| !synced.contains_key(&t.path))
        .map(|t| t.path.clone())
        .collect()
}

/// Caches the hashes of the local files that `moved` went through whole (downloaded, or read
/// unchanged for an upload; see [`Transferred::file`]), so that the next scan reads none of
/// them again.
fn cache_hashes(
    state: &SyncState,
    pipe: &str,
    moved: &[(String, Result<Transferred, String>)],
) -> Result<()> {
    let records: Vec<HashRecord> = moved
        .iter()
        .filter_map(|(path, result)| {
            let done = result.as_ref().ok()?;
            let hashes = Hashes {
                sha256: done.sha256.clone(),
                md5: done.md5.clone(),
            };
            transferred_file_record(path, done.file.as_ref()?, hashes)
        })
        .collect();
    state.store_hashes(pipe, &records)
}

/// `moved` with the files of `failed` (keys whose commit failed) turned into errors.
fn with_failures(
    moved: Vec<(String, Result<Transferred, String>)>,
    failed: Vec<(String, dpipe_storage::Error)>,
) -> Vec<(String, Result<Transferred, String>)> {
    let mut failed: BTreeMap<String, String> = failed
        .into_iter()
        .map(|(key, e)| (key, e.to_string()))
        .collect();
    moved
        .into_iter()
        .map(|(path, result)| match failed.remove(&path) {
            Some(message) => (path, Err(message)),
            None => (path, result),
        })
        .collect()
}

/// Deletes the temporary files killed runs left (partial downloads no run will finish). Only
/// tidying: a file that cannot be deleted stays, skipped by every scan as before.
fn remove_abandoned(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}

/// Fsyncs each of `folders` (relative to `base`), so that the renames in them survive a crash.
fn sync_folders(base: &Path, folders: &BTreeSet<String>) -> Result<()> {
    for folder in folders {
        let path = base.join(folder);
        std::fs::File::open(&path)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot fsync the folder {}: {e}", path.display()),
                )
            })?;
    }
    Ok(())
}

/// The folders (relative to the pipe, `""` for its top) that received a file in `moved`.
fn written_folders(moved: &[(String, Result<Transferred, String>)]) -> BTreeSet<String> {
    moved
        .iter()
        .filter(|(_, result)| result.is_ok())
        .map(|(path, _)| {
            path.rsplit_once('/')
                .map_or("", |(folder, _)| folder)
                .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use serde_json::json;

    use super::*;
    use crate::local::LocalApi;

    /// Counts what the engine tells it.
    #[derive(Default)]
    struct Counter {
        events: Mutex<Vec<String>>,
    }

    impl Progress for Counter {
        fn start(&self, files: usize, bytes: u64) {
            self.events
                .lock()
                .unwrap()
                .push(format!("start {files} {bytes}"));
        }
        fn file_done(&self, path: &str, bytes: u64) {
            self.events
                .lock()
                .unwrap()
                .push(format!("done {path} {bytes}"));
        }
        fn finish(&self) {
            self.events.lock().unwrap().push("finish".to_string());
        }
    }

    /// A local-mode API with pipe `p` on an `fs` remote at `<dir>/remote`.
    fn setup(dir: &Path) -> LocalApi {
        let api = LocalApi::open(&dir.join("local.sqlite"), "me", "me@example.com").unwrap();
        let remote = dir.join("remote");
        std::fs::create_dir_all(&remote).unwrap();
        api.create_pipe(&json!({"name": "p", "protocol": "fs",
            "location": remote.to_str().unwrap()}))
            .unwrap();
        api
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn identical_unrecorded_copies_are_adopted_not_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let api = setup(dir.path());
        let remote = dir.path().join("remote");
        let repo = dir.path().join("repo");
        // Both sides hold files no sync recorded (as a killed run leaves them): one the same,
        // one of the same size but different.
        write(&remote.join("same.txt"), "same");
        write(&repo.join("p/same.txt"), "same");
        write(&remote.join("diff.txt"), "abcd");
        write(&repo.join("p/diff.txt"), "wxyz");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let syncer = Syncer::new(&api, &repo, rt.handle().clone());

        let status = syncer.status("p", None, None).unwrap();
        assert_eq!(status.conflicts, vec!["diff.txt"], "{status:?}");
        let err = syncer.pull("p", &SyncOptions::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert!(!err.to_string().contains("same.txt"), "{err}");

        // Without the different one, the pull moves nothing and records the identical copy.
        std::fs::remove_file(repo.join("p/diff.txt")).unwrap();
        let report = syncer.pull("p", &SyncOptions::default()).unwrap();
        assert_eq!(report.transferred.len(), 1, "{report:?}");
        assert_eq!(report.transferred[0].path, "diff.txt");
        let state = SyncState::open(&repo).unwrap();
        assert!(state.synced("p").unwrap().contains_key("same.txt"));
        assert_eq!(
            std::fs::read_to_string(repo.join("p/same.txt")).unwrap(),
            "same"
        );
    }

    /// Writes `text` at `path` with a time an hour ago (old enough for the hash cache).
    fn write_old(path: &Path, text: &str) {
        write(path, text);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
    }

    #[test]
    fn new_files_are_read_once_by_their_upload_and_not_by_the_next_scans() {
        use super::super::local_scan::FILES_HASHED;
        let hashed = || FILES_HASHED.with(|n| n.get());
        let dir = tempfile::tempdir().unwrap();
        let api = setup(dir.path());
        let repo = dir.path().join("repo");
        write_old(&repo.join("p/a.txt"), "alpha");
        write_old(&repo.join("p/sub/b.txt"), "beta");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let syncer = Syncer::new(&api, &repo, rt.handle().clone());

        let start = hashed();
        let pushed = syncer.push("p", &SyncOptions::default()).unwrap();
        assert_eq!(pushed.transferred.len(), 2, "{pushed:?}");
        assert_eq!(
            hashed() - start,
            0,
            "the scan leaves new files to the upload"
        );
        let synced = SyncState::open(&repo).unwrap().synced("p").unwrap();
        let sha_alpha = {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(b"alpha"))
        };
        assert_eq!(
            synced["a.txt"].sha256, sha_alpha,
            "the upload's hash is recorded"
        );

        let again = syncer.push("p", &SyncOptions::default()).unwrap();
        assert!(again.transferred.is_empty(), "{again:?}");
        assert_eq!(hashed() - start, 0, "the upload's hashes were cached");

        // An edit is still seen (the scan hashes a synced file that changed).
        write_old(&repo.join("p/a.txt"), "ALPHA");
        std::fs::File::options()
            .write(true)
            .open(repo.join("p/a.txt"))
            .unwrap()
            .set_modified(SystemTime::now() - std::time::Duration::from_secs(60))
            .unwrap();
        let edited = syncer.push("p", &SyncOptions::default()).unwrap();
        assert_eq!(edited.transferred.len(), 1, "{edited:?}");
        assert_eq!(
            hashed() - start,
            1,
            "only the edited file is read by the scan"
        );
    }

    #[test]
    fn progress_hears_every_transfer_and_readme_shows_once() {
        let dir = tempfile::tempdir().unwrap();
        let api = setup(dir.path());
        let remote = dir.path().join("remote");
        write(&remote.join("README.md"), "# hello\n");
        write(&remote.join("LICENSE.md"), "MIT\n");
        write(&remote.join("sub/README.md"), "not at the top\n");
        write(&remote.join("data.csv"), "a,b\n1,2\n");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let counter = Counter::default();
        let repo = dir.path().join("repo");
        let syncer = Syncer::new(&api, &repo, rt.handle().clone()).with_progress(&counter);

        // A preview tells the progress nothing.
        let preview = syncer
            .pull(
                "p",
                &SyncOptions {
                    preview: true,
                    ..SyncOptions::default()
                },
            )
            .unwrap();
        assert!(preview.first_pulled.is_empty());
        assert!(counter.events.lock().unwrap().is_empty());

        let report = syncer.pull("p", &SyncOptions::default()).unwrap();
        assert_eq!(report.transferred.len(), 4);
        assert_eq!(report.first_pulled, vec!["LICENSE.md", "README.md"]);
        let mut events = counter.events.lock().unwrap().clone();
        assert_eq!(events.first().unwrap(), "start 4 35");
        assert_eq!(events.last().unwrap(), "finish");
        let mut done: Vec<_> = events.drain(1..events.len() - 1).collect();
        done.sort();
        assert_eq!(
            done,
            vec![
                "done LICENSE.md 4",
                "done README.md 8",
                "done data.csv 8",
                "done sub/README.md 15",
            ]
        );

        // Changed on the remote and pulled again: no longer a first pull.
        counter.events.lock().unwrap().clear();
        write(&remote.join("README.md"), "# hello, world\n");
        let again = syncer.pull("p", &SyncOptions::default()).unwrap();
        assert_eq!(again.transferred.len(), 1, "{again:?}");
        assert!(again.first_pulled.is_empty());
        assert_eq!(
            *counter.events.lock().unwrap(),
            vec!["start 1 15", "done README.md 15", "finish"]
        );

        // A push never reports first pulls, and its transfers are heard too.
        counter.events.lock().unwrap().clear();
        write(&repo.join("p/new.txt"), "new");
        let pushed = syncer.push("p", &SyncOptions::default()).unwrap();
        assert_eq!(pushed.transferred.len(), 1, "{pushed:?}");
        assert!(pushed.first_pulled.is_empty());
        assert_eq!(
            *counter.events.lock().unwrap(),
            vec!["start 1 3", "done new.txt 3", "finish"]
        );
    }
}
