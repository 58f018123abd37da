//! The server's data folder: an exclusive lock so only one `dpipe serve` uses it, the server
//! key that derives every user's token, the key ring that seals stored credentials, and the
//! SQLite repo database.
//!
//! ```text
//! <dir>/             0700
//!   dpipe.lock       held with an exclusive flock while the server runs
//!   server.key       64 hex characters, 0600, written once (temp file + rename)
//!   credentials.key  the credentials key ring, 0600 (or $DPIPE_CREDENTIALS_KEYS, or a file
//!                    named by --credentials-key-file)
//!   registry.sqlite  the repo database (WAL, synchronous=FULL)
//!   storage/         the built-in object store of managed pipes (crate dpipe-objects)
//! ```
//!
//! Opening the folder also finishes what a crashed `dpipe serve rotate-key` left: values still
//! sealed with an older key (or stored before sealing existed) are re-sealed with the current
//! key, then the older keys are dropped from the ring file.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dpipe_registry::{Clock, KeyRing, Registry, ServerKey, reseal_credentials, write_private_file};
use dpipe_store::SqliteStore;

use crate::ServerError;

/// Name of the lock file inside the data folder.
pub const LOCK_FILE: &str = "dpipe.lock";
/// Name of the server key file inside the data folder.
pub const KEY_FILE: &str = "server.key";
/// Name of the credentials key ring file inside the data folder.
pub const CREDENTIALS_KEY_FILE: &str = "credentials.key";
/// Environment variable that may hold the credentials key ring instead of a file (keys in
/// hex, current first, separated by commas or newlines).
pub const CREDENTIALS_KEYS_ENV: &str = "DPIPE_CREDENTIALS_KEYS";
/// Name of the SQLite database inside the data folder.
pub const DATABASE_FILE: &str = "registry.sqlite";
/// Name of the built-in object store's folder inside the data folder.
pub const STORAGE_DIR: &str = "storage";

/// An opened, locked data folder. The lock is held until this value is dropped, so keep it
/// alive for as long as a [`Registry`] made from it serves requests.
pub struct DataDir {
    /// The folder.
    path: PathBuf,
    /// Never read: holding the open file is what holds the lock.
    _lock: File,
    /// The key tokens are derived with.
    key: ServerKey,
    /// The keys stored credentials are sealed with.
    ring: KeyRing,
    /// Where the ring is kept; `None` when it came from the environment.
    ring_file: Option<PathBuf>,
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
    /// [`DataDir::open_with`] with the credentials keys from the environment or the folder.
    pub fn open(path: impl AsRef<Path>) -> Result<DataDir, ServerError> {
        DataDir::open_with(path, None)
    }

    /// Creates the folder (0700) if needed, takes its lock (failing with
    /// [`ServerError::InUse`], without touching anything, when another server holds it),
    /// loads or generates the server key and the credentials key ring (from `key_file`, else
    /// [`CREDENTIALS_KEYS_ENV`], else [`CREDENTIALS_KEY_FILE`] in the folder), opens the
    /// database and re-seals any credentials not sealed with the current key.
    pub fn open_with(
        path: impl AsRef<Path>,
        key_file: Option<&Path>,
    ) -> Result<DataDir, ServerError> {
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
        let (ring, ring_file) = load_ring(path, key_file)?;
        let mut data = DataDir {
            path: path.to_path_buf(),
            _lock: lock,
            key,
            ring,
            ring_file,
            store: Arc::new(store),
        };
        data.finish_sealing()?;
        Ok(data)
    }

    /// Seals every stored credential with a new key: the new key is added to the ring file
    /// first, then all values are re-sealed in one transaction, then the old keys are
    /// dropped. A crash at any point leaves every value readable with the keys in the file.
    /// Returns how many values were re-sealed.
    pub fn rotate_credentials_key(&mut self) -> Result<usize, ServerError> {
        let Some(file) = self.ring_file.clone() else {
            return Err(ServerError::Keys(format!(
                "the credentials keys come from ${CREDENTIALS_KEYS_ENV}; rotate them there (put the new key first), then restart"
            )));
        };
        let rotated = self.ring.rotated();
        rotated
            .save(&file)
            .map_err(|e| ServerError::Keys(e.message().to_string()))?;
        self.ring = rotated;
        self.finish_sealing()
    }

    /// Re-seals what is not sealed with the current key, then drops the older keys from the
    /// ring file.
    fn finish_sealing(&mut self) -> Result<usize, ServerError> {
        let count = reseal_credentials(self.store.as_ref(), &self.ring).map_err(|e| {
            ServerError::Keys(format!(
                "re-sealing the stored credentials failed: {}",
                e.message()
            ))
        })?;
        if count > 0 {
            tracing::info!(count, "re-sealed stored credentials with the current key");
        }
        if let Some(file) = &self.ring_file {
            let current = self.ring.without_old_keys();
            if current.to_text() != self.ring.to_text() {
                current
                    .save(file)
                    .map_err(|e| ServerError::Keys(e.message().to_string()))?;
                self.ring = current;
            }
        }
        Ok(count)
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The built-in object store's folder.
    pub fn storage_path(&self) -> PathBuf {
        self.path.join(STORAGE_DIR)
    }

    /// A registry over this folder's database and key, judging dates by `clock`.
    pub fn registry(&self, clock: Arc<dyn Clock>) -> Registry {
        Registry::new(
            self.store.clone(),
            clock,
            self.key.clone(),
            self.ring.clone(),
        )
    }
}

/// The credentials key ring and the file it lives in (`None` when from the environment).
fn load_ring(
    dir: &Path,
    key_file: Option<&Path>,
) -> Result<(KeyRing, Option<PathBuf>), ServerError> {
    let from_file = |file: PathBuf| {
        let ring = KeyRing::load_or_create(&file)
            .map_err(|e| ServerError::Keys(e.message().to_string()))?;
        warn_if_shared(&file)?;
        Ok((ring, Some(file)))
    };
    if let Some(file) = key_file {
        return from_file(file.to_path_buf());
    }
    match std::env::var(CREDENTIALS_KEYS_ENV) {
        Ok(text) => KeyRing::from_text(&text.replace(',', "\n"))
            .map(|ring| (ring, None))
            .map_err(|e| ServerError::Keys(format!("${CREDENTIALS_KEYS_ENV}: {}", e.message()))),
        Err(_) => from_file(dir.join(CREDENTIALS_KEY_FILE)),
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
            write_key(&path, &key)?;
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

/// Writes the key file: a crash leaves either no key or the whole key, and a key once
/// reported written survives, because every token depends on it.
fn write_key(path: &Path, key: &ServerKey) -> Result<(), ServerError> {
    write_private_file(path, format!("{}\n", key.to_hex()).as_bytes())
        .map_err(io_error("write the server key", path))
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
