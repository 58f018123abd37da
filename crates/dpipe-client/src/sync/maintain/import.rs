//! Importing files or folders into a pipe's folder, copied or moved, without following links.

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use dpipe_core::manifest::check_key;
use dpipe_storage::TEMP_PREFIX;
use serde::Serialize;

use crate::sync::report::PathNote;
use crate::sync::state::io_error;
use crate::sync::{STATE_DIR, Syncer};
use crate::{Error, ErrorKind, Result};

use super::{check_folder_or_missing, check_parents, remove_empty_dirs};

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
