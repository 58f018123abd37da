//! Encryption keys of a profile: a [`Key`] is 256 random bits from the operating system,
//! written in profiles as 43 characters of unpadded base64url; a [`Keyring`] is the profile's
//! current key plus the previous keys a `dpipe key rotate` keeps until every value has been
//! re-encrypted.
//!
//! Each key has a short public [`Key::id`] (a SHA-256 fingerprint) that every encrypted value
//! carries, so that decryption picks the right key and a missing key is reported as such
//! rather than as damage. Neither `Debug` nor an error message ever shows a key.
//! [`ConfigFile::ensure_key`] makes a profile's key the first time the profile needs one.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRngCore as _;
use sha2::{Digest, Sha256};

use crate::{ConfigFile, Error, ErrorKind, Result};

/// Bytes in a key (XChaCha20-Poly1305 takes 256 bits).
const KEY_LEN: usize = 32;
/// Bytes of the SHA-256 fingerprint kept as the key id (8 base64url characters).
const ID_LEN: usize = 6;

/// A 256-bit encryption key.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    bytes: [u8; KEY_LEN],
    id: String,
}

impl Key {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Result<Key> {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
            Error::new(
                ErrorKind::Key,
                format!("the operating system gave no random bytes for a key: {e}"),
            )
        })?;
        Ok(Key::from_bytes(bytes))
    }

    /// Reads a key as [`Key::to_text`] writes it. The error never repeats the text.
    pub fn parse(text: &str) -> Result<Key> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| <[u8; KEY_LEN]>::try_from(bytes).ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    "an encryption key is 43 characters of base64url (256 bits), as `dpipe key show` prints it",
                )
            })?;
        Ok(Key::from_bytes(bytes))
    }

    fn from_bytes(bytes: [u8; KEY_LEN]) -> Key {
        let digest = Sha256::new()
            .chain_update(b"dpipe key id\0")
            .chain_update(bytes)
            .finalize();
        let id = URL_SAFE_NO_PAD.encode(&digest[..ID_LEN]);
        Key { bytes, id }
    }

    /// The key as text, for the profiles file and `dpipe key show`.
    pub fn to_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.bytes)
    }

    /// The key's public fingerprint, carried by every value it encrypts.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The raw key, for the cipher.
    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key(id {}, <redacted>)", self.id)
    }
}

/// The keys a profile decrypts with: the current one (which also encrypts) and the previous
/// ones of an unfinished rotation.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Keyring {
    current: Option<Key>,
    previous: Vec<Key>,
}

impl Keyring {
    /// A keyring of `current` and `previous` keys.
    pub fn new(current: Option<Key>, previous: Vec<Key>) -> Keyring {
        Keyring { current, previous }
    }

    /// Parses the key texts of a profile entry.
    pub fn parse(current: Option<&str>, previous: &[String]) -> Result<Keyring> {
        Ok(Keyring {
            current: current.map(Key::parse).transpose()?,
            previous: previous
                .iter()
                .map(|k| Key::parse(k))
                .collect::<Result<_>>()?,
        })
    }

    /// The key new values are encrypted with.
    pub fn current(&self) -> Option<&Key> {
        self.current.as_ref()
    }

    /// The keys kept from an unfinished rotation.
    pub fn previous(&self) -> &[Key] {
        &self.previous
    }

    /// The key whose id is `id`, current or previous.
    pub fn find(&self, id: &str) -> Option<&Key> {
        self.current
            .iter()
            .chain(&self.previous)
            .find(|key| key.id() == id)
    }

    /// The ids of every key, for error messages.
    pub(crate) fn ids(&self) -> Vec<&str> {
        self.current
            .iter()
            .chain(&self.previous)
            .map(Key::id)
            .collect()
    }
}

impl ConfigFile {
    /// The current key of profile `name`, generated (and stored here, to be saved) when the
    /// profile has none yet: keys are made the first time a profile needs one. The flag
    /// tells whether it was generated.
    pub fn ensure_key(&mut self, name: &str) -> Result<(Key, bool)> {
        let profile = self.profile(Some(name))?;
        if let Some(key) = profile.keys().current() {
            return Ok((key.clone(), false));
        }
        let key = Key::generate()?;
        self.set_keys(name, Some(&key), profile.keys().previous())?;
        Ok((key, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_as_text_and_never_show() {
        let key = Key::generate().unwrap();
        let text = key.to_text();
        assert_eq!(text.len(), 43);
        assert_eq!(Key::parse(&text).unwrap(), key);
        assert_eq!(key.id().len(), 8);
        assert_ne!(Key::generate().unwrap(), key, "keys are random");
        assert!(!format!("{key:?}").contains(&text));
        let ring = Keyring::new(Some(key.clone()), vec![]);
        assert!(!format!("{ring:?}").contains(&text));
        assert_eq!(ring.find(key.id()), Some(&key));
        for wrong in ["", "short", "yourkey", &format!("{text}AA")] {
            let err = Key::parse(wrong).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains("43 characters"), "{err}");
        }
    }
}
