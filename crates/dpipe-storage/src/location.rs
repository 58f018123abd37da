//! Where files live, as dpipe-storage needs it: a protocol, a location (bucket, `host[:port]` or
//! folder), the pipe's root inside it (`remotepath`), credentials and settings — plain types with
//! no dependency on the registry, filled by whoever resolved the pipe.
//!
//! Credential keys (d6tpipe's names): s3 `aws_access_key_id`, `aws_secret_access_key`,
//! `aws_session_token`; ftp/sftp `username`, `password`; sftp `key` (path of a private key
//! file) or `private_key` (the key's text), and `passphrase` of an encrypted key.
//! Settings: s3 `endpoint`, `region` (default `us-east-1`), `path_style` (default `true`; `false`
//! turns on virtual-host style); sftp `host_key` (the server's pinned public key line or
//! `SHA256:` fingerprint) or `known_hosts_file` (where its key is recorded on first use).

use std::collections::BTreeMap;
use std::fmt;

pub use dpipe_core::protocol::Protocol;

/// A remote location resolved for one pipe. `Debug` never shows credential values.
#[derive(Clone, PartialEq, Eq)]
pub struct Location {
    /// The protocol.
    pub protocol: Protocol,
    /// Bucket (s3), `host[:port]` (ftp, sftp) or folder (fs).
    pub location: String,
    /// The pipe's prefix inside the location (`remotepath`), `/`-separated; empty for the top.
    pub root: String,
    /// Credentials by d6tpipe name (see the module doc).
    pub credentials: BTreeMap<String, String>,
    /// Settings by name (see the module doc).
    pub settings: BTreeMap<String, String>,
}

impl Location {
    /// A location with no credentials and no settings.
    pub fn new(protocol: Protocol, location: impl Into<String>, root: impl Into<String>) -> Self {
        Self {
            protocol,
            location: location.into(),
            root: root.into(),
            credentials: BTreeMap::new(),
            settings: BTreeMap::new(),
        }
    }

    /// Adds a credential.
    pub fn credential(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.credentials.insert(key.into(), value.into());
        self
    }

    /// Adds a setting.
    pub fn setting(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    pub(crate) fn cred(&self, key: &str) -> Option<&str> {
        self.credentials
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn set(&self, key: &str) -> Option<&str> {
        self.settings
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Credential names only: their values are secrets.
        let credentials: Vec<&str> = self.credentials.keys().map(String::as_str).collect();
        f.debug_struct("Location")
            .field("protocol", &self.protocol)
            .field("location", &self.location)
            .field("root", &self.root)
            .field("credentials", &credentials)
            .field("settings", &self.settings)
            .finish()
    }
}
