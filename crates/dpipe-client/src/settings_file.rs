//! Settings files: the seed's recipe for keeping credentials out of source code. A JSON or
//! YAML file holds several named entries, each the settings of one remote or pipe, and one is
//! picked by its key:
//!
//! ```yaml
//! vendor-x:
//!   protocol: s3
//!   location: vendor-bucket
//!   credentials: {aws_access_key_id: AAA, aws_secret_access_key: BBB}
//! vendor-y:
//!   protocol: sftp
//!   location: sftp.example.com
//! ```
//!
//! A file whose top level is itself one entry (it has a `name` string) is used as a whole.
//! An entry without `name` is named by its key. Values given elsewhere (command-line flags)
//! are laid over the entry with [`merge`].
//!
//! An entry holds only [`KNOWN_SETTINGS`]: any other key is a typo the repo API would
//! silently drop (as DRF does), so it is refused, with the close known names suggested
//! ("protocl: unknown setting; did you mean protocol?").

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::names::close_names;
use crate::{Error, ErrorKind, Result};

/// The keys a settings entry may hold: those of a remote and of a pipe (the fields the repo
/// API reads from their bodies).
pub const KNOWN_SETTINGS: [&str; 9] = [
    "name",
    "protocol",
    "location",
    "credentials",
    "settings",
    "schema",
    "remote",
    "parent",
    "options",
];

/// A loaded settings file.
#[derive(Clone)]
pub struct SettingsFile {
    path: PathBuf,
    top: Map<String, Value>,
}

impl std::fmt::Debug for SettingsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The entries may hold credentials: show their keys only.
        f.debug_struct("SettingsFile")
            .field("path", &self.path)
            .field("entries", &self.top.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SettingsFile {
    /// Reads `path`: JSON when it ends in `.json`, YAML otherwise (YAML also reads JSON).
    pub fn load(path: &Path) -> Result<SettingsFile> {
        let text = std::fs::read_to_string(path).map_err(|e| config(path, e.to_string()))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let value: Value = if is_json {
            serde_json::from_str(&text).map_err(|e| config(path, format!("not valid JSON: {e}")))?
        } else {
            serde_yaml::from_str(&text).map_err(|e| config(path, format!("not valid YAML: {e}")))?
        };
        match value {
            Value::Object(top) => Ok(SettingsFile {
                path: path.to_path_buf(),
                top,
            }),
            _ => Err(config(
                path,
                "the file must hold an object of named entries".to_string(),
            )),
        }
    }

    /// The entry named `key`; without a key, the whole file when it is one entry, or its only
    /// entry. An entry without a `name` gets its key as name.
    pub fn entry(&self, key: Option<&str>) -> Result<Map<String, Value>> {
        let is_single = matches!(self.top.get("name"), Some(Value::String(_)));
        let (key, value) = match key {
            Some(key) => match self.top.get(key) {
                Some(value) => (key, value),
                None => {
                    return Err(config(
                        &self.path,
                        format!("no entry {key:?}; the file has: {}", self.keys()),
                    ));
                }
            },
            None if is_single => return self.known_only(self.top.clone()),
            None if self.top.len() == 1 => self
                .top
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .expect("one entry"),
            None => {
                return Err(config(
                    &self.path,
                    format!(
                        "the file holds several entries ({}); choose one with --key",
                        self.keys()
                    ),
                ));
            }
        };
        match value {
            Value::Object(entry) => {
                let mut entry = entry.clone();
                entry
                    .entry("name")
                    .or_insert_with(|| Value::String(key.to_string()));
                self.known_only(entry)
            }
            _ => Err(config(
                &self.path,
                format!("entry {key:?} must be an object of settings"),
            )),
        }
    }

    /// `entry` when it holds only [`KNOWN_SETTINGS`]; else an error naming the first unknown
    /// key and the known ones close to it.
    fn known_only(&self, entry: Map<String, Value>) -> Result<Map<String, Value>> {
        let Some(unknown) = entry.keys().find(|k| !KNOWN_SETTINGS.contains(&k.as_str())) else {
            return Ok(entry);
        };
        let close = close_names(unknown, KNOWN_SETTINGS);
        let hint = if close.is_empty() {
            format!("known settings: {}", KNOWN_SETTINGS.join(", "))
        } else {
            format!("did you mean {}?", close.join(" or "))
        };
        Err(config(
            &self.path,
            format!("{unknown}: unknown setting; {hint}"),
        ))
    }

    /// True when the file can be read by users other than its owner (group or other read
    /// bits), which matters when it holds credentials.
    pub fn readable_by_others(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(&self.path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
        }
        #[cfg(not(unix))]
        {
            false
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn keys(&self) -> String {
        self.top
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// True when `settings` carries credentials (a non-null `credentials` field).
pub fn holds_credentials(settings: &Map<String, Value>) -> bool {
    settings.get("credentials").is_some_and(|c| !c.is_null())
}

/// Lays `overrides` over `base`: objects present in both are merged key by key (so a flag
/// adding one setting keeps the file's other settings), anything else is replaced.
pub fn merge(base: &mut Map<String, Value>, overrides: Map<String, Value>) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => merge(old, new),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn config(path: &Path, message: String) -> Error {
    Error::new(ErrorKind::Config, format!("{}: {message}", path.display()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn file(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn picks_entries_from_yaml_and_json() {
        let (_d, yaml) = file(
            "s.yaml",
            "a:\n  protocol: s3\n  location: b\nb:\n  name: other\n  protocol: ftp\n",
        );
        let f = SettingsFile::load(&yaml).unwrap();
        assert_eq!(
            Value::Object(f.entry(Some("a")).unwrap()),
            json!({"name": "a", "protocol": "s3", "location": "b"})
        );
        assert_eq!(f.entry(Some("b")).unwrap()["name"], "other");
        let err = f.entry(None).unwrap_err().to_string();
        assert!(err.contains("--key") && err.contains("a, b"), "{err}");
        let err = f.entry(Some("c")).unwrap_err().to_string();
        assert!(
            err.contains("no entry \"c\"") && err.contains(&yaml.display().to_string()),
            "{err}"
        );

        let (_d, json) = file(
            "s.json",
            r#"{"only": {"protocol": "fs", "credentials": {"k": "v"}}}"#,
        );
        let only = SettingsFile::load(&json).unwrap().entry(None).unwrap();
        assert_eq!(only["name"], "only");
        assert!(holds_credentials(&only));
        let (_d, single) = file("one.yml", "name: solo\nprotocol: s3\n");
        assert_eq!(
            SettingsFile::load(&single).unwrap().entry(None).unwrap()["name"],
            "solo"
        );
    }

    #[test]
    fn wrong_files_are_clear_errors() {
        for (name, text, expected) in [
            ("bad.yaml", "a: [unclosed\n", "not valid YAML"),
            ("bad.json", "{\"a\": ", "not valid JSON"),
            ("list.yaml", "- a\n- b\n", "object of named entries"),
            ("scalar.yaml", "a: 3\n", "must be an object"),
        ] {
            let (_d, path) = file(name, text);
            let err = SettingsFile::load(&path).and_then(|f| f.entry(Some("a")));
            let err = err.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains(expected), "{name}: {err}");
        }
        assert!(SettingsFile::load(Path::new("/nonexistent/s.yaml")).is_err());
    }

    #[test]
    fn unknown_settings_are_refused_with_the_close_known_name() {
        for (text, expected) in [
            (
                "a:\n  protocl: s3\n",
                "protocl: unknown setting; did you mean protocol?",
            ),
            (
                "name: solo\nlocaton: b\n",
                "locaton: unknown setting; did you mean location?",
            ),
            (
                "a:\n  protocol: s3\n  zzz: 1\n",
                "zzz: unknown setting; known settings: name, protocol, location, credentials, \
                 settings, schema, remote, parent, options",
            ),
        ] {
            let (_d, path) = file("s.yaml", text);
            let err = SettingsFile::load(&path).unwrap().entry(None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert_eq!(
                err.to_string(),
                format!("{}: {expected}", path.display()),
                "{text}"
            );
        }
        // Keys inside a setting (here `settings.endpoint`) are the storage's, not checked here.
        let (_d, path) = file(
            "ok.yaml",
            "a:\n  protocol: s3\n  settings: {endpoint: e, anything: 1}\n  options: {dir: d}\n",
        );
        assert!(SettingsFile::load(&path).unwrap().entry(None).is_ok());
    }

    #[test]
    fn merge_lays_flags_over_the_file() {
        let mut base = json!({"name": "a", "settings": {"dir": "d", "region": "r"}, "credentials": {"read": {"k": "1"}}})
            .as_object()
            .unwrap()
            .clone();
        let over = json!({"settings": {"region": "eu"}, "credentials": {"read": {"s": "2"}}, "location": "l"});
        merge(&mut base, over.as_object().unwrap().clone());
        assert_eq!(
            Value::Object(base),
            json!({"name": "a", "location": "l", "settings": {"dir": "d", "region": "eu"}, "credentials": {"read": {"k": "1", "s": "2"}}})
        );
    }

    #[cfg(unix)]
    #[test]
    fn notices_files_readable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let (_d, path) = file("s.yaml", "a: {}\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(SettingsFile::load(&path).unwrap().readable_by_others());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!SettingsFile::load(&path).unwrap().readable_by_others());
    }
}
