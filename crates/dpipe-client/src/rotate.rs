//! Re-encryption after a key rotation: every resource the user owns whose values carry an
//! older key of the keyring is decrypted and encrypted again with the new key, one update
//! per resource. Each update is atomic on the repo API's side, so an interruption leaves
//! every value under the old key or the new one; as long as the profile keeps both (see
//! `dpipe key rotate`), [`reencrypt`] run again simply finishes the work.
//!
//! What is reached: remotes through their owner-only credentials endpoint plus their
//! settings; root pipes with their own storage through the credentials endpoint, the read
//! and the write half (flat when both halves are the same stored values). For S3 that
//! endpoint only releases the boto3 keys, so other keys stored with such a pipe's
//! credentials are dropped, and pipe settings other than the released `endpoint`/`region`
//! cannot be read back: a pipe whose encrypted settings carry an old key is reported in
//! [`Rotation::unfinished`], and the old key must stay until it is upserted again.

use std::collections::BTreeSet;

use dpipe_core::credentials::S3_RELEASED_SETTINGS;
use dpipe_core::role::Access;
use dpipe_core::wire::UpdateMode;
use serde_json::{Map, Value, json};

use crate::encode::{ResourceRef, decode_at, decode_released, encode, key_ids};
use crate::key::{Key, Keyring};
use crate::{Decrypting, RepoApi, Result};

/// What a re-encryption did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Remotes and pipes (`remote NAME`, `pipe NAME`) re-encrypted with the new key.
    pub reencrypted: Vec<String>,
    /// Resources holding values of keys the profile does not have, left as they are.
    pub foreign: Vec<String>,
    /// Resources still holding values of an old key that could not be read back.
    pub unfinished: Vec<String>,
}

/// Whether a resource needs re-encrypting, judged by the key ids its values carry.
enum State {
    /// Nothing encrypted, or everything already under the new key.
    Done,
    /// A key the keyring lacks.
    Foreign,
    /// Values of older keys of the keyring.
    Old,
}

fn state(ids: &BTreeSet<String>, keys: &Keyring, key: &Key) -> State {
    if ids.iter().any(|id| keys.find(id).is_none()) {
        State::Foreign
    } else if ids.iter().any(|id| id != key.id()) {
        State::Old
    } else {
        State::Done
    }
}

fn ids_of(values: &[&Value]) -> BTreeSet<String> {
    values.iter().flat_map(|v| key_ids(v)).collect()
}

/// Re-encrypts with `key` everything the user of `api` owns that carries another key of
/// `api`'s keyring (which must hold every old key).
pub fn reencrypt(api: &Decrypting, key: &Key) -> Result<Rotation> {
    let raw = api.raw();
    let keys = api.keys();
    let mut done = Rotation::default();
    for remote in raw.list_remotes()? {
        let label = format!("remote {}", remote.name);
        let stored = raw.remote_credentials(&remote.name)?;
        let settings = Value::Object(remote.settings.clone());
        match state(&ids_of(&[&stored, &settings]), keys, key) {
            State::Done => continue,
            State::Foreign => done.foreign.push(label),
            State::Old => {
                let resource = ResourceRef::remote(&remote.name);
                let path = &mut vec!["settings".to_string()];
                let mut body = json!({
                    "name": remote.name,
                    "settings": decode_at(&settings, resource, path, keys)?,
                });
                let credentials = api.remote_credentials(&remote.name)?;
                if credentials.as_object().is_some_and(|c| !c.is_empty()) {
                    body["credentials"] = credentials;
                }
                let body = encode(&body, resource, key)?;
                raw.update_remote(&remote.name, &body, UpdateMode::Partial)?;
                done.reencrypted.push(label);
            }
        }
    }
    let me = raw.whoami()?.username.unwrap_or_default();
    for pipe in raw.list_pipes()? {
        if pipe.owner != me || pipe.parent.is_some() || pipe.remote.is_some() {
            continue;
        }
        let label = format!("pipe {}", pipe.name);
        let is_s3 = pipe.protocol == "s3";
        let (read, read_settings) = released(raw, &pipe.name, Access::Read, is_s3)?;
        let (write, _) = released(raw, &pipe.name, Access::Write, is_s3)?;
        let (creds, settings) = (
            Value::Object(read.clone()),
            Value::Object(read_settings.clone()),
        );
        let write_value = Value::Object(write.clone());
        match state(&ids_of(&[&creds, &write_value]), keys, key) {
            State::Done => {}
            State::Foreign => done.foreign.push(label.clone()),
            State::Old => {
                let resource = ResourceRef::pipe(&pipe.name);
                // The same stored ciphertexts in both halves are flat credentials.
                let credentials = if read == write {
                    Value::Object(decode_released(&read, resource, Access::Read, keys)?)
                } else {
                    json!({
                        "read": decode_released(&read, resource, Access::Read, keys)?,
                        "write": decode_released(&write, resource, Access::Write, keys)?,
                    })
                };
                let body = json!({"name": pipe.name, "credentials": credentials});
                let body = encode(&body, resource, key)?;
                raw.update_pipe(&pipe.name, &body, UpdateMode::Partial)?;
                done.reencrypted.push(label.clone());
            }
        }
        if !matches!(state(&ids_of(&[&settings]), keys, key), State::Done) {
            done.unfinished.push(label);
        }
    }
    Ok(done)
}

/// The raw credentials released for `access` on `pipe`, split into the credentials proper
/// and, for S3, the released settings (`endpoint_url`, `region_name`).
fn released(
    raw: &dyn RepoApi,
    pipe: &str,
    access: Access,
    is_s3: bool,
) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let mut credentials = raw.credentials(pipe, access)?;
    let mut settings = Map::new();
    for (_, name) in S3_RELEASED_SETTINGS.iter().filter(|_| is_s3) {
        if let Some(value) = credentials.remove(*name) {
            settings.insert(name.to_string(), value);
        }
    }
    Ok((credentials, settings))
}
