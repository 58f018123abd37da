//! Upkeep of a pipe's files and sync state: remove orphans, delete files, reset, list the
//! synced files and the pipes pulled so far, import files into a pipe's folder.
//!
//! Deleting is a preview unless `apply` is set, and an applied run deletes nothing when a scan
//! refused a key: a run that had an error deletes nothing. The first deletion that fails stops
//! the run (the report lists it). Remote deletion needs a write role, checked before any
//! scan; local deletion only removes files the scan of the pipe's folder found (which never
//! follows a symbolic link). Every deleted path's sync record is forgotten.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use dpipe_core::filter::Filter;
use dpipe_core::manifest::{Manifest, SyncedFile, check_key};
use dpipe_core::name::validate_resource_name;
use dpipe_core::plan::orphans;
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use dpipe_storage::{Storage, TEMP_PREFIX};
use serde::Serialize;
use serde_json::Value;

use super::location::{location_for, storage_error};
use super::report::PathNote;
use super::state::io_error;
use super::{STATE_DIR, SyncState, Syncer, scan_local};
use crate::{Error, ErrorKind, Result};

/// Which side of a pipe a deletion is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The pipe's folder in the file repo.
    Local,
    /// The pipe's storage.
    Remote,
    /// Both.
    Both,
}

impl Side {
    fn local(self) -> bool {
        self != Side::Remote
    }
    fn remote(self) -> bool {
        self != Side::Local
    }
}

/// One file deleted, or to be deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Doomed {
    /// The path relative to the pipe's folder.
    pub path: String,
    /// Bytes.
    pub size: u64,
}

/// What a remove-orphans or delete run deleted, or would delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    /// The pipe.
    pub pipe: String,
    /// The side asked for.
    pub side: Side,
    /// True when files were deleted; false for a preview.
    pub applied: bool,
    /// Local files (to be) deleted, sorted.
    pub local: Vec<Doomed>,
    /// Remote files (to be) deleted, sorted.
    pub remote: Vec<Doomed>,
    /// Bytes of the files listed.
    pub bytes: u64,
    /// Paths actually deleted (an applied run; with their side as `local:` or `remote:`).
    pub deleted: Vec<String>,
    /// Keys a scan refused (an applied run with any refuses before deleting).
    pub rejected: Vec<PathNote>,
    /// The deletion that failed and stopped the run.
    pub errors: Vec<PathNote>,
}

impl Removal {
    /// True when nothing was refused or failed.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty() && self.errors.is_empty()
    }
}

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

/// What an import copied or moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The pipe.
    pub pipe: String,
    /// Paths (relative to the pipe's folder) written.
    pub imported: Vec<String>,
    /// Paths whose file already had the same content.
    pub unchanged: Vec<String>,
    /// Sources left alone (symbolic links, special files), with why.
    pub skipped: Vec<PathNote>,
    /// Bytes written.
    pub bytes: u64,
}

/// Options of [`Syncer::import`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Remove each source file once copied.
    pub move_files: bool,
    /// A sub-folder of the pipe's folder to import into.
    pub subdir: Option<String>,
    /// Overwrite existing files with different content.
    pub force: bool,
}

impl Syncer<'_> {
    /// Deletes (or with `apply` false, lists) the files of `pipe` present on one side only,
    /// among those the pipe's include/exclude lets through: `side` `Local` deletes local files
    /// the remote lacks, `Remote` remote files the folder lacks, `Both` both.
    pub fn remove_orphans(&self, pipe: &str, side: Side, apply: bool) -> Result<Removal> {
        let (view, local, remote) = self.maintenance_scan(pipe, side)?;
        let filter = pipe_filter(&view)?;
        let found = orphans(&local, &remote, &filter);
        let pick = |paths: &[String], m: &Manifest, on: bool| -> Vec<Doomed> {
            if !on {
                return Vec::new();
            }
            paths.iter().filter_map(|p| doomed(m, p)).collect()
        };
        let local_list = pick(&found.local_only, &local, side.local());
        let remote_list = pick(&found.remote_only, &remote, side.remote());
        self.remove(
            pipe,
            &view,
            side,
            apply,
            local_list,
            remote_list,
            &local,
            &remote,
        )
    }

    /// Deletes (or with `apply` false, lists) the files of `pipe` on `side`: all of them, or
    /// exactly `files`. A listed path on neither scanned side is an [`ErrorKind::Invalid`]
    /// error, before anything is deleted.
    pub fn delete_files(
        &self,
        pipe: &str,
        side: Side,
        files: Option<&[String]>,
        apply: bool,
    ) -> Result<Removal> {
        if let Some(files) = files {
            for f in files {
                check_key(f).map_err(|why| {
                    Error::new(ErrorKind::Invalid, format!("cannot delete {f:?}: {why}"))
                })?;
            }
        }
        let (view, local, remote) = self.maintenance_scan(pipe, side)?;
        let wanted: Option<BTreeSet<&str>> = files.map(|f| f.iter().map(String::as_str).collect());
        if let Some(wanted) = &wanted {
            let missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|p| {
                    !(side.local() && local.get(p).is_some()
                        || side.remote() && remote.get(p).is_some())
                })
                .collect();
            if !missing.is_empty() {
                return Err(Error::new(
                    ErrorKind::Invalid,
                    format!(
                        "delete of pipe {pipe} refused, nothing was deleted: no such file: {}",
                        missing.join(", ")
                    ),
                ));
            }
        }
        let pick = |m: &Manifest, on: bool| -> Vec<Doomed> {
            if !on {
                return Vec::new();
            }
            m.entries
                .iter()
                .filter(|e| wanted.as_ref().is_none_or(|w| w.contains(e.path.as_str())))
                .map(|e| Doomed {
                    path: e.path.clone(),
                    size: e.size,
                })
                .collect()
        };
        let local_list = pick(&local, side.local());
        let remote_list = pick(&remote, side.remote());
        self.remove(
            pipe,
            &view,
            side,
            apply,
            local_list,
            remote_list,
            &local,
            &remote,
        )
    }

    /// Forgets everything the sync state recorded of `pipe`; with `local_files`, also
    /// removes the pipe's folder (refused when it is a symbolic link or not a folder).
    pub fn reset(&self, pipe: &str, local_files: bool) -> Result<()> {
        let folder = self.pipe_folder(pipe)?;
        if local_files {
            check_folder_or_missing(&folder)?;
        }
        SyncState::open(&self.repo)?.reset(pipe)?;
        if local_files {
            match fs::remove_dir_all(&folder) {
                Err(e) if e.kind() != IoKind::NotFound => {
                    return Err(io_error("remove", &folder, e));
                }
                _ => {}
            }
        }
        Ok(())
    }

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

    /// Copies (or moves) `sources`, files or folders, into the folder of `pipe` (under
    /// `options.subdir`). Symbolic links are never followed (reported as skipped). Everything
    /// is checked before anything is written: a destination outside the pipe's folder, under
    /// a symbolic link, or an existing file with different content (without `force`) refuses
    /// the whole import.
    pub fn import(
        &self,
        pipe: &str,
        sources: &[PathBuf],
        options: &ImportOptions,
    ) -> Result<ImportReport> {
        let folder = self.pipe_folder(pipe)?;
        self.api.get_pipe(pipe)?;
        if sources.is_empty() {
            return Err(Error::new(
                ErrorKind::Invalid,
                "nothing to import: name files or folders",
            ));
        }
        let base = match options.subdir.as_deref() {
            Some(s) => {
                let s = s.trim_end_matches('/');
                check_key(s).map_err(|why| {
                    Error::new(ErrorKind::Invalid, format!("--subdir {s:?} refused: {why}"))
                })?;
                format!("{s}/")
            }
            None => String::new(),
        };
        let repo = fs::canonicalize(&self.repo).unwrap_or_else(|_| self.repo.clone());
        let mut report = ImportReport {
            pipe: pipe.to_string(),
            ..ImportReport::default()
        };
        // (source file, destination key)
        let mut plan: Vec<(PathBuf, String)> = Vec::new();
        for source in sources {
            let meta = fs::symlink_metadata(source).map_err(|e| io_error("read", source, e))?;
            if let Ok(real) = fs::canonicalize(source)
                && real.starts_with(&repo)
            {
                return Err(Error::new(
                    ErrorKind::Invalid,
                    format!(
                        "import refused: {} is inside the file repo",
                        source.display()
                    ),
                ));
            }
            let name = source.file_name().and_then(|n| n.to_str()).ok_or_else(|| {
                Error::new(
                    ErrorKind::Invalid,
                    format!("import refused: {} has no usable name", source.display()),
                )
            })?;
            collect(
                source,
                &meta,
                &format!("{base}{name}"),
                &mut plan,
                &mut report,
            )?;
        }
        let mut keys = BTreeSet::new();
        for (source, key) in &plan {
            check_key(key).map_err(|why| {
                Error::new(
                    ErrorKind::Invalid,
                    format!(
                        "import refused: {} would land at {key:?}: {why}",
                        source.display()
                    ),
                )
            })?;
            if !keys.insert(key.as_str()) {
                return Err(Error::new(
                    ErrorKind::Invalid,
                    format!("import refused: two sources land at {key}"),
                ));
            }
        }
        check_folder_or_missing(&folder)?;
        let mut writes = Vec::new();
        for (source, key) in &plan {
            let dest = folder.join(key);
            check_parents(&folder, key)?;
            match fs::symlink_metadata(&dest) {
                Ok(m) if !m.is_file() => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "import refused, nothing was written: {key} exists and is not a file"
                        ),
                    ));
                }
                Ok(_) => {
                    if same_content(source, &dest)? {
                        report.unchanged.push(key.clone());
                        continue;
                    }
                    if !options.force {
                        return Err(Error::new(
                            ErrorKind::Conflict,
                            format!(
                                "import refused, nothing was written: {key} exists with different content (use --force to overwrite)"
                            ),
                        ));
                    }
                }
                Err(e) if e.kind() == IoKind::NotFound => {}
                Err(e) => return Err(io_error("read", &dest, e)),
            }
            writes.push((source, key));
        }
        for (source, key) in writes {
            let dest = folder.join(key);
            let parent = dest.parent().unwrap_or(&folder);
            fs::create_dir_all(parent).map_err(|e| io_error("create", parent, e))?;
            check_parents(&folder, key)?;
            let temp = parent.join(format!(
                "{TEMP_PREFIX}import-{:016x}",
                rand::random::<u64>()
            ));
            let copied = fs::copy(source, &temp).and_then(|n| fs::rename(&temp, &dest).map(|()| n));
            match copied {
                Ok(n) => report.bytes += n,
                Err(e) => {
                    let _ = fs::remove_file(&temp);
                    return Err(io_error("import to", &dest, e));
                }
            }
            report.imported.push(key.clone());
        }
        if options.move_files {
            for (source, _) in &plan {
                fs::remove_file(source).map_err(|e| io_error("remove", source, e))?;
            }
            for source in sources {
                if fs::symlink_metadata(source).is_ok_and(|m| m.is_dir()) {
                    remove_empty_dirs(source);
                }
            }
        }
        Ok(report)
    }

    /// The folder of `pipe`, after checking its name cannot climb out of the repo.
    fn pipe_folder(&self, pipe: &str) -> Result<PathBuf> {
        validate_resource_name(pipe)
            .map_err(|e| Error::new(ErrorKind::Invalid, format!("pipe name {pipe:?}: {e}")))?;
        Ok(self.repo.join(pipe))
    }

    /// The pipe and both manifests; a remote side needs a write role, checked first.
    fn maintenance_scan(&self, pipe: &str, side: Side) -> Result<(PipeView, Manifest, Manifest)> {
        let folder = self.pipe_folder(pipe)?;
        let view = self.api.get_pipe(pipe)?;
        if side.remote() && view.role == "read" {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "deleting remote files refused: your role on pipe {pipe} is read; it needs write"
                ),
            ));
        }
        let location = location_for(&view, &self.api.credentials(pipe, Access::Read)?)?;
        let storage = Storage::connect(&location, self.tuning.clone()).map_err(storage_error)?;
        let remote = self
            .runtime
            .block_on(async move { storage.scan("").await })
            .map_err(storage_error)?;
        let state = SyncState::open(&self.repo)?;
        let local = scan_local(&folder, pipe, &state)?;
        Ok((view, local, remote))
    }

    /// Deletes the listed files unless it is a preview or a scan refused a key.
    #[allow(clippy::too_many_arguments)]
    fn remove(
        &self,
        pipe: &str,
        view: &PipeView,
        side: Side,
        apply: bool,
        local_list: Vec<Doomed>,
        remote_list: Vec<Doomed>,
        local: &Manifest,
        remote: &Manifest,
    ) -> Result<Removal> {
        let rejected: Vec<PathNote> = local
            .rejected
            .iter()
            .map(|k| (k, "local"))
            .chain(remote.rejected.iter().map(|k| (k, "remote")))
            .map(|(k, at)| PathNote {
                path: k.key.clone(),
                reason: format!("{} ({at})", k.reason),
            })
            .collect();
        let mut out = Removal {
            pipe: pipe.to_string(),
            side,
            applied: false,
            bytes: local_list.iter().chain(&remote_list).map(|d| d.size).sum(),
            local: local_list,
            remote: remote_list,
            deleted: Vec::new(),
            rejected,
            errors: Vec::new(),
        };
        if !apply {
            return Ok(out);
        }
        if !out.rejected.is_empty() {
            let keys: Vec<String> = out
                .rejected
                .iter()
                .map(|k| format!("  {:?} ({})", k.path, k.reason))
                .collect();
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "deletion in pipe {pipe} refused, nothing was deleted: the scan refused keys:\n{}",
                    keys.join("\n")
                ),
            ));
        }
        out.applied = true;
        let folder = self.pipe_folder(pipe)?;
        let mut forget = Vec::new();
        for d in &out.local {
            let path = folder.join(&d.path);
            if let Err(e) = check_parents(&folder, &d.path) {
                out.errors.push(PathNote {
                    path: d.path.clone(),
                    reason: e.message().to_string(),
                });
                break;
            }
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == IoKind::NotFound => {}
                Err(e) => {
                    out.errors.push(PathNote {
                        path: d.path.clone(),
                        reason: format!("cannot delete locally: {e}"),
                    });
                    break;
                }
            }
            if let Some(parent) = path.parent() {
                remove_empty_up_to(parent, &folder);
            }
            out.deleted.push(format!("local:{}", d.path));
            forget.push(d.path.clone());
        }
        if out.errors.is_empty() && !out.remote.is_empty() {
            let location = location_for(view, &self.api.credentials(pipe, Access::Write)?)?;
            let storage =
                Storage::connect(&location, self.tuning.clone()).map_err(storage_error)?;
            for d in &out.remote {
                let key = d.path.clone();
                let s = storage.clone();
                if let Err(e) = self.runtime.block_on(async move { s.delete(&key).await }) {
                    out.errors.push(PathNote {
                        path: d.path.clone(),
                        reason: format!("cannot delete remotely: {e}"),
                    });
                    break;
                }
                out.deleted.push(format!("remote:{}", d.path));
                forget.push(d.path.clone());
            }
        }
        SyncState::open(&self.repo)?.forget_synced(pipe, &forget)?;
        Ok(out)
    }
}

/// The include/exclude of the pipe's own options.
fn pipe_filter(view: &PipeView) -> Result<Filter> {
    let own = |key: &str| view.options.get(key).and_then(Value::as_str);
    Ok(Filter::new(own("include"), own("exclude"))?)
}

fn doomed(m: &Manifest, path: &str) -> Option<Doomed> {
    m.get(path).map(|e| Doomed {
        path: e.path.clone(),
        size: e.size,
    })
}

/// Refuses a pipe folder that is a symbolic link or not a folder; a missing one is fine.
fn check_folder_or_missing(folder: &Path) -> Result<()> {
    match fs::symlink_metadata(folder) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::new(
            ErrorKind::Config,
            format!(
                "refused: the pipe folder {} is a symbolic link; dpipe never follows links out of the file repo",
                folder.display()
            ),
        )),
        Ok(m) if !m.is_dir() => Err(Error::new(
            ErrorKind::Config,
            format!("refused: {} is not a folder", folder.display()),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == IoKind::NotFound => Ok(()),
        Err(e) => Err(io_error("read", folder, e)),
    }
}

/// Refuses a destination whose existing parent folders (inside `folder`) include a symbolic
/// link or a file.
fn check_parents(folder: &Path, key: &str) -> Result<()> {
    let mut at = folder.to_path_buf();
    let segments: Vec<&str> = key.split('/').collect();
    for seg in &segments[..segments.len().saturating_sub(1)] {
        at.push(seg);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "refused, nothing was written or deleted there: {} is a symbolic link or a file",
                        at.display()
                    ),
                ));
            }
            Err(e) if e.kind() == IoKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error("read", &at, e)),
        }
    }
    Ok(())
}

/// Adds the regular files of `source` (a file, or a folder walked without following links)
/// to `plan` under `key`; links and special files go to `report.skipped`.
fn collect(
    source: &Path,
    meta: &fs::Metadata,
    key: &str,
    plan: &mut Vec<(PathBuf, String)>,
    report: &mut ImportReport,
) -> Result<()> {
    let kind = meta.file_type();
    if kind.is_symlink() {
        report.skipped.push(PathNote {
            path: source.display().to_string(),
            reason: "symbolic link, not followed".into(),
        });
    } else if kind.is_file() {
        if key
            .rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with(TEMP_PREFIX) || n == STATE_DIR)
        {
            report.skipped.push(PathNote {
                path: source.display().to_string(),
                reason: "a name dpipe keeps for itself".into(),
            });
        } else {
            plan.push((source.to_path_buf(), key.to_string()));
        }
    } else if kind.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(source)
            .map_err(|e| io_error("read", source, e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| io_error("read", source, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                report.skipped.push(PathNote {
                    path: path.display().to_string(),
                    reason: "name is not UTF-8".into(),
                });
                continue;
            };
            let meta = fs::symlink_metadata(&path).map_err(|e| io_error("read", &path, e))?;
            collect(&path, &meta, &format!("{key}/{name}"), plan, report)?;
        }
    } else {
        report.skipped.push(PathNote {
            path: source.display().to_string(),
            reason: "not a regular file or folder".into(),
        });
    }
    Ok(())
}

/// True when the two files have the same bytes.
fn same_content(a: &Path, b: &Path) -> Result<bool> {
    let (ma, mb) = (
        fs::metadata(a).map_err(|e| io_error("read", a, e))?,
        fs::metadata(b).map_err(|e| io_error("read", b, e))?,
    );
    if ma.len() != mb.len() {
        return Ok(false);
    }
    let hash = |p: &Path| -> Result<Vec<u8>> {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        let mut f = fs::File::open(p).map_err(|e| io_error("read", p, e))?;
        std::io::copy(&mut f, &mut h).map_err(|e| io_error("read", p, e))?;
        Ok(h.finalize().to_vec())
    };
    Ok(hash(a)? == hash(b)?)
}

/// Removes `dir` and its parents while they are empty, stopping at `top` (kept).
fn remove_empty_up_to(dir: &Path, top: &Path) {
    let mut at = dir;
    while at != top && at.starts_with(top) && fs::remove_dir(at).is_ok() {
        match at.parent() {
            Some(p) => at = p,
            None => break,
        }
    }
}

/// Removes the empty folders under and including `dir`, bottom up (a moved import's source).
fn remove_empty_dirs(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}
