//! The server's data folder: an exclusive lock so only one `dpipe serve` uses it, the server
//! key that derives every user's token, the key ring that seals stored credentials, and the
//! SQLite repo database — or a PostgreSQL database several servers share.
//!
//! ```text
//! <dir>/             0700
//!   dpipe.lock       held with an exclusive flock while the server runs
//!   server.key       64 hex characters, 0600, written once (temp file + rename), unless
//!                    --server-key-file names one
//!   credentials.key  the credentials key ring, 0600 (or $DPIPE_CREDENTIALS_KEYS, or a file
//!                    named by --credentials-key-file)
//!   registry.sqlite  the repo database (WAL, synchronous=FULL), unless --database-url
//!   storage/         the built-in object store of managed pipes (crate dpipe-objects)
//! ```
//!
//! On SQLite (one server), opening the folder also finishes what a crashed
//! `dpipe serve rotate-key` left: values still sealed with an older key (or stored before
//! sealing existed) are re-sealed with the ring's first key, then the older keys are dropped
//! from the ring file. On PostgreSQL the database names the sealing key (several servers, each
//! with its own copy of the ring, must agree on it), and rotation is two steps (see
//! [`rotate_key`]); the first server to start records a check value of its server key, and a
//! server with another key refuses to start.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dpipe_registry::{Clock, KeyRing, Registry, ServerKey, reseal_credentials, write_private_file};
use dpipe_store::{PgStore, SqliteStore, Store};

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

/// Where a server finds its keys and database when not in the data folder. `Debug` leaves
/// out the database URL (it may hold a password).
#[derive(Clone, Default)]
pub struct DataDirOptions {
    /// A credentials key ring file to use instead of the one in the data folder.
    pub credentials_key_file: Option<PathBuf>,
    /// A server key file to use instead of the one in the data folder; it must exist (several
    /// servers must share one key, so none of them makes up its own).
    pub server_key_file: Option<PathBuf>,
    /// A `postgres://` database to use instead of the data folder's SQLite file.
    pub database_url: Option<String>,
}

impl fmt::Debug for DataDirOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataDirOptions")
            .field("credentials_key_file", &self.credentials_key_file)
            .field("server_key_file", &self.server_key_file)
            .field("postgres", &self.database_url.is_some())
            .finish()
    }
}

/// Which step of a credentials key rotation `dpipe serve rotate-key` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStep {
    /// A new key seals from now on and every stored value is re-sealed with it. On SQLite
    /// this also drops the older keys; on PostgreSQL they stay until [`RotationStep::Finish`].
    Start,
    /// Once every server has the new ring: re-seals what a server sealed with an older key
    /// while the rotation ran, then drops the older keys from the ring file.
    Finish,
}

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
    store: Arc<dyn Store>,
}

impl fmt::Debug for DataDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataDir")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DataDir {
    /// [`DataDir::open_with`] with everything in the folder (or the environment).
    pub fn open(path: impl AsRef<Path>) -> Result<DataDir, ServerError> {
        DataDir::open_with(path, &DataDirOptions::default())
    }

    /// Connects to the PostgreSQL database of `options` and reads a given server key file
    /// first (so a wrong URL or key file creates nothing), then creates the folder (0700) if needed, takes its lock (failing with
    /// [`ServerError::InUse`], without touching anything, when another server holds it), loads
    /// or generates the server key and the credentials key ring (from `key_file`, else
    /// [`CREDENTIALS_KEYS_ENV`], else [`CREDENTIALS_KEY_FILE`] in the folder), opens the
    /// SQLite database when there is no PostgreSQL one, and settles which key seals.
    pub fn open_with(
        path: impl AsRef<Path>,
        options: &DataDirOptions,
    ) -> Result<DataDir, ServerError> {
        let path = path.as_ref();
        let postgres = options.database_url.as_deref().map(connect).transpose()?;
        let given_key = options
            .server_key_file
            .as_deref()
            .map(load_key)
            .transpose()?;
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

        let key = match given_key {
            Some(key) => key,
            None => load_or_create_key(path)?,
        };
        // On PostgreSQL other servers may share the database.
        let (store, shared): (Arc<dyn Store>, bool) = match postgres {
            Some(store) => (Arc::new(store), true),
            None => (Arc::new(open_sqlite(&path.join(DATABASE_FILE))?), false),
        };
        let (ring, ring_file) = load_ring(path, options.credentials_key_file.as_deref())?;
        let mut data = DataDir {
            path: path.to_path_buf(),
            _lock: lock,
            key,
            ring,
            ring_file,
            store,
        };
        if shared {
            check_server_key(data.store.as_ref(), &data.key)?;
            data.ring = adopt_sealing_key(data.store.as_ref(), &data.ring, data.ring_source())?;
        } else {
            data.finish_sealing()?;
        }
        Ok(data)
    }

    /// Seals every stored credential with a new key: the new key is added to the ring file
    /// first, then all values are re-sealed in one transaction, then the old keys are
    /// dropped. A crash at any point leaves every value readable with the keys in the file.
    /// Returns how many values were re-sealed.
    pub fn rotate_credentials_key(&mut self) -> Result<usize, ServerError> {
        let file = rotatable_ring_file(self.ring_file.as_deref())?;
        let rotated = self.ring.rotated();
        save_ring(&rotated, &file)?;
        self.ring = rotated;
        self.finish_sealing()
    }

    /// Re-seals what is not sealed with the current key, then drops the older keys from the
    /// ring file.
    fn finish_sealing(&mut self) -> Result<usize, ServerError> {
        let count = reseal(self.store.as_ref(), &self.ring)?;
        if let Some(file) = &self.ring_file {
            let current = self.ring.without_old_keys();
            if current.to_text() != self.ring.to_text() {
                save_ring(&current, file)?;
                self.ring = current;
            }
        }
        Ok(count)
    }

    /// Where the ring came from, for messages.
    fn ring_source(&self) -> String {
        match &self.ring_file {
            Some(file) => file.display().to_string(),
            None => format!("${CREDENTIALS_KEYS_ENV}"),
        }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The built-in object store's folder.
    pub fn storage_path(&self) -> PathBuf {
        self.path.join(STORAGE_DIR)
    }

    /// A registry over this folder's database and key, judging dates by `clock`. It re-reads
    /// the ring file when a stored value needs a key it lacks (another server rotated).
    pub fn registry(&self, clock: Arc<dyn Clock>) -> Registry {
        let registry = Registry::new(
            self.store.clone(),
            clock,
            self.key.clone(),
            self.ring.clone(),
        );
        match &self.ring_file {
            Some(file) => registry.with_ring_file(file.clone()),
            None => registry,
        }
    }
}

/// `dpipe serve rotate-key`: one [`RotationStep`] of a credentials key rotation; returns how
/// many stored values were re-sealed.
///
/// On SQLite the data folder is locked (the server must be stopped) and the whole rotation
/// happens at once. On PostgreSQL the servers keep running, so the data folder is not locked:
/// [`RotationStep::Start`] puts a new key first in the ring file, records it in the database
/// as the key that seals (every server seals with it from then on, re-reading its ring file
/// for it) and re-seals every value; the older keys stay in the file until
/// [`RotationStep::Finish`], run once every server has the new ring.
pub fn rotate_key(
    data_dir: &Path,
    options: &DataDirOptions,
    step: RotationStep,
) -> Result<usize, ServerError> {
    let Some(url) = options.database_url.as_deref() else {
        let mut data = DataDir::open_with(data_dir, options)?;
        return match step {
            RotationStep::Start => data.rotate_credentials_key(),
            // Opening the folder already finished whatever was left.
            RotationStep::Finish => Ok(0),
        };
    };
    let store = connect(url)?;
    let (ring, file) = load_ring(data_dir, options.credentials_key_file.as_deref())?;
    let file = rotatable_ring_file(file.as_deref())?;
    match step {
        RotationStep::Start => {
            let rotated = ring.rotated();
            save_ring(&rotated, &file)?;
            reseal(&store, &rotated)
        }
        RotationStep::Finish => {
            let recorded = store
                .sealing_key()
                .map_err(|source| ServerError::Database {
                    place: url_for_messages(url),
                    source,
                })?;
            if recorded.as_deref() != Some(ring.current_id()) {
                return Err(ServerError::Keys(format!(
                    "the first key of {} is not the key the database seals with; run --finish with the ring file rotate-key wrote",
                    file.display()
                )));
            }
            let count = reseal(&store, &ring)?;
            save_ring(&ring.without_old_keys(), &file)?;
            Ok(count)
        }
    }
}

/// The ring to use with a shared database: the key the database names seals (recording the
/// ring's first key when it names none yet). Refused when the ring lacks the database's key.
fn adopt_sealing_key(
    store: &dyn Store,
    ring: &KeyRing,
    source: String,
) -> Result<KeyRing, ServerError> {
    let recorded = store
        .sealing_key()
        .map_err(|e| ServerError::Keys(format!("cannot read the sealing key's id: {e}")))?;
    match recorded {
        None => {
            reseal(store, ring)?;
            Ok(ring.clone())
        }
        Some(id) => ring.with_current(&id).ok_or_else(|| {
            ServerError::Keys(format!(
                "the repo database's credentials are sealed with key {id}, which the key ring {source} lacks: give every server sharing the database the same key ring"
            ))
        }),
    }
}

/// Refuses a server key other than the one the first server on a shared database had: tokens
/// it derived would match nobody, and logins through it would hand out tokens no server takes.
fn check_server_key(store: &dyn Store, key: &ServerKey) -> Result<(), ServerError> {
    let ours = key.check_value();
    let recorded = store
        .claim_server_key_check(&ours)
        .map_err(|e| ServerError::Keys(format!("cannot read the server key's check value: {e}")))?;
    if recorded != ours {
        return Err(ServerError::Keys(
            "this server's server.key differs from the one the other servers on this database use: give every server the same server key (copy server.key, or --server-key-file)".to_string(),
        ));
    }
    Ok(())
}

/// [`reseal_credentials`] with its error in the server's words.
fn reseal(store: &dyn Store, ring: &KeyRing) -> Result<usize, ServerError> {
    let count = reseal_credentials(store, ring).map_err(|e| {
        ServerError::Keys(format!(
            "re-sealing the stored credentials failed: {}",
            e.message()
        ))
    })?;
    if count > 0 {
        tracing::info!(count, "re-sealed stored credentials with the current key");
    }
    Ok(count)
}

/// The ring file a rotation may rewrite: refused when the ring comes from the environment.
fn rotatable_ring_file(file: Option<&Path>) -> Result<PathBuf, ServerError> {
    file.map(Path::to_path_buf).ok_or_else(|| {
        ServerError::Keys(format!(
            "the credentials keys come from ${CREDENTIALS_KEYS_ENV}; rotate them there (put the new key first), then restart"
        ))
    })
}

/// Writes the ring file, the error in the server's words.
fn save_ring(ring: &KeyRing, file: &Path) -> Result<(), ServerError> {
    ring.save(file)
        .map_err(|e| ServerError::Keys(e.message().to_string()))
}

/// Connects to (and migrates) the PostgreSQL database at `url`.
fn connect(url: &str) -> Result<PgStore, ServerError> {
    PgStore::connect(url).map_err(|source| ServerError::Database {
        place: url_for_messages(url),
        source,
    })
}

/// Opens the SQLite database at `db_path`, private (0600) from the start.
fn open_sqlite(db_path: &Path) -> Result<SqliteStore, ServerError> {
    // SQLite gives its -wal and -shm files the same mode; an empty file is an empty database.
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(db_path)
        .map_err(io_error("create the repo database", db_path))?;
    SqliteStore::open(db_path).map_err(|source| ServerError::Database {
        place: db_path.display().to_string(),
        source,
    })
}

/// A database URL as it may be shown: without password and query (either may hold a secret).
fn url_for_messages(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return "the --database-url".to_string();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => format!("{}@{host}", user.split(':').next().unwrap_or_default()),
        None => authority.to_string(),
    };
    format!("{scheme}://{authority}/{path}")
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

/// Reads the server key from `file`, which must exist.
fn load_key(file: &Path) -> Result<ServerKey, ServerError> {
    let text = fs::read_to_string(file).map_err(io_error("read the server key", file))?;
    warn_if_shared(file)?;
    ServerKey::from_hex(&text).map_err(|e| ServerError::BadKey {
        path: file.to_path_buf(),
        message: e.message().to_string(),
    })
}

/// Reads `<dir>/server.key`, or writes a fresh one atomically when there is none.
fn load_or_create_key(dir: &Path) -> Result<ServerKey, ServerError> {
    let path = dir.join(KEY_FILE);
    match fs::metadata(&path) {
        Ok(_) => load_key(&path),
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
