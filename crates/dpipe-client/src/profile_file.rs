//! The profiles file: one TOML file holding every profile and which one is the default,
//! read and written as a whole.
//!
//! Where it lives: the path in the environment variable `DPIPE_CONFIG` when set, else
//! `<config dir>/dpipe/config.toml` (`~/.config/dpipe/config.toml` on Linux). It is written
//! atomically (a temporary file in the same folder, renamed over the old one) with mode 0600,
//! because it holds API tokens and encryption keys. The format:
//!
//! ```toml
//! default = "work"
//!
//! [profiles.work]
//! server = "https://pipe.example.com"
//! token = "69337d229e1e35677623341973a927518a6abc7c"
//! repo = "/home/me/dpipe/files/work"       # optional
//!
//! [profiles.laptop]
//! mode = "local"
//! username = "me"                          # optional, as are email and db
//! key = "<43 characters of base64url>"     # the encryption key, made on first use
//! previous_keys = ["<…>"]                  # only while a `dpipe key rotate` is unfinished
//! ```
//!
//! Unknown keys are refused, so a misspelt key is an error naming the file rather than a
//! setting silently ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::key::Key;
use crate::private_file::write_private;
use crate::profile::{Profile, validate_profile_name};
use crate::{Error, ErrorKind, Result};

/// The environment variable that overrides where the profiles file is.
pub const CONFIG_ENV: &str = "DPIPE_CONFIG";

/// One `[profiles.<name>]` table as written in the file; [`Profile`] is its resolved form.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileEntry {
    /// The repo API server's URL; absent in local mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `"local"` for local mode; absent for a server profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The API token of a server profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The central file folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<PathBuf>,
    /// The encryption key of client-side encryption (see [`crate::key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Keys an unfinished `dpipe key rotate` still decrypts with (never encrypts with).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_keys: Vec<String>,
    /// Local mode's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Local mode's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Local mode's SQLite file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<PathBuf>,
}

impl fmt::Debug for ProfileEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("ProfileEntry")
            .field("server", &self.server)
            .field("mode", &self.mode)
            .field("token", &redacted(&self.token))
            .field("repo", &self.repo)
            .field("key", &redacted(&self.key))
            .field(
                "previous_keys",
                &format!("<{} redacted>", self.previous_keys.len()),
            )
            .field("username", &self.username)
            .field("email", &self.email)
            .field("db", &self.db)
            .finish()
    }
}

/// The whole file as serialized.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, ProfileEntry>,
}

/// The profiles file, loaded: every profile by name, the default, and where it is saved.
#[derive(Debug)]
pub struct ConfigFile {
    path: PathBuf,
    default: Option<String>,
    profiles: BTreeMap<String, ProfileEntry>,
}

impl ConfigFile {
    /// Where the profiles file is: `$DPIPE_CONFIG`, else `<config dir>/dpipe/config.toml`.
    pub fn default_path() -> Result<PathBuf> {
        if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        dirs::config_dir()
            .map(|d| d.join("dpipe").join("config.toml"))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "cannot tell where the config folder is; set {CONFIG_ENV} to a file path"
                    ),
                )
            })
    }

    /// Loads the file at [`ConfigFile::default_path`].
    pub fn load_default() -> Result<ConfigFile> {
        ConfigFile::load(&ConfigFile::default_path()?)
    }

    /// Loads `path`; a missing file is an empty configuration (saved on the first change).
    /// Every profile is checked, and any error names the file and the profile.
    pub fn load(path: &Path) -> Result<ConfigFile> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(err) => return Err(file_error(path, err)),
        };
        let raw: RawFile = toml::from_str(&text).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("{} is not a valid profiles file: {e}", path.display()),
            )
        })?;
        let config = ConfigFile {
            path: path.to_path_buf(),
            default: raw.default,
            profiles: raw.profiles,
        };
        for name in config.profiles.keys() {
            config.profile(Some(name))?;
        }
        if let Some(default) = &config.default
            && !config.profiles.contains_key(default)
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "{}: the default profile {default:?} is not defined",
                    path.display()
                ),
            ));
        }
        Ok(config)
    }

    /// Writes the file atomically with mode 0600, creating its folder (mode 0700) if needed.
    pub fn save(&self) -> Result<()> {
        let raw = RawFile {
            default: self.default.clone(),
            profiles: self.profiles.clone(),
        };
        let text = toml::to_string_pretty(&raw).map_err(|e| {
            Error::new(ErrorKind::Config, format!("cannot write the profiles: {e}"))
        })?;
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        create_private_dir(&dir).map_err(|e| file_error(&dir, e))?;
        // The token is never readable by others, not even between the write and the rename.
        write_private(&self.path, text.as_bytes())
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The default profile's name, if one is set.
    pub fn default_name(&self) -> Option<&str> {
        self.default.as_deref()
    }

    /// Makes `name` the default profile.
    pub fn set_default(&mut self, name: &str) -> Result<()> {
        self.entry(name)?;
        self.default = Some(name.to_string());
        Ok(())
    }

    /// The names of all profiles, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.profiles.keys().map(String::as_str)
    }

    /// The profile `name`, or the default one when `name` is `None`, resolved with defaults.
    pub fn profile(&self, name: Option<&str>) -> Result<Profile> {
        let name = match name.or(self.default.as_deref()) {
            Some(name) => name,
            None if self.profiles.is_empty() => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "no profile is configured in {}; create one with `dpipe profile init NAME --server URL` or `--local`",
                        self.path.display()
                    ),
                ));
            }
            None => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "no default profile in {}; choose one of {} with --profile, or set a default",
                        self.path.display(),
                        self.names().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        };
        Profile::resolve(name, self.entry(name)?).map_err(|e| {
            Error::new(
                e.kind(),
                format!("{}: profile {name}: {e}", self.path.display()),
            )
        })
    }

    /// Adds the profile `name`; refused when it exists or when the entry is not valid. The
    /// first profile of a file becomes the default.
    pub fn insert(&mut self, name: &str, entry: ProfileEntry) -> Result<()> {
        validate_profile_name(name)?;
        if self.profiles.contains_key(name) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "profile {name} already exists in {}; change it with `dpipe profile set`",
                    self.path.display()
                ),
            ));
        }
        Profile::resolve(name, &entry)?;
        self.profiles.insert(name.to_string(), entry);
        if self.default.is_none() {
            self.default = Some(name.to_string());
        }
        Ok(())
    }

    /// Changes one setting of profile `name` (see [`Profile::SETTABLE`]); the profile must
    /// stay valid. `server` turns a local profile into a server one and `mode local` the
    /// reverse, dropping the settings of the other mode.
    pub fn set(&mut self, name: &str, key: &str, value: &str) -> Result<()> {
        let mut entry = self.entry(name)?.clone();
        let path_value = || absolute(value);
        match key {
            "server" => {
                entry.server = Some(value.to_string());
                entry.mode = None;
                entry.username = None;
                entry.email = None;
                entry.db = None;
            }
            "mode" if value == "local" => {
                entry.mode = Some(value.to_string());
                entry.server = None;
                entry.token = None;
            }
            "mode" => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "mode can only be \"local\"; for a server profile set its URL with `server`, not {value:?}"
                    ),
                ));
            }
            "repo" => entry.repo = Some(path_value()?),
            "username" => entry.username = Some(value.to_string()),
            "email" => entry.email = Some(value.to_string()),
            "db" => entry.db = Some(path_value()?),
            other => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "unknown profile setting {other:?}; settable: {}",
                        Profile::SETTABLE.join(", ")
                    ),
                ));
            }
        }
        Profile::resolve(name, &entry)?;
        self.profiles.insert(name.to_string(), entry);
        Ok(())
    }

    /// Stores (or with `None` removes) the API token of server profile `name`.
    pub fn set_token(&mut self, name: &str, token: Option<String>) -> Result<()> {
        let mut entry = self.entry(name)?.clone();
        entry.token = token;
        Profile::resolve(name, &entry)?;
        self.profiles.insert(name.to_string(), entry);
        Ok(())
    }

    /// Stores the encryption keys of profile `name`: `current` encrypts, `previous` only
    /// decrypt (the state of an unfinished rotation).
    pub fn set_keys(&mut self, name: &str, current: Option<&Key>, previous: &[Key]) -> Result<()> {
        let mut entry = self.entry(name)?.clone();
        entry.key = current.map(Key::to_text);
        entry.previous_keys = previous.iter().map(Key::to_text).collect();
        Profile::resolve(name, &entry)?;
        self.profiles.insert(name.to_string(), entry);
        Ok(())
    }

    fn entry(&self, name: &str) -> Result<&ProfileEntry> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.names().collect();
            let known = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            Error::new(
                ErrorKind::Config,
                format!(
                    "no profile {name:?} in {} (profiles: {known})",
                    self.path.display()
                ),
            )
        })
    }
}

/// `value` as an absolute path: `~/` expanded to the home folder, a relative path taken from
/// the current folder.
pub(crate) fn absolute(value: &str) -> Result<PathBuf> {
    let path = match value.strip_prefix("~/") {
        Some(rest) => home_dir()?.join(rest),
        None => PathBuf::from(value),
    };
    if value.is_empty() {
        return Err(Error::new(ErrorKind::Config, "a path may not be empty"));
    }
    std::path::absolute(&path).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("cannot make {} absolute: {e}", path.display()),
        )
    })
}

/// The user's home folder.
pub(crate) fn home_dir() -> Result<PathBuf> {
    dirs::home_dir()
        .ok_or_else(|| Error::new(ErrorKind::Config, "cannot tell where the home folder is"))
}

fn file_error(path: &Path, err: std::io::Error) -> Error {
    Error::new(ErrorKind::Config, format!("{}: {err}", path.display()))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests;
