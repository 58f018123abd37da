//! dpipe's client library.
//!
//! [`RepoApi`] is the repo API as library users see it, with two implementations:
//! [`HttpApi`] talks to a `dpipe serve` (or any d6tpipe-compatible server) over HTTP, and
//! [`LocalApi`] calls `dpipe-registry` in-process on a local SQLite file (local mode). Both
//! give the same answers and the same errors for the same calls.
//!
//! [`Profile`]s (stored in one TOML [`ConfigFile`]) say which of the two to use, with which
//! token, and where the central file folder is; [`settings_file`] loads the named remote and
//! pipe settings of a JSON or YAML file; [`write_private`] writes a file holding secrets
//! atomically with mode 0600; [`names`] words a name that does not exist, with the close
//! names the caller can see ("pipe typo not found; did you mean demo?").
//!
//! [`encode`] encrypts the secrets of settings with a profile's [`Key`] before they reach the
//! repo API (d6tpipe's `api.encode`), and [`Decrypting`] (what [`Profile::api`] returns)
//! decrypts the credentials it reads back.
//!
//! [`sync`] is the sync engine: [`sync::Syncer`] pulls and pushes a pipe's files between its
//! storage and the profile's file repo.

mod api;
mod decrypt;
pub mod encode;
mod error;
mod http;
pub mod key;
mod local;
pub mod names;
mod private_file;
pub mod profile;
pub mod profile_file;
pub mod rotate;
pub mod settings_file;
#[cfg(unix)]
pub mod sync;

pub use api::RepoApi;
pub use decrypt::Decrypting;
/// The audit trail's query and vocabulary, as the repo API and local mode share them.
pub mod audit {
    pub use dpipe_registry::audit::{AUDIT_LIMIT, AuditQuery, CREDENTIALS_READ, PIPE_ACTIONS};
}
pub use audit::AuditQuery;
pub use error::{Error, ErrorKind, Result};
pub use http::HttpApi;
pub use key::{Key, Keyring};
pub use local::LocalApi;
pub use private_file::write_private;
pub use profile::{Backend, Profile};
pub use profile_file::{ConfigFile, ProfileEntry};
pub use settings_file::SettingsFile;
