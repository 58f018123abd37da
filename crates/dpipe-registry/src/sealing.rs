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

use crate::key_ring::KeyRing;

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

/// Seals `credentials` of the record `holder`/`name` with the ring's current key.
pub(crate) fn seal(
    ring: &KeyRing,
    holder: Holder,
    name: &str,
    credentials: &Credentials,
) -> String {
    seal_text(ring, holder, name, &credentials.to_value().to_string())
}

/// Seals any stored text (used by rotation to re-seal what it opened).
pub(crate) fn seal_text(ring: &KeyRing, holder: Holder, name: &str, plain: &str) -> String {
    let (id, key) = ring.current();
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

/// Opens what [`seal`] stored for `holder`/`name` (or legacy plain JSON) back into text.
pub(crate) fn open_text(
    ring: &KeyRing,
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
    let key = ring
        .get(id)
        .ok_or_else(|| unreadable("sealed with a key the server does not have"))?;
    let blob = URL_SAFE_NO_PAD
        .decode(blob)
        .map_err(|_| unreadable("not base64"))?;
    if blob.len() < NONCE_LEN {
        return Err(unreadable("truncated"));
    }
    let (nonce, sealed) = blob.split_at(NONCE_LEN);
    let aad = associated_data(holder, name);
    let plain = XChaCha20Poly1305::new(key.into())
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
    ring: &KeyRing,
    holder: Holder,
    name: &str,
    stored: Option<&str>,
) -> Result<Option<Credentials>> {
    let Some(stored) = stored else {
        return Ok(None);
    };
    let text = open_text(ring, holder, name, stored)?;
    serde_json::from_str(&text)
        .ok()
        .and_then(|value| Credentials::from_stored(&value))
        .map(Some)
        .ok_or_else(|| Error::internal("stored credentials are unreadable"))
}

/// True when `stored` is sealed with the ring's current key (rotation skips those).
pub(crate) fn is_current(ring: &KeyRing, stored: &str) -> bool {
    stored
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(id, _)| id == ring.current().0)
}

/// Re-seals every stored credential with `ring`'s current key, in one transaction: either all
/// of them are sealed with it afterwards or none changed. Returns how many were re-sealed.
/// Values already sealed with the current key are left alone, so a rerun is cheap.
pub fn reseal_credentials(store: &dyn Store, ring: &KeyRing) -> Result<usize> {
    let mut unreadable = None;
    let result = store.rewrite_credentials(&mut |kind, name, stored| {
        if is_current(ring, stored) {
            return Ok(None);
        }
        let holder = if kind == Holder::Remote.as_str() {
            Holder::Remote
        } else {
            Holder::Pipe
        };
        match open_text(ring, holder, name, stored) {
            Ok(plain) => Ok(Some(seal_text(ring, holder, name, &plain))),
            Err(err) => {
                let message = err.message().to_string();
                unreadable = Some(err);
                Err(message)
            }
        }
    });
    // A value the ring cannot open is the caller's to hear about as such, not as a database
    // failure (the transaction was rolled back either way).
    match (result, unreadable) {
        (Err(_), Some(err)) => Err(err),
        (result, _) => result.map_err(crate::store_error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn creds() -> Credentials {
        Credentials::from_stored(
            &json!({"aws_access_key_id": "AK", "aws_secret_access_key": "canary-secret"}),
        )
        .unwrap()
    }

    #[test]
    fn round_trip_without_clear_text() {
        let ring = KeyRing::generate();
        let sealed = seal(&ring, Holder::Remote, "r1", &creds());
        assert!(sealed.starts_with(PREFIX) && !sealed.contains("canary"));
        assert_eq!(
            open(&ring, Holder::Remote, "r1", Some(&sealed)).unwrap(),
            Some(creds())
        );
        assert!(is_current(&ring, &sealed));
    }

    #[test]
    fn tampering_moving_and_wrong_keys_are_detected() {
        let ring = KeyRing::generate();
        let sealed = seal(&ring, Holder::Pipe, "p1", &creds());
        assert!(
            open(&ring, Holder::Pipe, "p2", Some(&sealed)).is_err(),
            "moved to another record"
        );
        assert!(
            open(&ring, Holder::Remote, "p1", Some(&sealed)).is_err(),
            "moved to another kind"
        );
        assert!(
            open(&KeyRing::generate(), Holder::Pipe, "p1", Some(&sealed)).is_err(),
            "wrong key"
        );
        let truncated = &sealed[..sealed.len() - 5];
        assert!(open(&ring, Holder::Pipe, "p1", Some(truncated)).is_err());
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(
            open(
                &ring,
                Holder::Pipe,
                "p1",
                Some(std::str::from_utf8(&flipped).unwrap())
            )
            .is_err()
        );
        let err = open(&ring, Holder::Pipe, "p2", Some(&sealed)).unwrap_err();
        assert!(!err.message().contains("canary"));
    }

    #[test]
    fn legacy_plain_json_still_opens() {
        let ring = KeyRing::generate();
        let plain = creds().to_value().to_string();
        assert_eq!(
            open(&ring, Holder::Pipe, "p", Some(&plain)).unwrap(),
            Some(creds())
        );
        assert!(!is_current(&ring, &plain));
    }

    #[test]
    fn older_keys_of_the_ring_still_open() {
        let old = KeyRing::generate();
        let sealed = seal(&old, Holder::Remote, "r", &creds());
        let rotated = old.rotated();
        assert!(!is_current(&rotated, &sealed));
        assert_eq!(
            open(&rotated, Holder::Remote, "r", Some(&sealed)).unwrap(),
            Some(creds())
        );
        let resealed = seal(&rotated, Holder::Remote, "r", &creds());
        assert!(
            open(
                &rotated.without_old_keys(),
                Holder::Remote,
                "r",
                Some(&resealed)
            )
            .is_ok()
        );
        assert!(
            open(
                &rotated.without_old_keys(),
                Holder::Remote,
                "r",
                Some(&sealed)
            )
            .is_err()
        );
    }
}
