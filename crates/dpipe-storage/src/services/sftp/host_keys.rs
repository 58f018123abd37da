//! Whom an SFTP connection talks to: the server's host key, checked against a pin (the
//! remote's `host_key` setting: a public key line `ssh-ed25519 AAAA…` or a `SHA256:…`
//! fingerprint) or, without a pin, against a known-hosts file (`known_hosts_file`): trust on
//! first use, recorded in OpenSSH's format, and a changed key refused. Without either, a
//! connection is refused: dpipe never talks to a server it cannot tell from another.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use russh::keys::{HashAlg, PublicKey};

use crate::error::{Error, ErrorKind, Result};
use crate::operator::config;

/// How the server's host key is checked.
#[derive(Debug, Clone)]
pub(crate) enum HostKeyPolicy {
    /// The key must be this one (or have this fingerprint).
    Pinned(Pin),
    /// The key recorded for the server in this file, recorded there on first use.
    KnownHosts(PathBuf),
}

/// A pinned host key.
#[derive(Debug, Clone)]
pub(crate) enum Pin {
    /// A whole public key (its comment ignored).
    Key(Box<PublicKey>),
    /// A `SHA256:…` fingerprint (base64 without padding).
    Fingerprint(String),
}

impl Pin {
    /// Parses the `host_key` setting: `SHA256:…` or an OpenSSH public key line.
    pub(crate) fn parse(text: &str) -> Result<Pin> {
        let text = text.trim();
        if let Some(hash) = text.strip_prefix("SHA256:") {
            let valid = hash.len() == 43
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
            if !valid {
                return Err(config(format!(
                    "the host_key setting {text} is not a SHA256 fingerprint (SHA256: and 43 base64 characters, as `ssh-keygen -lf` prints)"
                )));
            }
            return Ok(Pin::Fingerprint(text.to_string()));
        }
        PublicKey::from_openssh(text)
            .map(|key| Pin::Key(Box::new(key)))
            .map_err(|_| {
                config(
                    "the host_key setting is neither a public key line (ssh-ed25519 AAAA…) nor a SHA256: fingerprint",
                )
            })
    }

    /// The pin's `SHA256:…` fingerprint.
    pub(crate) fn fingerprint(&self) -> String {
        match self {
            Pin::Key(key) => fingerprint(key),
            Pin::Fingerprint(text) => text.clone(),
        }
    }
}

/// The `SHA256:…` fingerprint of `key`, as `ssh-keygen -lf` prints it.
pub(crate) fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The `SHA256:…` fingerprint of the `host_key` setting `text`, for `dpipe remote show`;
/// an error in words if it is neither a key line nor a fingerprint.
pub fn host_key_fingerprint(text: &str) -> Result<String> {
    Pin::parse(text).map(|pin| pin.fingerprint())
}

impl HostKeyPolicy {
    /// Checks the key `presented` by the server at `host`:`port`; records it on first use.
    pub(crate) fn check(&self, host: &str, port: u16, presented: &PublicKey) -> Result<()> {
        let place = format!("{host}:{port}");
        match self {
            HostKeyPolicy::Pinned(pin) => {
                let matches = match pin {
                    Pin::Key(key) => key.key_data() == presented.key_data(),
                    Pin::Fingerprint(text) => *text == fingerprint(presented),
                };
                if matches {
                    return Ok(());
                }
                Err(Error::new(
                    ErrorKind::HostKeyChanged,
                    format!(
                        "the SFTP server at {place} presented host key {}, but the remote's host_key setting pins {}; if the server's key changed on purpose, pin the new key",
                        fingerprint(presented),
                        pin.fingerprint()
                    ),
                ))
            }
            HostKeyPolicy::KnownHosts(file) => {
                let pattern = host_pattern(host, port);
                let recorded = recorded_keys(file, &pattern)?;
                if recorded.is_empty() {
                    return record(file, &pattern, presented);
                }
                if recorded
                    .iter()
                    .any(|k| k.key_data() == presented.key_data())
                {
                    return Ok(());
                }
                Err(Error::new(
                    ErrorKind::HostKeyChanged,
                    format!(
                        "the SFTP server at {place} presented host key {}, but {} is recorded for it in {}; if the server's key changed on purpose, delete that line (or pin the new key with the remote's host_key setting)",
                        fingerprint(presented),
                        fingerprint(&recorded[0]),
                        file.display()
                    ),
                ))
            }
        }
    }
}

/// The host field of a known-hosts line: `host` on port 22, `[host]:port` elsewhere.
fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// The keys recorded for `pattern` in the known-hosts `file` (none if it does not exist).
/// Hashed host names and markers (`@revoked`) are not written by dpipe and are skipped.
fn recorded_keys(file: &Path, pattern: &str) -> Result<Vec<PublicKey>> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::from_io(e, "read known hosts", file)),
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let (hosts, key) = line.trim().split_once(char::is_whitespace)?;
            hosts
                .split(',')
                .any(|h| h == pattern)
                .then(|| PublicKey::from_openssh(key.trim()).ok())
                .flatten()
        })
        .collect())
}

/// Appends `pattern key` to the known-hosts `file` (0600, its folder created 0700).
fn record(file: &Path, pattern: &str, key: &PublicKey) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    if let Some(folder) = file.parent().filter(|f| !f.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(folder)
            .map_err(|e| Error::from_io(e, "create the folder of", file))?;
    }
    let line = key
        .to_openssh()
        .map_err(|e| Error::new(ErrorKind::Other, format!("host key: {e}")))?;
    // The comment of a host key is the server's business, not the known-hosts file's.
    let line = line.split(' ').take(2).collect::<Vec<_>>().join(" ");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)
        .and_then(|mut f| f.write_all(format!("{pattern} {line}\n").as_bytes()))
        .map_err(|e| Error::from_io(e, "record the host key in", file))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFRPXHFZ5bva6RJCfmqz0dp8olwenNaMTte5OvJyp3Fk test";
    const OTHER: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKZl+zlSGbDfmd+vaRvRX7Q6qtGHDj+XstgMX6QhYSyA other";

    #[test]
    fn a_pin_is_a_key_line_or_a_fingerprint() {
        let key = Pin::parse(KEY).unwrap();
        let print = key.fingerprint();
        assert!(print.starts_with("SHA256:"), "{print}");
        assert_eq!(Pin::parse(&print).unwrap().fingerprint(), print);
        let err = Pin::parse("SHA256:short").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let err = Pin::parse("not a key").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }

    #[test]
    fn known_hosts_records_then_refuses_another_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/known_hosts");
        let policy = HostKeyPolicy::KnownHosts(file.clone());
        let key = PublicKey::from_openssh(KEY).unwrap();
        policy.check("127.0.0.1", 2222, &key).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("[127.0.0.1]:2222 ssh-ed25519 AAAA"),
            "{text}"
        );
        policy.check("127.0.0.1", 2222, &key).unwrap();
        let other = PublicKey::from_openssh(OTHER).unwrap();
        let err = policy.check("127.0.0.1", 2222, &other).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::HostKeyChanged);
        assert!(err.message().contains(&fingerprint(&key)), "{err}");
        assert!(err.message().contains(&fingerprint(&other)), "{err}");
    }
}
