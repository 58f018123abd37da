//! The sync state of one file repo: a SQLite file at `<repo>/.dpipe/state.sqlite` (folder mode
//! 0700, WAL, `synchronous = FULL`, so whatever a commit acknowledged survives a crash) that
//! holds, per pipe, the hash cache of the local scan and what was recorded of each file at its
//! last sync.
//!
//! Every write is one transaction: a run that is interrupted leaves the state as it was before
//! the write or after it, never half-way. Schema changes are migrations recorded in SQLite's
//! `user_version`; a file written by a newer dpipe is refused rather than misread.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dpipe_core::manifest::SyncedFile;
use rusqlite::{Connection, OptionalExtension, params};

use crate::{Error, ErrorKind, Result};

/// The folder inside the file repo that holds dpipe's own files.
pub const STATE_DIR: &str = ".dpipe";

/// The SQLite file inside [`STATE_DIR`].
const STATE_FILE: &str = "state.sqlite";

/// Every migration, oldest first; the position + 1 is the schema version it produces.
pub(super) const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE hash_cache (
        pipe TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        md5 TEXT NOT NULL,
        PRIMARY KEY (pipe, path)
    );
    CREATE TABLE synced (
        pipe TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        local_mtime_ns INTEGER,
        remote_etag TEXT,
        remote_mtime_ns INTEGER,
        synced_at INTEGER NOT NULL,
        PRIMARY KEY (pipe, path)
    );
",
    "
    -- A download's MD5 is computed only when an ETag asks for it: the cache may lack it.
    CREATE TABLE hash_cache_v2 (
        pipe TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        md5 TEXT,
        PRIMARY KEY (pipe, path)
    );
    INSERT INTO hash_cache_v2 SELECT pipe, path, size, mtime_ns, inode, sha256, md5 FROM hash_cache;
    DROP TABLE hash_cache;
    ALTER TABLE hash_cache_v2 RENAME TO hash_cache;
",
];

/// What identifies one version of a local file without reading it: if none of the three
/// changed, neither did the content (see [`crate::sync::scan_local`] for the one exception it
/// guards against).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Inode number (a file replaced by another, e.g. by a rename, gets a new one).
    pub inode: u64,
}

/// The content hashes of a local file, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashes {
    /// SHA-256, the hash dpipe compares content by.
    pub sha256: String,
    /// MD5, to compare with the ETag of a single-part S3 upload; a download records it only
    /// when it computed it.
    pub md5: Option<String>,
}

/// One entry of the hash cache: the hashes of the file at `path` when it had `stamp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashRecord {
    /// The path relative to the pipe's folder.
    pub path: String,
    /// The file's stamp when it was hashed.
    pub stamp: FileStamp,
    /// Its hashes.
    pub hashes: Hashes,
}

/// An open sync state file (see the module docs). Not shared between threads; open one per
/// command.
#[derive(Debug)]
pub struct SyncState {
    conn: Connection,
    file: PathBuf,
    /// Device and inode of the state folder, so a scan of a folder that contains it skips it.
    dir_id: (u64, u64),
}

impl SyncState {
    /// Opens (creating it, and the repo folder, if needed) the sync state of the file repo at
    /// `repo`. A `repo` that is not a folder, or a `.dpipe` in it that is not a real folder, is
    /// an [`ErrorKind::Config`] error; failing I/O or SQLite is [`ErrorKind::Io`], both naming
    /// the path.
    pub fn open(repo: &Path) -> Result<SyncState> {
        match fs::metadata(repo) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("the file repo {} is not a folder", repo.display()),
                ));
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(repo).map_err(|e| io_error("create the file repo", repo, e))?;
            }
            Err(err) => return Err(io_error("read the file repo", repo, err)),
        }
        let dir = repo.join(STATE_DIR);
        let meta = match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                    .map_err(|e| io_error("set the mode of", &dir, e))?;
                meta
            }
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{} is not a folder (dpipe keeps its sync state there); move it away",
                        dir.display()
                    ),
                ));
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .mode(0o700)
                    .create(&dir)
                    .map_err(|e| io_error("create", &dir, e))?;
                fs::symlink_metadata(&dir).map_err(|e| io_error("read", &dir, e))?
            }
            Err(err) => return Err(io_error("read", &dir, err)),
        };
        let file = dir.join(STATE_FILE);
        let sql = |err: rusqlite::Error| sql_error(&file, err);
        let mut conn = Connection::open(&file).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        // WAL lets a reader proceed during a write; FULL makes each commit durable before it
        // returns.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        migrate(&mut conn, &file)?;
        Ok(SyncState {
            conn,
            file,
            dir_id: (meta.dev(), meta.ino()),
        })
    }

    /// The SQLite file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// True if `meta` (from `symlink_metadata`) is the state folder itself.
    pub(super) fn is_state_dir(&self, meta: &fs::Metadata) -> bool {
        meta.is_dir() && (meta.dev(), meta.ino()) == self.dir_id
    }

    /// The cached hashes of `path` in `pipe`, if they were recorded for exactly `stamp`.
    pub fn cached_hash(&self, pipe: &str, path: &str, stamp: FileStamp) -> Result<Option<Hashes>> {
        self.conn
            .prepare_cached(
                "SELECT sha256, md5 FROM hash_cache
                 WHERE pipe = ?1 AND path = ?2 AND size = ?3 AND mtime_ns = ?4 AND inode = ?5",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![
                        pipe,
                        path,
                        to_sql(stamp.size),
                        stamp.mtime_ns,
                        to_sql(stamp.inode)
                    ],
                    |row| {
                        Ok(Hashes {
                            sha256: row.get(0)?,
                            md5: row.get(1)?,
                        })
                    },
                )
                .optional()
            })
            .map_err(|e| self.sql(e))
    }

    /// Stores `records` in the hash cache of `pipe` (replacing what was cached for their
    /// paths), in one transaction.
    pub fn store_hashes(&self, pipe: &str, records: &[HashRecord]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare(
                "INSERT OR REPLACE INTO hash_cache (pipe, path, size, mtime_ns, inode, sha256, md5)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for r in records {
                stmt.execute(params![
                    pipe,
                    r.path,
                    to_sql(r.stamp.size),
                    r.stamp.mtime_ns,
                    to_sql(r.stamp.inode),
                    r.hashes.sha256,
                    r.hashes.md5
                ])?;
            }
            Ok(())
        })
    }

    /// What was recorded of each file of `pipe` at its last sync, by path.
    pub fn synced(&self, pipe: &str) -> Result<BTreeMap<String, SyncedFile>> {
        let read = || -> rusqlite::Result<BTreeMap<String, SyncedFile>> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT path, size, sha256, local_mtime_ns, remote_etag, remote_mtime_ns
                 FROM synced WHERE pipe = ?1",
            )?;
            let rows = stmt.query_map([pipe], |row| {
                Ok(SyncedFile {
                    path: row.get(0)?,
                    size: from_sql(row.get(1)?),
                    sha256: row.get(2)?,
                    local_modified: row.get::<_, Option<i64>>(3)?.map(ns_to_time),
                    remote_etag: row.get(4)?,
                    remote_modified: row.get::<_, Option<i64>>(5)?.map(ns_to_time),
                })
            })?;
            rows.map(|file| file.map(|f| (f.path.clone(), f))).collect()
        };
        read().map_err(|e| self.sql(e))
    }

    /// Records `files` as synced in `pipe` now (replacing earlier records of their paths), in
    /// one transaction.
    pub fn record_synced(&self, pipe: &str, files: &[SyncedFile]) -> Result<()> {
        let now = time_to_ns(SystemTime::now());
        self.write(|tx| {
            let mut stmt = tx.prepare(
                "INSERT OR REPLACE INTO synced (pipe, path, size, sha256, local_mtime_ns,
                     remote_etag, remote_mtime_ns, synced_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for f in files {
                stmt.execute(params![
                    pipe,
                    f.path,
                    to_sql(f.size),
                    f.sha256,
                    f.local_modified.map(time_to_ns),
                    f.remote_etag,
                    f.remote_modified.map(time_to_ns),
                    now
                ])?;
            }
            Ok(())
        })
    }

    /// Forgets the sync records of `paths` in `pipe` (e.g. files deleted on both sides), in
    /// one transaction. Paths without a record are ignored.
    pub fn forget_synced(&self, pipe: &str, paths: &[impl AsRef<str>]) -> Result<()> {
        self.write(|tx| {
            let mut stmt = tx.prepare("DELETE FROM synced WHERE pipe = ?1 AND path = ?2")?;
            for path in paths {
                stmt.execute(params![pipe, path.as_ref()])?;
            }
            Ok(())
        })
    }

    /// Drops everything recorded for `pipe` (sync records and hash cache), in one
    /// transaction: the next run treats every file as never synced.
    pub fn reset(&self, pipe: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM synced WHERE pipe = ?1", [pipe])?;
            tx.execute("DELETE FROM hash_cache WHERE pipe = ?1", [pipe])?;
            Ok(())
        })
    }

    /// The pipes that have at least one sync record (pulled or pushed so far), sorted.
    pub fn pipes(&self) -> Result<Vec<String>> {
        let read = || -> rusqlite::Result<Vec<String>> {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT DISTINCT pipe FROM synced ORDER BY pipe")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            rows.collect()
        };
        read().map_err(|e| self.sql(e))
    }

    /// Runs `f` in one transaction, committed only if it succeeds.
    fn write(&self, f: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>) -> Result<()> {
        let run = || -> rusqlite::Result<()> {
            // `&self` suffices: the connection is not shared, so no other transaction can be
            // open on it.
            let tx = self.conn.unchecked_transaction()?;
            f(&tx)?;
            tx.commit()
        };
        run().map_err(|e| self.sql(e))
    }

    fn sql(&self, err: rusqlite::Error) -> Error {
        sql_error(&self.file, err)
    }
}

/// Brings the database to the newest schema, each step in its own transaction.
fn migrate(conn: &mut Connection, file: &Path) -> Result<()> {
    let sql = |err: rusqlite::Error| sql_error(file, err);
    let current = conn
        .query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
        .map_err(sql)?;
    let current = usize::try_from(current).unwrap_or(usize::MAX);
    if current > MIGRATIONS.len() {
        return Err(Error::new(
            ErrorKind::Io,
            format!(
                "{}: the sync state has schema version {current}, newer than this dpipe knows ({}); upgrade dpipe",
                file.display(),
                MIGRATIONS.len()
            ),
        ));
    }
    for (index, step) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(step).map_err(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}

/// Nanoseconds since the Unix epoch (negative before it; saturating far outside ±292 years).
pub(super) fn time_to_ns(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_nanos()).map_or(i64::MIN, |ns| -ns),
    }
}

/// The inverse of [`time_to_ns`].
fn ns_to_time(ns: i64) -> SystemTime {
    let magnitude = Duration::from_nanos(ns.unsigned_abs());
    if ns >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// SQLite integers are signed 64-bit: a `u64` (size, inode) is stored bit for bit, so even
/// values above `i64::MAX` round-trip exactly through [`from_sql`].
fn to_sql(value: u64) -> i64 {
    value as i64
}

/// The inverse of [`to_sql`].
fn from_sql(value: i64) -> u64 {
    value as u64
}

pub(super) fn io_error(what: &str, path: &Path, err: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("cannot {what} {}: {err}", path.display()),
    )
}

fn sql_error(file: &Path, err: rusqlite::Error) -> Error {
    Error::new(
        ErrorKind::Io,
        format!("sync state {}: {err}", file.display()),
    )
}
