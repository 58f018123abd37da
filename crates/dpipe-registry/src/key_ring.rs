//! The credentials key ring: the key that seals credentials now, and the keys that sealed them
//! before a rotation finished. Kept as text, one 64-hex-character key per line, current
//! first, in a file only its owner can read.
//!
//! [`SealingKeys`] is the ring as a running registry uses it. Several servers may share one
//! database, each with its own copy of the ring, so the database names the key that seals
//! (recorded by the rotation, [`Store::sealing_key`]), and a key a server lacks is looked for
//! again in its ring file, which the operator may have replaced since the server started.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use dpipe_core::{Error, Result};
use dpipe_store::Store;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::StoreResultExt;

/// Keys by id, the current one first. `Debug` shows ids only.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<(String, [u8; 32])>,
}

impl KeyRing {
    /// A ring with one fresh key from the OS random number generator.
    pub fn generate() -> KeyRing {
        KeyRing {
            keys: vec![with_id(random_key())],
        }
    }

    /// Parses the text form: one key per line (64 hex), current first; `#` lines ignored.
    pub fn from_text(text: &str) -> Result<KeyRing> {
        let keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| {
                let bytes = hex::decode(line)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok());
                bytes.map(with_id).ok_or_else(|| {
                    Error::invalid("A credentials key must be 64 hex characters (32 bytes).")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if keys.is_empty() {
            return Err(Error::invalid("The credentials key ring holds no key."));
        }
        Ok(KeyRing { keys })
    }

    /// The text form, current key first.
    pub fn to_text(&self) -> String {
        let mut text =
            String::from("# dpipe credentials keys: the first seals, all open. Keep secret.\n");
        for (_, key) in &self.keys {
            text.push_str(&hex::encode(key));
            text.push('\n');
        }
        text
    }

    /// Reads the ring from `path`, creating the file with a fresh key (mode 0600) when it does
    /// not exist.
    pub fn load_or_create(path: &Path) -> Result<KeyRing> {
        match std::fs::read_to_string(path) {
            Ok(text) => KeyRing::from_text(&text)
                .map_err(|e| Error::invalid(format!("{}: {}", path.display(), e.message()))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let ring = KeyRing::generate();
                ring.save(path)?;
                Ok(ring)
            }
            Err(err) => Err(Error::internal(format!(
                "cannot read {}: {err}",
                path.display()
            ))),
        }
    }

    /// Writes the ring to `path` with [`write_private_file`].
    pub fn save(&self, path: &Path) -> Result<()> {
        write_private_file(path, self.to_text().as_bytes())
            .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))
    }

    /// This ring with a fresh key in front: it seals from now on, the old ones still open.
    pub fn rotated(&self) -> KeyRing {
        let mut keys = vec![with_id(random_key())];
        keys.extend(self.keys.iter().cloned());
        KeyRing { keys }
    }

    /// Only the current key (once nothing sealed with the others is left).
    pub fn without_old_keys(&self) -> KeyRing {
        KeyRing {
            keys: self.keys[..1].to_vec(),
        }
    }

    /// This ring with key `id` made the current one (the others kept behind it); `None` when
    /// the ring has no such key.
    pub fn with_current(&self, id: &str) -> Option<KeyRing> {
        let index = self.keys.iter().position(|(k, _)| k == id)?;
        let mut keys = self.keys.clone();
        let key = keys.remove(index);
        keys.insert(0, key);
        Some(KeyRing { keys })
    }

    /// The id of the sealing key (public: it names the key, it does not reveal it).
    pub fn current_id(&self) -> &str {
        self.current().0
    }

    /// The id and bytes of the sealing key.
    pub(crate) fn current(&self) -> (&str, &[u8; 32]) {
        let (id, key) = &self.keys[0];
        (id, key)
    }

    /// The key with id `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&[u8; 32]> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }
}

/// The keys a registry seals and opens stored credentials with, as they stand now: the key
/// the database names seals (so one rotation reaches every server sharing the database), and
/// a key missing from the ring is looked for once more in the ring file before giving up.
pub(crate) struct SealingKeys {
    ring: RwLock<KeyRing>,
    /// The file the ring was read from, re-read when a key is missing.
    file: Option<PathBuf>,
    store: Arc<dyn Store>,
}

impl SealingKeys {
    /// `ring` over `store`, re-read from `file` (when given) when a key is missing.
    pub(crate) fn new(ring: KeyRing, file: Option<PathBuf>, store: Arc<dyn Store>) -> SealingKeys {
        SealingKeys {
            ring: RwLock::new(ring),
            file,
            store,
        }
    }

    /// A copy of the ring as it stands.
    pub(crate) fn ring(&self) -> KeyRing {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key with id `id`, re-reading the ring file once when the ring lacks it.
    pub(crate) fn get(&self, id: &str) -> Option<[u8; 32]> {
        // Looked up under the read lock: this runs on every request that opens credentials.
        let known = self
            .ring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied();
        if known.is_some() {
            return known;
        }
        let file = self.file.as_ref()?;
        let reread = std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|text| KeyRing::from_text(&text).map_err(|e| e.message().to_string()));
        match reread {
            Ok(ring) => {
                let key = ring.get(id).copied();
                if key.is_some() {
                    tracing::info!(file = %file.display(), key = id, "re-read the credentials key ring: it has a newer key");
                    *self.ring.write().unwrap_or_else(|e| e.into_inner()) = ring;
                }
                key
            }
            Err(why) => {
                tracing::warn!(file = %file.display(), %why, "cannot re-read the credentials key ring");
                None
            }
        }
    }

    /// The id and bytes of the key that seals now: the one the database names, or the ring's
    /// first when the database names none. Refused when this server lacks the database's key,
    /// so that nothing is ever sealed with a key the other servers may have dropped.
    pub(crate) fn sealing(&self) -> Result<(String, [u8; 32])> {
        let Some(id) = self.store.sealing_key().or_internal()? else {
            let ring = self.ring();
            let (id, key) = ring.current();
            return Ok((id.to_string(), *key));
        };
        match self.get(&id) {
            Some(key) => Ok((id, key)),
            None => Err(missing_key(&id)),
        }
    }
}

/// The error of a server that lacks key `id`, which the database's credentials need.
pub(crate) fn missing_key(id: &str) -> Error {
    tracing::error!(
        key = id,
        "the credentials key ring lacks a key the repo database uses: give this server the new key ring"
    );
    Error::internal(format!(
        "This server's credentials keys are older than the database's (it lacks key {id}): give it the new key ring."
    ))
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "KeyRing({ids:?}, keys redacted)")
    }
}

/// Writes a secret file so that a crash leaves the old or the new contents whole, never a mix,
/// and nobody but the owner can read it at any moment: a temporary file created 0600 in the
/// same folder, written, synced, renamed over `path`, then the folder synced.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("secret");
    let tmp = dir.join(format!(".{name}.tmp"));
    // A leftover from a crash may have other permissions; `mode` applies only to new files.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

/// A key with its id: the first 8 hex characters of a hash of it (public, names the key).
fn with_id(key: [u8; 32]) -> (String, [u8; 32]) {
    let mut hasher = Sha256::new();
    hasher.update(b"dpipe-credentials-key-id\0");
    hasher.update(key);
    (hex::encode(&hasher.finalize()[..4]), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.key");
        let ring = KeyRing::load_or_create(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = KeyRing::load_or_create(&path).unwrap();
        assert_eq!(again.current().0, ring.current().0);
        let rotated = ring.rotated();
        rotated.save(&path).unwrap();
        let loaded = KeyRing::load_or_create(&path).unwrap();
        assert_eq!(loaded.current().0, rotated.current().0);
        assert!(loaded.get(ring.current().0).is_some());
        assert!(!format!("{loaded:?}").contains(&hex::encode(loaded.current().1)));
    }

    #[test]
    fn bad_text() {
        assert!(KeyRing::from_text("").is_err());
        assert!(KeyRing::from_text("abcd").is_err());
        assert!(KeyRing::from_text(&"zz".repeat(32)).is_err());
    }
}
