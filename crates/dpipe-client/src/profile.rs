//! Profiles: the client-side settings of one way to reach a repo API — a server URL and its
//! token, or local mode with its SQLite file — plus the central file folder and the
//! encryption keys of client-side encryption ([`crate::encode`]). [`Profile`] is the resolved form, with every default filled in;
//! the file that stores them is [`crate::profile_file`].
//!
//! Defaults: `repo` is `~/dpipe/files/<profile>` (one folder per profile, so two servers'
//! pipes of the same name never share files); in local mode `username` is `$USER` (or
//! `local`), `email` is `<username>@localhost.localdomain` and `db` is
//! `<data dir>/dpipe/local/<profile>.sqlite` (`~/.local/share/dpipe/local/...` on Linux).

use std::fmt;
use std::path::{Path, PathBuf};

use dpipe_core::name::{normalize_email, validate_username};

use crate::key::{Key, Keyring};
use crate::profile_file::{ProfileEntry, home_dir};
use crate::{Decrypting, Error, ErrorKind, HttpApi, LocalApi, RepoApi, Result};

/// How a profile reaches the repo API.
#[derive(Clone, PartialEq)]
pub enum Backend {
    /// A repo API server over HTTP.
    Server {
        /// The server URL, e.g. `http://127.0.0.1:8000`.
        url: String,
        /// The API token, when logged in.
        token: Option<String>,
    },
    /// Local mode: the registry in-process on a SQLite file, as one local user.
    Local {
        /// The local user's name.
        username: String,
        /// The local user's email.
        email: String,
        /// The SQLite file.
        db: PathBuf,
    },
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Server { url, token } => f
                .debug_struct("Server")
                .field("url", url)
                .field("token", &token.as_ref().map(|_| "<redacted>"))
                .finish(),
            Backend::Local {
                username,
                email,
                db,
            } => f
                .debug_struct("Local")
                .field("username", username)
                .field("email", email)
                .field("db", db)
                .finish(),
        }
    }
}

/// A profile with its defaults resolved.
#[derive(Clone, PartialEq)]
pub struct Profile {
    name: String,
    backend: Backend,
    repo: PathBuf,
    keys: Keyring,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .field("repo", &self.repo)
            .field("keys", &self.keys)
            .finish()
    }
}

impl Profile {
    /// The settings `dpipe profile set` (and [`crate::ConfigFile::set`]) can change.
    pub const SETTABLE: [&str; 6] = ["server", "mode", "repo", "username", "email", "db"];

    /// Resolves the stored `entry` of profile `name`: exactly one of `server` and
    /// `mode = "local"`, no token in local mode, local settings only in local mode.
    pub fn resolve(name: &str, entry: &ProfileEntry) -> Result<Profile> {
        validate_profile_name(name)?;
        let config = |message: String| Error::new(ErrorKind::Config, message);
        let backend = match (&entry.server, entry.mode.as_deref()) {
            (Some(_), Some(_)) => {
                return Err(config(
                    "set either `server` or `mode = \"local\"`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(config(
                    "set `server = \"URL\"` or `mode = \"local\"`".into(),
                ));
            }
            (None, Some(mode)) if mode != "local" => {
                return Err(config(format!(
                    "mode must be \"local\" (or leave it out and set `server`), not {mode:?}"
                )));
            }
            (Some(url), None) => {
                let local_only = [
                    ("username", entry.username.is_some()),
                    ("email", entry.email.is_some()),
                    ("db", entry.db.is_some()),
                ];
                if let Some((field, _)) = local_only.iter().find(|(_, set)| *set) {
                    return Err(config(format!(
                        "`{field}` is a local-mode setting, but this profile has a server"
                    )));
                }
                // Checks the URL the way the HTTP client will.
                HttpApi::new(url, None)?;
                Backend::Server {
                    url: url.trim_end_matches('/').to_string(),
                    token: entry.token.clone(),
                }
            }
            (None, Some(_)) => {
                if entry.token.is_some() {
                    return Err(config(
                        "local mode has no accounts, so no token; remove `token`".into(),
                    ));
                }
                let username = match &entry.username {
                    Some(username) => username.clone(),
                    None => default_username(),
                };
                validate_username(&username)
                    .map_err(|e| config(format!("username: {}", e.message())))?;
                let email = entry
                    .email
                    .clone()
                    .unwrap_or_else(|| format!("{username}@localhost.localdomain"));
                normalize_email("email", &email)
                    .map_err(|e| config(format!("email: {}", e.message())))?;
                let db = match &entry.db {
                    Some(db) => db.clone(),
                    None => default_db(name)?,
                };
                Backend::Local {
                    username,
                    email,
                    db,
                }
            }
        };
        let repo = match &entry.repo {
            Some(repo) => repo.clone(),
            None => home_dir()?.join("dpipe").join("files").join(name),
        };
        for (field, path) in [("repo", Some(&repo)), ("db", entry.db.as_ref())] {
            if let Some(path) = path
                && !path.is_absolute()
            {
                return Err(config(format!(
                    "`{field}` must be an absolute path, not {}",
                    path.display()
                )));
            }
        }
        let keys = Keyring::parse(entry.key.as_deref(), &entry.previous_keys)
            .map_err(|e| config(format!("key: {}", e.message())))?;
        Ok(Profile {
            name: name.to_string(),
            backend,
            repo,
            keys,
        })
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the profile reaches the repo API.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// True in local mode.
    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }

    /// The central file folder (one sub-folder per pipe).
    pub fn repo(&self) -> &Path {
        &self.repo
    }

    /// The encryption key new values are encrypted with, if one is set.
    pub fn key(&self) -> Option<&Key> {
        self.keys.current()
    }

    /// Every key the profile decrypts with (the current one and those of an unfinished
    /// rotation).
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// The repo API this profile reaches, decrypting credentials with the profile's keys
    /// ([`Decrypting`]).
    pub fn api(&self) -> Result<Box<dyn RepoApi>> {
        Ok(Box::new(Decrypting::new(
            self.raw_api()?,
            self.keys.clone(),
        )))
    }

    /// The repo API this profile reaches as it is: [`HttpApi`] with its token, or
    /// [`LocalApi`] on its SQLite file (created on first use). Encrypted values stay
    /// encrypted.
    pub fn raw_api(&self) -> Result<Box<dyn RepoApi>> {
        Ok(match &self.backend {
            Backend::Server { url, token } => Box::new(HttpApi::new(url, token.clone())?),
            Backend::Local {
                username,
                email,
                db,
            } => Box::new(LocalApi::open(db, username, email)?),
        })
    }
}

/// Profile names become file names (the local database, the file folder): letters, digits,
/// `-` and `_` only.
pub(crate) fn validate_profile_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::new(
            ErrorKind::Config,
            format!("a profile name may only contain letters, digits, '-' and '_', not {name:?}"),
        ));
    }
    Ok(())
}

fn default_username() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty() && validate_username(u).is_ok())
        .unwrap_or_else(|| "local".into())
}

fn default_db(profile: &str) -> Result<PathBuf> {
    let data = dirs::data_dir().ok_or_else(|| {
        Error::new(
            ErrorKind::Config,
            "cannot tell where the data folder is; set `db`",
        )
    })?;
    Ok(data
        .join("dpipe")
        .join("local")
        .join(format!("{profile}.sqlite")))
}

#[cfg(test)]
mod tests;
