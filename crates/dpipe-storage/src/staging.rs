//! Putting verified downloads in place durably, in batches flushed off the downloads' path.
//!
//! A download first becomes a [`Staged`] file: whole and verified in a temporary file next to
//! its final name. Committing it makes its data durable (fsync) and only then renames it into
//! place, so that even after a power cut the final name holds the old version or the new one,
//! whole. Fsyncing each download before its rename, on the download's own path, was a quarter
//! of the time of a pull of many small files, and made it erratic. A [`Stager`] gathers the
//! files of a run into batches and commits each in the background while downloads go on,
//! fsyncing a batch's files on many threads at once (the file system groups their journal
//! commits). Only dpipe's own files are flushed: a `syncfs` would be one call, but it would
//! also wait for whatever else is being written to the disk.
//!
//! Making the renames themselves durable (an fsync of each folder) is the caller's, once per
//! folder, before it records the files as synced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tempfile::TempPath;
use tokio::task::{JoinError, JoinHandle};

use crate::error::{Error, Result};
use crate::local_io::Hashed;
use crate::transfer::Transferred;

/// Files a [`Stager`] gathers at most before it commits them.
const BATCH_FILES: usize = 256;
/// Bytes a [`Stager`] gathers at most before it commits them: a large file is committed on its
/// own as soon as it is staged, so its flush overlaps the downloads still running.
const BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// Threads that fsync the files of a batch at once (the file system groups their journal
/// commits).
const FLUSH_THREADS: usize = 16;

/// A download whole and verified in its temporary file (next to its final name), neither
/// durable nor in place yet. Dropped without a commit, the temporary file is deleted.
pub struct Staged {
    key: String,
    temp: TempPath,
    dest: PathBuf,
    done: Transferred,
}

impl Staged {
    pub(crate) fn new(
        key: String,
        temp: TempPath,
        dest: PathBuf,
        hashed: Hashed,
        file: std::fs::Metadata,
        resumed: u64,
    ) -> Staged {
        let done = Transferred {
            size: hashed.size,
            sha256: hashed.sha256,
            md5: hashed.md5,
            file: Some(file),
            resumed,
        };
        Staged {
            key,
            temp,
            dest,
            done,
        }
    }

    /// The object's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What the download moved (the file's metadata stays true after the rename).
    pub fn transferred(&self) -> &Transferred {
        &self.done
    }

    /// Fsyncs the file and renames it into place.
    pub async fn commit(self) -> Result<Transferred> {
        let dest = self.dest.clone();
        tokio::task::spawn_blocking(move || {
            flush_one(&self.temp)?;
            self.rename()
        })
        .await
        .map_err(|e| Error::from_io(e.into(), "rename into place", &dest))?
    }

    /// Renames the (flushed) file into place.
    fn rename(self) -> Result<Transferred> {
        self.temp
            .persist(&self.dest)
            .map_err(|e| Error::from_io(e.error, "rename into place", &self.dest))?;
        Ok(self.done)
    }
}

/// Fsyncs the file at `path`.
fn flush_one(path: &Path) -> Result<()> {
    std::fs::File::open(path)
        .and_then(|file| file.sync_all())
        .map_err(|e| Error::from_io(e, "fsync", path))
}

/// Makes the data of every file of `batch` durable: an fsync each, on up to
/// [`FLUSH_THREADS`] threads. Returns the keys whose flush failed, with the error.
fn flush_batch(batch: &[Staged]) -> BTreeMap<String, Error> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(BTreeMap::new());
    let threads = batch.len().clamp(1, FLUSH_THREADS);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(staged) = batch.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if let Err(e) = flush_one(&staged.temp) {
                        lock(&failed).insert(staged.key.clone(), e);
                    }
                }
            });
        }
    });
    failed
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Flushes `batch` and renames its files into place; returns the keys that failed.
fn commit_batch(batch: Vec<Staged>) -> Vec<(String, Error)> {
    let mut failed = flush_batch(&batch);
    for staged in batch {
        if failed.contains_key(&staged.key) {
            continue; // dropped: the temporary file is deleted
        }
        let key = staged.key.clone();
        if let Err(e) = staged.rename() {
            failed.insert(key, e);
        }
    }
    failed.into_iter().collect()
}

/// Commits the staged downloads of one run in batches (up to 256 files or 16 MiB each), in the
/// background and one batch at a time, while the downloads go on. [`Stager::finish`] commits
/// the rest and tells which files failed.
#[derive(Default)]
pub struct Stager {
    /// Files staged and not yet handed to a commit.
    gathered: Mutex<Gathered>,
    /// Commits handed to the background, in order, with the keys of their batches.
    commits: Mutex<Vec<(Vec<String>, Commit)>>,
    /// Lets one batch at a time be committed: a flush holds a blocking thread a while, and
    /// the downloads need the others.
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// A batch's commit running in the background: the keys that failed, with their errors.
type Commit = JoinHandle<std::result::Result<Vec<(String, Error)>, JoinError>>;

/// The batch being gathered.
#[derive(Default)]
struct Gathered {
    files: Vec<Staged>,
    bytes: u64,
}

impl Stager {
    /// An empty stager.
    pub fn new() -> Stager {
        Stager::default()
    }

    /// Adds `staged` to the batch being gathered, and hands the batch to a background commit
    /// once it is full. Must be called within a Tokio runtime. Returns what the download moved.
    pub fn add(&self, staged: Staged) -> Transferred {
        let done = staged.done.clone();
        let full = {
            let mut gathered = lock(&self.gathered);
            gathered.bytes += done.size;
            gathered.files.push(staged);
            (gathered.files.len() >= BATCH_FILES || gathered.bytes >= BATCH_BYTES)
                .then(|| std::mem::take(&mut *gathered))
        };
        if let Some(batch) = full {
            self.start(batch.files);
        }
        done
    }

    /// Commits what is left, waits for every commit and returns the keys that failed, with
    /// their errors (each such file is gone from its temporary name and not in place).
    pub async fn finish(&self) -> Vec<(String, Error)> {
        let rest = std::mem::take(&mut *lock(&self.gathered));
        if !rest.files.is_empty() {
            self.start(rest.files);
        }
        let commits = std::mem::take(&mut *lock(&self.commits));
        let mut failed = Vec::new();
        for (keys, commit) in commits {
            match commit.await {
                Ok(Ok(keys)) => failed.extend(keys),
                Ok(Err(e)) | Err(e) => {
                    let message = e.to_string();
                    failed.extend(keys.into_iter().map(|key| {
                        let e = std::io::Error::other(message.clone());
                        let err = Error::from_io(e, "rename into place", Path::new(&key));
                        (key, err)
                    }));
                }
            }
        }
        failed
    }

    /// Commits `batch` in the background, after the commits before it.
    fn start(&self, batch: Vec<Staged>) {
        let keys = batch.iter().map(|s| s.key.clone()).collect();
        let turn = self.turn.clone();
        let commit = tokio::spawn(async move {
            let _turn = turn.lock().await;
            tokio::task::spawn_blocking(move || commit_batch(batch)).await
        });
        lock(&self.commits).push((keys, commit));
    }
}

/// Locks `mutex`, whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
