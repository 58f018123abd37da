//! Credentials at rest: sealed with the server's credentials key so that a copy of the
//! database leaks none of them.
//!
//! A sealed value is `dpipe:srv:v1:<key id>:<base64url(nonce || ciphertext)>`, encrypted with
//! XChaCha20-Poly1305 under the key whose id it names. The associated data binds it to its
//! record — `remote` or `pipe`, and the record's (immutable) name — so a value copied into
//! another row does not open. Values stored before sealing existed (plain JSON) still open,
//! and `dpipe serve rotate-key` seals them.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use dpipe_core::credentials::Credentials;
use dpipe_core::{Error, Result};
use rand::RngCore;

use dpipe_store::Store;

use crate::StoreResultExt;
use crate::key_ring::{KeyRing, SealingKeys, missing_key};

/// The prefix of every sealed value.
const PREFIX: &str = "dpipe:srv:v1:";
const NONCE_LEN: usize = 24;

/// The kind of record credentials belong to; part of what a sealed value is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// A remote's credentials.
    Remote,
    /// A root pipe's inline credentials.
    Pipe,
}

impl Holder {
    /// The name stored with the record kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Holder::Remote => "remote",
            Holder::Pipe => "pipe",
        }
    }
}

fn associated_data(holder: Holder, name: &str) -> Vec<u8> {
    format!("dpipe-credentials\0{}\0{name}", holder.as_str()).into_bytes()
}

/// Seals `credentials` of the record `holder`/`name` with the key that seals now (see
/// [`SealingKeys::sealing`]).
pub(crate) fn seal(
    keys: &SealingKeys,
    holder: Holder,
    name: &str,
    credentials: &Credentials,
) -> Result<String> {
    let (id, key) = keys.sealing()?;
    Ok(seal_text(
        &id,
        &key,
        holder,
        name,
        &credentials.to_value().to_string(),
    ))
}

/// Seals any stored text with key `id` (rotation re-seals what it opened).
fn seal_text(id: &str, key: &[u8; 32], holder: Holder, name: &str, plain: &str) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(key.into());
    let aad = associated_data(holder, name);
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: &aad,
            },
        )
        .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory data");
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&sealed);
    format!("{PREFIX}{id}:{}", URL_SAFE_NO_PAD.encode(blob))
}

/// Opens what [`seal`] stored for `holder`/`name` (or legacy plain JSON) back into text,
/// finding the key by its id with `key`.
fn open_text(
    key: impl Fn(&str) -> Option<[u8; 32]>,
    holder: Holder,
    name: &str,
    stored: &str,
) -> Result<String> {
    let Some(rest) = stored.strip_prefix(PREFIX) else {
        return Ok(stored.to_string());
    };
    let unreadable = |why: &str| {
        tracing::error!(
            record = holder.as_str(),
            name,
            why,
            "stored credentials do not open"
        );
        Error::internal(format!(
            "The stored credentials of {} {name} cannot be read with the server's keys.",
            holder.as_str()
        ))
    };
    let (id, blob) = rest
        .split_once(':')
        .ok_or_else(|| unreadable("malformed"))?;
    let key = key(id).ok_or_else(|| {
        Error::internal(format!(
            "The stored credentials of {} {name} cannot be read. {}",
            holder.as_str(),
            missing_key(id).message()
        ))
    })?;
    let blob = URL_SAFE_NO_PAD
        .decode(blob)
        .map_err(|_| unreadable("not base64"))?;
    if blob.len() < NONCE_LEN {
        return Err(unreadable("truncated"));
    }
    let (nonce, sealed) = blob.split_at(NONCE_LEN);
    let aad = associated_data(holder, name);
    let plain = XChaCha20Poly1305::new((&key).into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .map_err(|_| unreadable("authentication failed: tampered, moved or wrong key"))?;
    String::from_utf8(plain).map_err(|_| unreadable("not UTF-8"))
}

/// Opens the stored credentials of `holder`/`name`.
pub(crate) fn open(
    keys: &SealingKeys,
    holder: Holder,
    name: &str,
    stored: Option<&str>,
) -> Result<Option<Credentials>> {
    let Some(stored) = stored else {
        return Ok(None);
    };
    let text = open_text(|id| keys.get(id), holder, name, stored)?;
    serde_json::from_str(&text)
        .ok()
        .and_then(|value| Credentials::from_stored(&value))
        .map(Some)
        .ok_or_else(|| Error::internal("stored credentials are unreadable"))
}

/// True when `stored` is sealed with the key `id` (rotation skips those).
fn is_sealed_with(id: &str, stored: &str) -> bool {
    stored
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(sealed_with, _)| sealed_with == id)
}

/// Re-seals every stored credential with `ring`'s current key, in one transaction (either all
/// of them are sealed with it afterwards or none changed), then records that key as the one
/// every server sharing `store` seals with. Returns how many were re-sealed. Values already
/// sealed with the current key are left alone, so a rerun is cheap; nothing is recorded when
/// a value does not open.
///
/// A value another server seals with the older key between the two steps is re-sealed by
/// the next run, which `dpipe serve rotate-key --finish` is, before it drops the older keys.
pub fn reseal_credentials(store: &dyn Store, ring: &KeyRing) -> Result<usize> {
    let (current_id, current_key) = ring.current();
    let mut unreadable = None;
    let result = store.rewrite_credentials(&mut |kind, name, stored| {
        if is_sealed_with(current_id, stored) {
            return Ok(None);
        }
        let holder = if kind == Holder::Remote.as_str() {
            Holder::Remote
        } else {
            Holder::Pipe
        };
        match open_text(|id| ring.get(id).copied(), holder, name, stored) {
            Ok(plain) => Ok(Some(seal_text(
                current_id,
                current_key,
                holder,
                name,
                &plain,
            ))),
            Err(err) => {
                let message = err.message().to_string();
                unreadable = Some(err);
                Err(message)
            }
        }
    });
    // A value the ring cannot open is the caller's to hear about as such, not as a database
    // failure (the transaction was rolled back either way).
    let count = match (result, unreadable) {
        (Err(_), Some(err)) => return Err(err),
        (result, _) => result.map_err(crate::store_error)?,
    };
    if store.sealing_key().or_internal()?.as_deref() != Some(current_id) {
        store.set_sealing_key(current_id).or_internal()?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use dpipe_store::SqliteStore;
    use serde_json::json;

    fn creds() -> Credentials {
        Credentials::from_stored(
            &json!({"aws_access_key_id": "AK", "aws_secret_access_key": "canary-secret"}),
        )
        .unwrap()
    }

    /// `ring` as a registry over a fresh database (which names no sealing key) uses it.
    fn keys(ring: &KeyRing) -> SealingKeys {
        SealingKeys::new(
            ring.clone(),
            None,
            Arc::new(SqliteStore::in_memory().unwrap()),
        )
    }

    #[test]
    fn round_trip_without_clear_text() {
        let keys = keys(&KeyRing::generate());
        let sealed = seal(&keys, Holder::Remote, "r1", &creds()).unwrap();
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("canary"));
        assert_eq!(
            open(&keys, Holder::Remote, "r1", Some(&sealed)).unwrap(),
            Some(creds())
        );
        assert!(is_sealed_with(keys.ring().current_id(), &sealed));
    }

    #[test]
    fn tampering_moving_and_wrong_keys_are_detected() {
        let keys = keys(&KeyRing::generate());
        let sealed = seal(&keys, Holder::Pipe, "p1", &creds()).unwrap();
        assert!(
            open(&keys, Holder::Pipe, "p2", Some(&sealed)).is_err(),
            "moved to another record"
        );
        assert!(
            open(&keys, Holder::Remote, "p1", Some(&sealed)).is_err(),
            "moved to another kind"
        );
        assert!(
            open(
                &super::tests::keys(&KeyRing::generate()),
                Holder::Pipe,
                "p1",
                Some(&sealed)
            )
            .is_err(),
            "wrong key"
        );
        let truncated = &sealed[..sealed.len() - 5];
        assert!(open(&keys, Holder::Pipe, "p1", Some(truncated)).is_err());
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(
            open(
                &keys,
                Holder::Pipe,
                "p1",
                Some(std::str::from_utf8(&flipped).unwrap())
            )
            .is_err()
        );
        let err = open(&keys, Holder::Pipe, "p2", Some(&sealed)).unwrap_err();
        assert!(!err.message().contains("canary"));
    }

    #[test]
    fn legacy_plain_json_still_opens() {
        let keys = keys(&KeyRing::generate());
        let plain = creds().to_value().to_string();
        assert_eq!(
            open(&keys, Holder::Pipe, "p", Some(&plain)).unwrap(),
            Some(creds())
        );
        assert!(!is_sealed_with(keys.ring().current_id(), &plain));
    }

    #[test]
    fn older_keys_of_the_ring_still_open() {
        let old = KeyRing::generate();
        let sealed = seal(&keys(&old), Holder::Remote, "r", &creds()).unwrap();
        let rotated = old.rotated();
        assert!(!is_sealed_with(rotated.current_id(), &sealed));
        assert_eq!(
            open(&keys(&rotated), Holder::Remote, "r", Some(&sealed)).unwrap(),
            Some(creds())
        );
        let resealed = seal(&keys(&rotated), Holder::Remote, "r", &creds()).unwrap();
        let only_new = keys(&rotated.without_old_keys());
        assert!(open(&only_new, Holder::Remote, "r", Some(&resealed)).is_ok());
        assert!(open(&only_new, Holder::Remote, "r", Some(&sealed)).is_err());
    }

    #[test]
    fn the_database_names_the_sealing_key_and_a_missing_key_is_reread_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("credentials.key");
        let old = KeyRing::generate();
        old.save(&file).unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        // This server started with the old ring; another one rotated and recorded the new key.
        let this_server = SealingKeys::new(old.clone(), Some(file.clone()), store.clone());
        let rotated = old.rotated();
        reseal_credentials(store.as_ref(), &rotated).unwrap();
        let refused = seal(&this_server, Holder::Remote, "r", &creds()).unwrap_err();
        assert!(
            refused.message().contains("older than the database's")
                && refused.message().contains(rotated.current_id()),
            "{refused:?}"
        );
        // Once its ring file has the new key, it seals with the database's key, not its first.
        old.rotated().save(&file).unwrap();
        assert!(seal(&this_server, Holder::Remote, "r", &creds()).is_err());
        rotated.save(&file).unwrap();
        let sealed = seal(&this_server, Holder::Remote, "r", &creds()).unwrap();
        assert!(is_sealed_with(rotated.current_id(), &sealed));
        assert_eq!(
            open(
                &keys(&rotated.without_old_keys()),
                Holder::Remote,
                "r",
                Some(&sealed)
            )
            .unwrap(),
            Some(creds())
        );
    }
}
