//! The credentials key ring: the key that seals credentials now, and the keys that sealed them
//! before a rotation finished. Kept as text, one 64-hex-character key per line, current
//! first, in a file only its owner can read.

use std::fmt;
use std::io::Write;
use std::path::Path;

use dpipe_core::{Error, Result};
use rand::RngCore;
use sha2::{Digest, Sha256};

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
