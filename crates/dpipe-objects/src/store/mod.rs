//! [`ObjectStore`]: buckets of objects in a folder, S3's data model without its wire format.
//!
//! The folder holds `index.sqlite` (what exists: [`index`]), `blobs/xx/<id>` (the bytes:
//! [`blobs`], written by [`write`], read by [`reads`]) and `tmp/` (blobs being written). A key is only ever a value in the index,
//! never a path, so no key can name a file outside the folder. An object is listed only
//! once its bytes are durable and its row is committed; overwrites and deletes free the old
//! blobs after the commit. Opening the store recovers from a crash: it empties `tmp/`,
//! aborts multipart uploads older than [`StoreOptions::abandon_uploads_after`], and deletes
//! blobs no row names. The operations live in [`objects`], [`multipart`] and [`listing`].

pub(crate) mod blobs;
pub(crate) mod index;
pub(crate) mod listing;
pub(crate) mod multipart;
pub(crate) mod objects;
pub(crate) mod reads;
pub(crate) mod write;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rusqlite::Connection;

use self::blobs::{BlobId, Blobs};
use self::index::{Readers, Writer, decode_segments, now_ms};
use crate::error::{Error, ErrorKind, Result};

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Multipart uploads started longer ago than this are aborted when the store opens
    /// (default 24 hours).
    pub abandon_uploads_after: Duration,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            abandon_uploads_after: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// A folder of buckets of objects. Cheap to share (`Arc` inside); one process at a time
/// may open a folder (an exclusive lock on its index, held until the store is dropped).
pub struct ObjectStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    root: PathBuf,
    pub(crate) blobs: Arc<Blobs>,
    pub(crate) writer: Writer,
    pub(crate) readers: Readers,
    buckets: RwLock<HashSet<String>>,
    _lock: File,
}

impl std::fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl ObjectStore {
    /// Opens (creating if needed) the store in folder `root`, with default options.
    /// Blocking: call it before serving, or on the blocking pool.
    pub fn open(root: &Path) -> Result<ObjectStore> {
        ObjectStore::open_with(root, &StoreOptions::default())
    }

    /// Opens (creating if needed) the store in folder `root`, recovering from a crash (see
    /// the module doc). Fails with [`ErrorKind::Locked`] when another process has it open.
    pub fn open_with(root: &Path, options: &StoreOptions) -> Result<ObjectStore> {
        std::fs::create_dir_all(root)
            .map_err(|e| Error::io(format!("create {}", root.display()), e))?;
        let root = root
            .canonicalize()
            .map_err(|e| Error::io(format!("resolve {}", root.display()), e))?;
        let index_path = root.join("index.sqlite");
        let lock = lock_index(&index_path)?;
        let blobs = Arc::new(Blobs::open(&root)?);
        let conn = index::connect(&index_path, true)?;
        let report = recover(&conn, &blobs, options)?;
        let buckets = load_buckets(&conn)?;
        if report != Recovery::default() {
            tracing::info!(
                target: "dpipe::objects",
                root = %root.display(),
                temp_files = report.temp_files,
                uploads_aborted = report.uploads,
                blobs_deleted = report.blobs,
                "object store recovered leftovers"
            );
        }
        Ok(ObjectStore {
            inner: Arc::new(Inner {
                writer: Writer::start(conn, Arc::clone(&blobs))?,
                readers: Readers::new(&index_path),
                root,
                blobs,
                buckets: RwLock::new(buckets),
                _lock: lock,
            }),
        })
    }

    /// The store's folder (absolute).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Creates bucket `name` unless it exists. Buckets are made by the store's owner only:
    /// S3 clients cannot create or delete them. Blocking (waits for the commit).
    pub fn ensure_bucket(&self, name: &str) -> Result<()> {
        if !s3s::validation::NameValidation::validate_bucket_name(
            &s3s::validation::AwsNameValidation::new(),
            name,
        ) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("{name:?} is not a valid S3 bucket name"),
            ));
        }
        if self.has_bucket(name) {
            return Ok(());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let bucket = name.to_owned();
        self.inner.writer.submit(
            Vec::new(),
            move |conn, _| {
                conn.execute(
                    "INSERT OR IGNORE INTO buckets (name, created_ms) VALUES (?1, ?2)",
                    rusqlite::params![bucket, now_ms()],
                )
                .map_err(|e| Error::db("create a bucket", e))
            },
            move |out| {
                let _ = tx.send(out);
            },
        );
        rx.recv()
            .map_err(|_| Error::new(ErrorKind::Internal, "the index writer dropped a job"))??;
        self.inner
            .buckets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned());
        Ok(())
    }

    /// Whether bucket `name` exists.
    pub fn has_bucket(&self, name: &str) -> bool {
        self.inner
            .buckets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(name)
    }

    /// `Ok` when bucket `name` exists, else `NoSuchBucket`.
    pub(crate) fn check_bucket(&self, name: &str) -> Result<()> {
        if self.has_bucket(name) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::NoSuchBucket,
                "The specified bucket does not exist",
            ))
        }
    }

    /// Runs `f` on the blocking pool.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Arc<Inner>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(Error::join)?
    }

    /// Runs `work` in the writer's next batch; returns once it is committed.
    pub(crate) async fn commit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection, &mut Vec<BlobId>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner.writer.submit(Vec::new(), work, move |out| {
            let _ = tx.send(out);
        });
        rx.await
            .map_err(|_| Error::new(ErrorKind::Internal, "the index writer dropped a job"))?
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

/// Takes an exclusive, non-blocking `flock` on the index file (SQLite's own locks are POSIX
/// record locks: independent of this one).
fn lock_index(path: &Path) -> Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |e| {
            Error::new(
                ErrorKind::Locked,
                format!(
                    "the object store {} is in use by another process ({e})",
                    path.display()
                ),
            )
        },
    )?;
    Ok(file)
}

fn load_buckets(conn: &Connection) -> Result<HashSet<String>> {
    let mut stmt = conn
        .prepare("SELECT name FROM buckets")
        .map_err(|e| Error::db("read the buckets", e))?;
    let names = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect::<rusqlite::Result<HashSet<_>>>())
        .map_err(|e| Error::db("read the buckets", e))?;
    Ok(names)
}

/// What opening cleaned up.
#[derive(Debug, Default, PartialEq, Eq)]
struct Recovery {
    temp_files: usize,
    uploads: usize,
    blobs: usize,
}

/// Empties `tmp/`, aborts old uploads and deletes unreferenced blobs (before serving).
fn recover(conn: &Connection, blobs: &Blobs, options: &StoreOptions) -> Result<Recovery> {
    let mut report = Recovery::default();
    let tmp = blobs.tmp_dir();
    for entry in read_dir(&tmp)? {
        remove_any(&entry)?;
        report.temp_files += 1;
    }
    let cutoff = now_ms().saturating_sub(
        i64::try_from(options.abandon_uploads_after.as_millis()).unwrap_or(i64::MAX),
    );
    let db = |e| Error::db("abort abandoned uploads", e);
    report.uploads = conn
        .execute(
            "DELETE FROM parts WHERE upload IN (SELECT id FROM uploads WHERE created_ms < ?1)",
            [cutoff],
        )
        .map_err(db)
        .and_then(|_| {
            conn.execute("DELETE FROM uploads WHERE created_ms < ?1", [cutoff])
                .map_err(db)
        })?;
    let mut referenced = HashSet::new();
    let mut segments = conn
        .prepare("SELECT segments FROM objects UNION ALL SELECT blob || ':0' FROM parts")
        .map_err(|e| Error::db("read the blob references", e))?;
    let mut rows = segments
        .query([])
        .map_err(|e| Error::db("read the blob references", e))?;
    while let Some(row) = rows
        .next()
        .map_err(|e| Error::db("read the blob references", e))?
    {
        let text: String = row
            .get(0)
            .map_err(|e| Error::db("read the blob references", e))?;
        let list = decode_segments(&text).ok_or_else(|| {
            Error::new(
                ErrorKind::Corrupt,
                format!("the index names a malformed blob list {text:?}"),
            )
        })?;
        referenced.extend(list.into_iter().map(|s| s.blob));
    }
    for shard in 0..=255u8 {
        for entry in read_dir(&blobs.shard_dir(shard))? {
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if BlobId::parse(name).is_none_or(|id| !referenced.contains(&id)) {
                remove_any(&entry)?;
                report.blobs += 1;
            }
        }
    }
    Ok(report)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("list {}", dir.display()), e))?;
    entries
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io(format!("list {}", dir.display()), e))
}

/// Removes a file, or a folder and everything in it (never following a link).
fn remove_any(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| Error::io(format!("inspect {}", path.display()), e))?;
    let removed = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.map_err(|e| Error::io(format!("remove {}", path.display()), e))
}
