//! Deleting a pipe's files: orphans on one side, listed files, or everything the sync state
//! recorded (`reset`). A preview unless `apply` is set; an applied run that met a refused key
//! deletes nothing; the first failed deletion stops the run.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind as IoKind;

use dpipe_core::filter::Filter;
use dpipe_core::manifest::{Manifest, check_key};
use dpipe_core::plan::orphans;
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use dpipe_storage::Storage;
use serde::Serialize;
use serde_json::Value;

use crate::sync::location::{location_for, storage_error};
use crate::sync::report::PathNote;
use crate::sync::state::io_error;
use crate::sync::{SyncState, Syncer, scan_local};
use crate::{Error, ErrorKind, Result};

use super::{check_folder_or_missing, check_parents, remove_empty_up_to};

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
        let storage = Storage::connect(&location, self.tuning.clone())
            .map_err(storage_error(pipe, Access::Read))?;
        let remote = self
            .runtime
            .block_on(async move { storage.scan("").await })
            .map_err(storage_error(pipe, Access::Read))?;
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
            let storage = Storage::connect(&location, self.tuning.clone())
                .map_err(storage_error(pipe, Access::Write))?;
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
