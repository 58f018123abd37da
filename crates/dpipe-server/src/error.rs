//! The server's one error type: everything that can stop `dpipe serve` from starting or
//! running, each with a message a person can act on. A variant with a `source` does not
//! repeat it in its own message: whoever prints the chain (`{:#}`) shows it once. Errors of single requests are not here:
//! they become HTTP answers (see `reply`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another `dpipe serve` holds the data folder's lock.
    #[error("data folder {} is in use by another dpipe serve", dir.display())]
    InUse {
        /// The data folder.
        dir: PathBuf,
    },
    /// A file-system operation on the data folder failed.
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done, e.g. `create the data folder`.
        action: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server key file exists but does not hold a key.
    #[error("the server key {} is not valid: {message} (restore it from a backup; a new key would invalidate every token)", path.display())]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The credentials key ring is missing, malformed, or could not be used.
    #[error("credentials keys: {0}")]
    Keys(String),
    /// The repo database could not be opened, reached or migrated.
    #[error("cannot open the repo database {place}")]
    Database {
        /// The SQLite file, or the PostgreSQL URL without its password.
        place: String,
        /// The store's error.
        source: dpipe_store::StoreError,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The managed storage could not be set up (the built-in object store, or the external
    /// bucket and STS).
    #[error("{0}")]
    Storage(String),
    /// The mail settings (`--smtp-url`) are wrong.
    #[error("{0}")]
    Mail(String),
    /// The shutdown signal handlers could not be installed.
    #[error("cannot install the Ctrl-C/SIGTERM handlers: {0}")]
    Signals(std::io::Error),
    /// The server loop failed while running.
    #[error("the server stopped on an I/O error: {0}")]
    Serve(std::io::Error),
}
