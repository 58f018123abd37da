//! Client-side encryption of settings (d6tpipe's `api.encode`): the secrets of a remote's or
//! pipe's settings are encrypted with the profile's [`Key`] before they leave the machine, so
//! the repo API stores what it cannot read, and [`decode`] turns them back.
//!
//! # What is encrypted
//!
//! * every string value under `credentials`, flat or split into `read`/`write` (for S3 the
//!   aliases `key`/`secret` are first renamed to the names the server stores them under);
//! * every value under `settings` except `settings.dir` (nested objects keep their keys;
//!   `null` stays `null`).
//!
//! Everything else stays readable: `name`, `protocol`, `location`, `parent`, `remote`,
//! `options`, `schema`, `settings.dir`, and every object key. The repo API needs them:
//! it validates names, protocols and locations, resolves parents and remotes, and computes
//! `remotepath` from `location`, `settings.dir` and `options.dir`; it also checks that the
//! S3 credential keys are present, which works because keys stay readable and values are
//! strings. A server can therefore never use an encrypted value itself: whatever would need
//! the server to read credentials (server-side sync or mirroring) cannot run on encrypted
//! remotes and pipes, and only holders of the key can use the credentials.
//!
//! # Format
//!
//! An encrypted value is the string `dpipe:enc:v1:<key-id>:<data>` where `key-id` is the
//! key's 8-character fingerprint ([`Key::id`]) and `data` is unpadded base64url of the
//! 24-byte nonce followed by the XChaCha20-Poly1305 ciphertext and tag of the value's JSON
//! text. The associated data is the JSON array `["dpipe:enc:v1", kind, name, path...]`:
//! resource kind (`remote` or `pipe`), resource name and the field's path (e.g.
//! `credentials`, `read`, `aws_secret_access_key`), so a value copied to another field or
//! another resource does not decrypt. A wrong key, a changed byte, a truncated value, a moved
//! value or an unknown version is an [`ErrorKind::Key`] error naming the field, never garbage.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use dpipe_core::credentials::{S3_RELEASED_SETTINGS, canonical_key};
use dpipe_core::protocol::Protocol;
use dpipe_core::role::Access;
use rand::TryRngCore as _;
use serde_json::{Map, Value, json};

use crate::key::{Key, Keyring};
use crate::{Error, ErrorKind, Result};

/// What every encrypted value starts with.
pub const PREFIX: &str = "dpipe:enc:";
/// The format version this code writes.
const VERSION: &str = "v1";
/// XChaCha20's nonce length: long enough to be drawn at random for every value.
const NONCE_LEN: usize = 24;

/// Which kind of resource a settings object belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// A remote.
    Remote,
    /// A pipe (with inline storage).
    Pipe,
}

impl ResourceKind {
    /// The name used in the associated data and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Remote => "remote",
            ResourceKind::Pipe => "pipe",
        }
    }
}

/// The resource whose settings are encrypted: part of every value's associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceRef<'a> {
    /// Remote or pipe.
    pub kind: ResourceKind,
    /// Its name.
    pub name: &'a str,
}

impl<'a> ResourceRef<'a> {
    /// The remote `name`.
    pub fn remote(name: &'a str) -> ResourceRef<'a> {
        ResourceRef {
            kind: ResourceKind::Remote,
            name,
        }
    }

    /// The pipe `name`.
    pub fn pipe(name: &'a str) -> ResourceRef<'a> {
        ResourceRef {
            kind: ResourceKind::Pipe,
            name,
        }
    }
}

/// Encrypts the secrets of `settings` (a remote's or pipe's settings object) for `resource`
/// with `key`; see the module documentation for what is encrypted. Values already encrypted
/// are kept, so encoding twice changes nothing.
pub fn encode(settings: &Value, resource: ResourceRef<'_>, key: &Key) -> Result<Value> {
    let Value::Object(map) = settings else {
        return Err(Error::new(
            ErrorKind::Invalid,
            "only a settings object can be encrypted",
        ));
    };
    let protocol = map
        .get("protocol")
        .and_then(Value::as_str)
        .and_then(|p| Protocol::parse(p).ok());
    let mut out = map.clone();
    if let Some(Value::Object(credentials)) = map.get("credentials") {
        let mut path = vec!["credentials".to_string()];
        let encrypted = encode_credentials(credentials, protocol, resource, key, &mut path)?;
        out.insert("credentials".into(), Value::Object(encrypted));
    }
    if let Some(Value::Object(settings)) = map.get("settings") {
        let mut encrypted = Map::new();
        for (name, value) in settings {
            let value = if name == "dir" {
                value.clone()
            } else {
                let mut path = vec!["settings".to_string(), name.clone()];
                encode_all(value, resource, key, &mut path)?
            };
            encrypted.insert(name.clone(), value);
        }
        out.insert("settings".into(), Value::Object(encrypted));
    }
    Ok(Value::Object(out))
}

fn encode_credentials(
    map: &Map<String, Value>,
    protocol: Option<Protocol>,
    resource: ResourceRef<'_>,
    key: &Key,
    path: &mut Vec<String>,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (name, value) in map {
        let name = match (protocol, value) {
            (Some(protocol), Value::String(_)) => canonical_key(protocol, name).to_string(),
            _ => name.clone(),
        };
        path.push(name.clone());
        let value = match value {
            Value::Object(inner) => {
                Value::Object(encode_credentials(inner, protocol, resource, key, path)?)
            }
            Value::String(text) if !is_encrypted(text) => {
                Value::String(seal(value, resource, path, key)?)
            }
            // Not a string: left for the repo API to refuse with its own message.
            other => other.clone(),
        };
        path.pop();
        out.insert(name, value);
    }
    Ok(out)
}

fn encode_all(
    value: &Value,
    resource: ResourceRef<'_>,
    key: &Key,
    path: &mut Vec<String>,
) -> Result<Value> {
    Ok(match value {
        Value::Null => Value::Null,
        Value::String(text) if is_encrypted(text) => value.clone(),
        Value::Object(map) => {
            let mut out = Map::new();
            for (name, inner) in map {
                path.push(name.clone());
                out.insert(name.clone(), encode_all(inner, resource, key, path)?);
                path.pop();
            }
            Value::Object(out)
        }
        other => Value::String(seal(other, resource, path, key)?),
    })
}

/// Decrypts every encrypted value of `settings` (stored at its path in `resource`) with the
/// keys of `keys`; values that are not encrypted are returned as they are.
pub fn decode(settings: &Value, resource: ResourceRef<'_>, keys: &Keyring) -> Result<Value> {
    decode_at(settings, resource, &mut Vec::new(), keys)
}

/// [`decode`] of `value` found at `path` of `resource`'s settings.
pub(crate) fn decode_at(
    value: &Value,
    resource: ResourceRef<'_>,
    path: &mut Vec<String>,
    keys: &Keyring,
) -> Result<Value> {
    Ok(match value {
        Value::String(text) if is_encrypted(text) => open(text, resource, &[path], keys)?,
        Value::Object(map) => {
            let mut out = Map::new();
            for (name, inner) in map {
                path.push(name.clone());
                out.insert(name.clone(), decode_at(inner, resource, path, keys)?);
                path.pop();
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| decode_at(item, resource, path, keys))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}

/// Decrypts what the credentials endpoint released for `access` from the storage of
/// `origin` (the remote of a pipe, or its root pipe): a released key came from
/// `credentials.<access>.<key>` or `credentials.<key>`, and for S3 `endpoint_url` and
/// `region_name` from `settings.endpoint` and `settings.region`.
pub fn decode_released(
    released: &Map<String, Value>,
    origin: ResourceRef<'_>,
    access: Access,
    keys: &Keyring,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (name, value) in released {
        let value = match value {
            Value::String(text) if is_encrypted(text) => {
                let setting = S3_RELEASED_SETTINGS
                    .iter()
                    .find(|(_, released)| released == name);
                let field = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect();
                let places: Vec<Vec<String>> = match setting {
                    Some((setting, _)) => vec![field(&["settings", setting])],
                    None => vec![
                        field(&["credentials", access.as_str(), name]),
                        field(&["credentials", name]),
                    ],
                };
                let places: Vec<&[String]> = places.iter().map(Vec::as_slice).collect();
                open(text, origin, &places, keys)?
            }
            other => other.clone(),
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// True when `text` is in the encrypted format (of any version).
pub fn is_encrypted(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// The ids of the keys that encrypted values of `value` carry, sorted, without repeats.
pub fn key_ids(value: &Value) -> Vec<String> {
    fn walk(value: &Value, ids: &mut Vec<String>) {
        match value {
            Value::String(text) => {
                if let Some(id) = text
                    .strip_prefix(PREFIX)
                    .and_then(|rest| rest.split(':').nth(1))
                {
                    ids.push(id.to_string());
                }
            }
            Value::Object(map) => map.values().for_each(|v| walk(v, ids)),
            Value::Array(items) => items.iter().for_each(|v| walk(v, ids)),
            _ => {}
        }
    }
    let mut ids = Vec::new();
    walk(value, &mut ids);
    ids.sort();
    ids.dedup();
    ids
}

/// The associated data binding a value to its place.
fn associated_data(resource: ResourceRef<'_>, path: &[String]) -> Vec<u8> {
    let mut parts = vec![
        json!(format!("{PREFIX}{VERSION}")),
        json!(resource.kind.as_str()),
        json!(resource.name),
    ];
    parts.extend(path.iter().map(|p| json!(p)));
    Value::Array(parts).to_string().into_bytes()
}

fn cipher(key: &Key) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key.bytes()))
}

/// Encrypts `value` (as JSON text) for `path` of `resource`.
fn seal(value: &Value, resource: ResourceRef<'_>, path: &[String], key: &Key) -> Result<String> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.try_fill_bytes(&mut nonce).map_err(|e| {
        Error::new(
            ErrorKind::Key,
            format!("the operating system gave no random bytes: {e}"),
        )
    })?;
    let plaintext = value.to_string();
    let aad = associated_data(resource, path);
    let sealed = cipher(key)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| Error::new(ErrorKind::Key, "encryption failed"))?;
    let mut data = nonce.to_vec();
    data.extend_from_slice(&sealed);
    Ok(format!(
        "{PREFIX}{VERSION}:{}:{}",
        key.id(),
        URL_SAFE_NO_PAD.encode(data)
    ))
}

/// Decrypts `text`, which must have been encrypted for one of `places` of `resource`.
fn open(
    text: &str,
    resource: ResourceRef<'_>,
    places: &[&[String]],
    keys: &Keyring,
) -> Result<Value> {
    let field = format!(
        "{} {}, {}",
        resource.kind.as_str(),
        resource.name,
        places.first().map(|p| p.join(".")).unwrap_or_default()
    );
    let fail = |message: String| Error::new(ErrorKind::Key, format!("{field}: {message}"));
    let rest = text.strip_prefix(PREFIX).unwrap_or(text);
    let (version, rest) = rest.split_once(':').unwrap_or((rest, ""));
    if version != VERSION {
        return Err(fail(format!(
            "encrypted in format {version:?}, which this version of dpipe cannot read"
        )));
    }
    let Some((id, data)) = rest.split_once(':') else {
        return Err(fail("the encrypted value is truncated".into()));
    };
    let Some(key) = keys.find(id) else {
        let held = match keys.ids() {
            ids if ids.is_empty() => "no encryption key".to_string(),
            ids => format!("only key {}", ids.join(", ")),
        };
        return Err(fail(format!(
            "encrypted with key {id}, but this profile has {held}; \
             get the key from whoever encrypted it and run `dpipe key set KEY`"
        )));
    };
    let data = URL_SAFE_NO_PAD
        .decode(data)
        .ok()
        .filter(|d| d.len() > NONCE_LEN);
    let Some(data) = data else {
        return Err(fail("the encrypted value is truncated or damaged".into()));
    };
    let (nonce, sealed) = data.split_at(NONCE_LEN);
    for place in places {
        let aad = associated_data(resource, place);
        let payload = Payload {
            msg: sealed,
            aad: &aad,
        };
        if let Ok(plain) = cipher(key).decrypt(XNonce::from_slice(nonce), payload) {
            return serde_json::from_slice(&plain)
                .map_err(|_| fail("the decrypted value is not JSON".into()));
        }
    }
    Err(fail(format!(
        "the value does not decrypt with key {id}: it was damaged, or moved here from \
         another field or resource"
    )))
}

#[cfg(test)]
mod tests;
