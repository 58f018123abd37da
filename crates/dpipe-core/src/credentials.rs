//! Storage credentials: flat (one set for everybody) or split into `read` and `write` halves
//! (the seed's separate read and write credentials), the aliases d6tpipe accepts, and what the
//! credentials endpoint releases for each protocol.

use std::fmt;

use serde_json::{Map, Value};

use crate::protocol::Protocol;
use crate::role::Access;
use crate::{Error, Result};

/// The S3 keys boto3 accepts as credentials; nothing else may reach the d6tpipe client.
const S3_KEYS: [&str; 3] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// The storage settings the credentials endpoint releases next to S3 keys, each with the name
/// it is released under (so that boto3 takes them as they are).
pub const S3_RELEASED_SETTINGS: [(&str, &str); 2] =
    [("endpoint", "endpoint_url"), ("region", "region_name")];

/// The storage settings the credentials endpoint releases next to FTP and SFTP logins, under
/// their own names: how the client checks whom it talks to — the SFTP server's pinned host key
/// (`host_key`) and whether FTP must use TLS (`tls`). d6tpipe's client reads only `username`
/// and `password` from the reply, so extra keys leave it unchanged.
pub const FILE_SERVER_RELEASED_SETTINGS: [&str; 2] = ["host_key", "tls"];

/// The name a credential `key` is stored under for `protocol`: the aliases d6tpipe accepts
/// (`key` and `secret` for S3) become the names boto3 takes; other keys are kept.
pub fn canonical_key(protocol: Protocol, key: &str) -> &str {
    match (protocol, key) {
        (Protocol::S3, "key") => "aws_access_key_id",
        (Protocol::S3, "secret") => "aws_secret_access_key",
        (_, other) => other,
    }
}

/// A set of storage credentials. `Debug` shows key names only, never values.
#[derive(Clone, PartialEq)]
pub enum Credentials {
    /// The same credentials for reading and writing.
    Flat(Map<String, Value>),
    /// Separate credentials per access level.
    Split {
        /// Used to list and download.
        read: Map<String, Value>,
        /// Used to upload and delete.
        write: Map<String, Value>,
    },
}

impl Credentials {
    /// Parses and validates the `credentials` field for `protocol`: string values only,
    /// `key`/`secret` aliases renamed, the keys the protocol needs present.
    pub fn parse(protocol: Protocol, value: &Map<String, Value>) -> Result<Credentials> {
        let is_split = !value.is_empty()
            && value.keys().all(|k| k == "read" || k == "write")
            && value.values().all(Value::is_object);
        if is_split {
            let half = |name: &str| -> Result<Map<String, Value>> {
                match value.get(name) {
                    Some(Value::Object(map)) => normalize(protocol, map),
                    _ => Err(Error::invalid_field(
                        "credentials",
                        format!(
                            "Split credentials need both \"read\" and \"write\"; \"{name}\" is missing."
                        ),
                    )),
                }
            };
            Ok(Credentials::Split {
                read: half("read")?,
                write: half("write")?,
            })
        } else {
            Ok(Credentials::Flat(normalize(protocol, value)?))
        }
    }

    /// Reads back credentials stored by [`Credentials::to_value`].
    pub fn from_stored(value: &Value) -> Option<Credentials> {
        let map = value.as_object()?;
        match (map.get("read"), map.get("write")) {
            (Some(Value::Object(read)), Some(Value::Object(write))) if map.len() == 2 => {
                Some(Credentials::Split {
                    read: read.clone(),
                    write: write.clone(),
                })
            }
            _ => Some(Credentials::Flat(map.clone())),
        }
    }

    /// The JSON form in which credentials are stored.
    pub fn to_value(&self) -> Value {
        match self {
            Credentials::Flat(map) => Value::Object(map.clone()),
            Credentials::Split { read, write } => {
                let mut map = Map::new();
                map.insert("read".into(), Value::Object(read.clone()));
                map.insert("write".into(), Value::Object(write.clone()));
                Value::Object(map)
            }
        }
    }

    /// The half that serves `access`.
    pub fn for_access(&self, access: Access) -> &Map<String, Value> {
        match (self, access) {
            (Credentials::Flat(map), _) => map,
            (Credentials::Split { read, .. }, Access::Read) => read,
            (Credentials::Split { write, .. }, Access::Write) => write,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>().join(",");
        match self {
            Credentials::Flat(m) => write!(f, "Credentials::Flat([{}] redacted)", keys(m)),
            Credentials::Split { read, write } => write!(
                f,
                "Credentials::Split(read: [{}], write: [{}] redacted)",
                keys(read),
                keys(write)
            ),
        }
    }
}

fn normalize(protocol: Protocol, map: &Map<String, Value>) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (key, value) in map {
        let key = canonical_key(protocol, key);
        match value {
            Value::String(_) => {
                out.insert(key.to_string(), value.clone());
            }
            _ => {
                return Err(Error::invalid_field(
                    "credentials",
                    format!("{key}: credential values must be strings."),
                ));
            }
        }
    }
    let needed: &[&str] = match protocol {
        Protocol::S3 => &S3_KEYS[..2],
        Protocol::Ftp | Protocol::Sftp => &["username"],
        Protocol::Fs => &[],
    };
    if let Some(missing) = needed.iter().find(|k| !out.contains_key(**k)) {
        return Err(Error::invalid_field(
            "credentials",
            format!("{protocol} credentials need \"{missing}\"."),
        ));
    }
    Ok(out)
}

/// What the credentials endpoint returns for `protocol`: for S3 only the keys boto3 accepts,
/// plus `endpoint_url`/`region_name` from the storage settings (`endpoint`, `region`) so that
/// any S3-compatible service works with the unchanged d6tpipe client; for FTP and SFTP the
/// stored keys plus the settings of [`FILE_SERVER_RELEASED_SETTINGS`] (a stored credential of
/// the same name wins); for `fs` the stored keys as they are.
pub fn release(
    protocol: Protocol,
    credentials: &Map<String, Value>,
    settings: &Map<String, Value>,
) -> Map<String, Value> {
    match protocol {
        Protocol::S3 => {
            let mut out: Map<String, Value> = credentials
                .iter()
                .filter(|(k, _)| S3_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            for (setting, released) in S3_RELEASED_SETTINGS {
                if let Some(value) = settings.get(setting).and_then(Value::as_str) {
                    out.insert(released.into(), value.into());
                }
            }
            out
        }
        Protocol::Ftp | Protocol::Sftp => {
            let mut out = credentials.clone();
            for setting in FILE_SERVER_RELEASED_SETTINGS {
                if let Some(value) = settings.get(setting).and_then(Value::as_str) {
                    out.entry(setting).or_insert_with(|| value.into());
                }
            }
            out
        }
        Protocol::Fs => credentials.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn aliases_and_split() {
        let c = Credentials::parse(Protocol::S3, &obj(json!({"key": "A", "secret": "B"}))).unwrap();
        assert_eq!(c.for_access(Access::Write)["aws_access_key_id"], "A");
        let split = json!({"read": {"aws_access_key_id": "R", "aws_secret_access_key": "r"},
                           "write": {"aws_access_key_id": "W", "aws_secret_access_key": "w"}});
        let c = Credentials::parse(Protocol::S3, &obj(split.clone())).unwrap();
        assert_eq!(c.for_access(Access::Read)["aws_access_key_id"], "R");
        assert_eq!(c.for_access(Access::Write)["aws_access_key_id"], "W");
        assert_eq!(Credentials::from_stored(&c.to_value()).unwrap(), c);
        assert!(!format!("{c:?}").contains("\"r\""));
    }

    #[test]
    fn wrong_credentials() {
        assert!(Credentials::parse(Protocol::S3, &obj(json!({"aws_access_key_id": "A"}))).is_err());
        assert!(Credentials::parse(Protocol::Sftp, &obj(json!({"password": "p"}))).is_err());
        assert!(Credentials::parse(Protocol::Ftp, &obj(json!({"username": 1}))).is_err());
        assert!(
            Credentials::parse(
                Protocol::S3,
                &obj(json!({"read": {"key": "a", "secret": "b"}}))
            )
            .is_err()
        );
    }

    #[test]
    fn release_filters_s3_keys() {
        let creds =
            obj(json!({"aws_access_key_id": "A", "aws_secret_access_key": "B", "expiration": "x"}));
        let settings =
            obj(json!({"endpoint": "http://127.0.0.1:9000", "region": "us-east-1", "dir": "d"}));
        let out = release(Protocol::S3, &creds, &settings);
        assert_eq!(
            Value::Object(out),
            json!({"aws_access_key_id": "A", "aws_secret_access_key": "B",
            "endpoint_url": "http://127.0.0.1:9000", "region_name": "us-east-1"})
        );
    }

    #[test]
    fn release_adds_file_server_settings() {
        let creds = obj(json!({"username": "u", "password": "p"}));
        let settings = obj(json!({"host_key": "SHA256:abc", "tls": "required", "dir": "d"}));
        for protocol in [Protocol::Sftp, Protocol::Ftp] {
            assert_eq!(
                Value::Object(release(protocol, &creds, &settings)),
                json!({"username": "u", "password": "p", "host_key": "SHA256:abc", "tls": "required"})
            );
        }
        let pinned = obj(json!({"username": "u", "host_key": "SHA256:own"}));
        assert_eq!(
            release(Protocol::Sftp, &pinned, &settings)["host_key"],
            "SHA256:own"
        );
        assert_eq!(release(Protocol::Fs, &creds, &settings), creds);
    }
}
