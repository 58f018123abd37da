//! The server's data folder: an exclusive lock so only one `dpipe serve` uses it, the server
//! key that derives every user's token, and the SQLite repo database.
//!
//! ```text
//! <dir>/            0700
//!   dpipe.lock      held with an exclusive flock while the server runs
//!   server.key      64 hex characters, 0600, written once (temp file + rename)
//!   registry.sqlite the repo database (WAL, synchronous=FULL)
//! ```

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dpipe_registry::{Clock, Registry, ServerKey};
use dpipe_store::SqliteStore;

use crate::ServerError;

/// Name of the lock file inside the data folder.
pub const LOCK_FILE: &str = "dpipe.lock";
/// Name of the server key file inside the data folder.
pub const KEY_FILE: &str = "server.key";
/// Name of the SQLite database inside the data folder.
pub const DATABASE_FILE: &str = "registry.sqlite";

/// An opened, locked data folder. The lock is held until this value is dropped, so keep it
/// alive for as long as a [`Registry`] made from it serves requests.
pub struct DataDir {
    /// The folder.
    path: PathBuf,
    /// Never read: holding the open file is what holds the lock.
    _lock: File,
    /// The key tokens are derived with.
    key: ServerKey,
    /// The repo database.
    store: Arc<SqliteStore>,
}

impl fmt::Debug for DataDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataDir")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DataDir {
    /// Creates the folder (0700) if needed, takes its lock (failing with
    /// [`ServerError::InUse`], without touching anything, when another server holds it),
    /// loads or generates the server key and opens the database.
    pub fn open(path: impl AsRef<Path>) -> Result<DataDir, ServerError> {
        let path = path.as_ref();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(io_error("create the data folder", path))?;
        warn_if_shared(path)?;

        let lock_path = path.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_error("open the lock file", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(ServerError::InUse {
                    dir: path.to_path_buf(),
                });
            }
            Err(TryLockError::Error(source)) => {
                return Err(ServerError::Io {
                    action: "lock",
                    path: lock_path,
                    source,
                });
            }
        }

        let key = load_or_create_key(path)?;
        let db_path = path.join(DATABASE_FILE);
        // Private from the start (SQLite gives its -wal and -shm files the same mode); an
        // empty file is an empty database.
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&db_path)
            .map_err(io_error("create the repo database", &db_path))?;
        let store = SqliteStore::open(&db_path).map_err(|source| ServerError::Database {
            path: db_path,
            source,
        })?;
        Ok(DataDir {
            path: path.to_path_buf(),
            _lock: lock,
            key,
            store: Arc::new(store),
        })
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A registry over this folder's database and key, judging dates by `clock`.
    pub fn registry(&self, clock: Arc<dyn Clock>) -> Registry {
        Registry::new(self.store.clone(), clock, self.key.clone())
    }
}

/// Reads `<dir>/server.key`, or writes a fresh one atomically when there is none.
fn load_or_create_key(dir: &Path) -> Result<ServerKey, ServerError> {
    let path = dir.join(KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_shared(&path)?;
            ServerKey::from_hex(&text).map_err(|e| ServerError::BadKey {
                path,
                message: e.message().to_string(),
            })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let key = ServerKey::generate();
            write_key(dir, &path, &key)?;
            tracing::info!(path = %path.display(), "generated a new server key");
            Ok(key)
        }
        Err(source) => Err(ServerError::Io {
            action: "read the server key",
            path,
            source,
        }),
    }
}

/// Writes the key to a temporary file (0600 from the start), syncs it and renames it into
/// place, then syncs the folder: a crash leaves either no key or the whole key, and a key
/// once reported written survives, because every token depends on it.
fn write_key(dir: &Path, path: &Path, key: &ServerKey) -> Result<(), ServerError> {
    let tmp = dir.join(format!(".{KEY_FILE}.tmp"));
    // A leftover from a crash may have other permissions; `mode` applies only to new files.
    if let Err(e) = fs::remove_file(&tmp)
        && e.kind() != ErrorKind::NotFound
    {
        return Err(io_error("remove", &tmp)(e));
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_error("create the server key", &tmp))?;
    file.write_all(format!("{}\n", key.to_hex()).as_bytes())
        .map_err(io_error("write the server key", &tmp))?;
    file.sync_all()
        .map_err(io_error("sync the server key", &tmp))?;
    fs::rename(&tmp, path).map_err(io_error("install the server key", path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("sync the data folder", dir))
}

/// Wraps an OS error about `path` met while doing `action`.
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ServerError {
    let path = path.to_path_buf();
    move |source| ServerError::Io {
        action,
        path,
        source,
    }
}

/// Logs a warning when group or others may read `path`: the key and database are secrets.
fn warn_if_shared(path: &Path) -> Result<(), ServerError> {
    let mode = fs::metadata(path)
        .map_err(|source| ServerError::Io {
            action: "inspect",
            path: path.to_path_buf(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format_args!("{:o}", mode & 0o777),
            "group or others have access to a secret of the server; consider chmod go-rwx"
        );
    }
    Ok(())
}
