//! Passwords, tokens and the server key.
//!
//! A user's token is derived, not stored: `HMAC-SHA256(server key, seed)` cut to 40 hex
//! characters, where the seed is random per user. The database holds the seed and the token's
//! SHA-256 only, so a copy of it does not let anyone act as a user, while login can still
//! return the same token every time (which the d6tpipe client requires). Rotating the seed
//! invalidates the token.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use dpipe_core::{Error, Result};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of an API token in hex characters (DRF's authtoken length).
pub const TOKEN_LEN: usize = 40;

/// The server's 256-bit secret. `Debug` never shows it.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl ServerKey {
    /// A fresh key from the OS random number generator.
    pub fn generate() -> ServerKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        ServerKey(bytes)
    }

    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> ServerKey {
        ServerKey(bytes)
    }

    /// Parses the 64-hex-character text form (as kept in the key file).
    pub fn from_hex(text: &str) -> Result<ServerKey> {
        let bytes =
            hex::decode(text.trim()).map_err(|_| Error::invalid("The server key is not hex."))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::invalid("The server key must be 32 bytes (64 hex characters)."))?;
        Ok(ServerKey(bytes))
    }

    /// The 64-hex-character text form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A public value that tells keys apart without revealing them (a derived hash): servers
    /// sharing a database compare it to find out whether they derive tokens alike.
    pub fn check_value(&self) -> String {
        hex::encode(&self.derive(b"dpipe-server-key-check", "")[..16])
    }

    /// The token a user with `seed` has.
    pub(crate) fn token(&self, seed: &str) -> String {
        let mut token = hex::encode(self.derive(b"dpipe-token", seed));
        token.truncate(TOKEN_LEN);
        token
    }

    /// `HMAC-SHA256(key, purpose NUL input)`: a secret for `purpose` that only this key can
    /// compute from `input`, so it need not be stored.
    pub(crate) fn derive(&self, purpose: &[u8], input: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose);
        mac.update(b"\0");
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerKey(<redacted>)")
    }
}

/// A fresh random token seed.
pub(crate) fn new_seed() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the database keeps of a token.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two hashes.
pub(crate) fn same_hash(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub(crate) fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|_| Error::internal("could not encode a salt"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| Error::internal("could not hash the password"))
}

/// Checks a password against a stored PHC string; false for a malformed or unusable hash.
pub(crate) fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password matches, for accounts that cannot log in (local mode's user) and to
/// spend the same time on unknown usernames as on known ones.
pub(crate) const UNUSABLE_PASSWORD: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_per_seed_and_key() {
        let key = ServerKey::generate();
        let t = key.token("seed");
        assert_eq!(t.len(), TOKEN_LEN);
        assert_eq!(t, key.token("seed"));
        assert_ne!(t, key.token("other"));
        assert_ne!(t, ServerKey::generate().token("seed"));
        assert!(same_hash(&token_hash(&t), &token_hash(&t)));
        assert!(!format!("{key:?}").contains(&key.to_hex()));
        assert_eq!(ServerKey::from_hex(&key.to_hex()).unwrap().token("seed"), t);
    }

    #[test]
    fn passwords() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("s3cret", UNUSABLE_PASSWORD));
        assert!(!verify_password("x", "garbage"));
    }
}
