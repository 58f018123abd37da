//! The index: `index.sqlite` (WAL, `synchronous=FULL`) naming every bucket, object, upload
//! and part, and the blobs that hold their bytes.
//!
//! Writes go through one writer thread that owns the only write connection and commits in
//! groups: it takes every job waiting, runs each in its own savepoint (a failing job does
//! not spoil the others), commits once, deletes the blobs the batch released, and only then
//! answers each caller — so an acknowledged write is durable, and 16 concurrent PUTs cost one
//! WAL fsync, not 16. The blobs a job names are durable before it is submitted (each request
//! fsyncs its blob and its shard folder itself, in parallel): the writer's serial work is the
//! commit alone.
//! Reads use a small pool of connections that never wait behind the writer (WAL).
//!
//! Keys are stored as BLOBs: SQLite compares them with `memcmp`, which is S3's listing order
//! (UTF-8 bytes), and a range bound one byte past a prefix needs no valid UTF-8.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};

use super::blobs::{BlobId, Blobs, Segment};
use crate::error::{Error, ErrorKind, Result};

/// Jobs committed together at most.
const MAX_BATCH: usize = 256;
/// Idle read connections kept.
const MAX_IDLE_READERS: usize = 8;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    content_type TEXT,
    metadata TEXT,
    segments TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    content_type TEXT,
    metadata TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts (
    upload TEXT NOT NULL,
    number INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    etag TEXT NOT NULL,
    modified_ms INTEGER NOT NULL,
    PRIMARY KEY (upload, number)
) WITHOUT ROWID;
";

/// Opens a connection to the index at `path` with the pragmas every connection needs.
pub(crate) fn connect(path: &Path, write: bool) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| Error::db(format!("open {}", path.display()), e))?;
    let pragmas = if write {
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000;"
    } else {
        "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA query_only = ON;"
    };
    conn.execute_batch(pragmas)
        .map_err(|e| Error::db("set up the index connection", e))?;
    if write {
        conn.execute_batch(SCHEMA)
            .map_err(|e| Error::db("create the index tables", e))?;
    }
    Ok(conn)
}

/// An object's row.
#[derive(Debug, Clone)]
pub(crate) struct ObjectRow {
    pub(crate) key: String,
    pub(crate) size: u64,
    /// Unquoted: hex MD5, or `hex-N` for a multipart object.
    pub(crate) etag: String,
    pub(crate) modified_ms: i64,
    pub(crate) content_type: Option<String>,
    /// `x-amz-meta-*` as JSON (an object of strings).
    pub(crate) metadata: Option<String>,
    pub(crate) segments: Vec<Segment>,
}

/// The columns [`ObjectRow::from_row`] reads, in order.
pub(crate) const OBJECT_COLUMNS: &str =
    "key, size, etag, modified_ms, content_type, metadata, segments";

impl ObjectRow {
    pub(crate) fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ObjectRow> {
        let key: Vec<u8> = row.get(0)?;
        let segments: String = row.get(6)?;
        Ok(ObjectRow {
            key: String::from_utf8(key).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, e.into())
            })?,
            size: row.get(1)?,
            etag: row.get(2)?,
            modified_ms: row.get(3)?,
            content_type: row.get(4)?,
            metadata: row.get(5)?,
            segments: decode_segments(&segments).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    6,
                    rusqlite::types::Type::Text,
                    "bad segment list".into(),
                )
            })?,
        })
    }
}

/// `id:size,id:size…`
pub(crate) fn encode_segments(segments: &[Segment]) -> String {
    let parts: Vec<String> = segments
        .iter()
        .map(|s| format!("{}:{}", s.blob.hex(), s.size))
        .collect();
    parts.join(",")
}

pub(crate) fn decode_segments(text: &str) -> Option<Vec<Segment>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',')
        .map(|item| {
            let (id, size) = item.split_once(':')?;
            Some(Segment {
                blob: BlobId::parse(id)?,
                size: size.parse().ok()?,
            })
        })
        .collect()
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Work for the writer thread: runs in a savepoint of the batch's transaction (or not at
/// all, given no connection, when the transaction could not begin), pushes the blobs it
/// stops referencing, and returns what to do once the batch is committed (or not).
type Work = Box<dyn FnOnce(Option<&Connection>, &mut Vec<BlobId>) -> Finish + Send>;
type Finish = Box<dyn FnOnce(&Result<()>, &Blobs) + Send>;

struct Job {
    work: Work,
}

/// The handle of the writer thread.
pub(crate) struct Writer {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    blobs: Arc<Blobs>,
}

impl Writer {
    /// Starts the writer thread over `conn`.
    pub(crate) fn start(conn: Connection, blobs: Arc<Blobs>) -> Result<Writer> {
        let (tx, rx) = channel();
        let thread_blobs = Arc::clone(&blobs);
        let thread = std::thread::Builder::new()
            .name("dpipe-objects-writer".into())
            .spawn(move || write_loop(conn, &thread_blobs, rx))
            .map_err(|e| Error::io("start the index writer thread", e))?;
        Ok(Writer {
            jobs: Some(tx),
            thread: Some(thread),
            blobs,
        })
    }

    /// Runs `work` in the next batch and calls `reply` with its result once the batch is
    /// committed. `new_blobs` are blobs the work makes the index name (already durable: see
    /// the module doc); they are deleted if the job does not commit.
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        new_blobs: Vec<BlobId>,
        work: impl FnOnce(&Connection, &mut Vec<BlobId>) -> Result<T> + Send + 'static,
        reply: impl FnOnce(Result<T>) + Send + 'static,
    ) {
        let work: Work = Box::new(move |conn, released| {
            let out = conn.map(|conn| {
                let mut mine = Vec::new();
                let out = in_savepoint(conn, |conn| work(conn, &mut mine));
                if out.is_ok() {
                    released.extend(mine);
                }
                out
            });
            Box::new(move |commit: &Result<()>, blobs: &Blobs| {
                let out = match (commit, out) {
                    (Ok(()), Some(out)) => out,
                    (Err(e), _) => Err(e.duplicate()),
                    (Ok(()), None) => Err(Error::new(ErrorKind::Internal, "a job did not run")),
                };
                if out.is_err() {
                    // Named by no committed row: nobody else would delete them.
                    for id in new_blobs {
                        blobs.remove(id);
                    }
                }
                reply(out)
            })
        });
        let job = Job { work };
        let unsent = match &self.jobs {
            Some(jobs) => jobs.send(job).err().map(|e| e.0),
            None => Some(job),
        };
        if let Some(job) = unsent {
            // The thread is gone (it only stops when the store is dropped).
            let finish = (job.work)(None, &mut Vec::new());
            let stopped = Error::new(ErrorKind::Internal, "the index writer stopped");
            finish(&Err(stopped), &self.blobs);
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `f` in a savepoint, rolled back if it fails.
fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    conn.execute_batch("SAVEPOINT job")
        .map_err(|e| Error::db("start a savepoint", e))?;
    let out = f(conn);
    let end = if out.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    conn.execute_batch(end)
        .map_err(|e| Error::db("end a savepoint", e))?;
    out
}

fn write_loop(conn: Connection, blobs: &Blobs, jobs: Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let begun = conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| Error::db("begin a write transaction", e));
        let mut released = Vec::new();
        let mut finishes = Vec::with_capacity(batch.len());
        for job in batch {
            let conn = begun.is_ok().then_some(&conn);
            finishes.push((job.work)(conn, &mut released));
        }
        let commit = begun.and_then(|()| {
            conn.execute_batch("COMMIT")
                .map_err(|e| Error::db("commit", e))
        });
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        } else {
            blobs.release(released);
        }
        for finish in finishes {
            finish(&commit, blobs);
        }
    }
}

/// A small pool of read connections.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on a read connection (blocking).
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect(&self.path, false)?,
        };
        let out = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}
