//! SFTP, dpipe's own OpenDAL service on the pure-Rust SSH stack `russh` + `russh-sftp` (no
//! system `ssh`): a password, a private key (inline or a path, encrypted with a passphrase),
//! or both; the server's host key pinned or recorded on first use ([`host_keys`]); one SSH
//! connection per storage with a few SFTP channels ([`connection`]); reads and writes with
//! many requests in flight ([`reader`], [`writer`]). `Storage` and every caller reach it
//! through OpenDAL's `Operator`, like the other services.
//!
//! Location: `host[:port]` (port 22 by default). Credentials: `username`, `password`,
//! `private_key` (text) or `key` (a path), `passphrase`. Settings: `host_key` (a pin),
//! `known_hosts_file` (where keys are recorded without a pin; dpipe-client gives the profile's).

mod access;
mod auth;
mod connection;
mod errors;
pub(crate) mod host_keys;
mod lister;
mod reader;
#[cfg(test)]
mod tests;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::location::Location;
use crate::operator::{Tuning, config};

pub(crate) use access::SftpBuilder;
use auth::Credentials;
use host_keys::{HostKeyPolicy, Pin};

/// Port of SSH when the location names none.
const SSH_PORT: u16 = 22;

/// Everything a connection needs, read once from the location.
#[derive(Debug)]
pub(crate) struct Settings {
    host: String,
    port: u16,
    credentials: Credentials,
    host_keys: HostKeyPolicy,
    /// Limit of connecting and logging in.
    timeout: Duration,
    /// Limit of one SFTP request.
    io_timeout: Duration,
    /// The root folder: absolute, `/`-terminated.
    root: String,
}

impl Settings {
    /// `host:port`, for messages.
    fn place(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// The SFTP service of `location`, rooted at `root` (`/`-rooted and -terminated). Checks the
/// settings and reads the key now; connects on first use.
pub(crate) fn sftp_builder(
    location: &Location,
    root: &str,
    tuning: &Tuning,
) -> Result<SftpBuilder> {
    let (host, port) = host_and_port(&location.location)?;
    let host_keys = match (location.set("host_key"), location.set("known_hosts_file")) {
        (Some(pin), _) => HostKeyPolicy::Pinned(Pin::parse(pin)?),
        (None, Some(file)) => HostKeyPolicy::KnownHosts(file.into()),
        (None, None) => {
            return Err(config(format!(
                "sftp: cannot check whom {host}:{port} is: pin its host key (setting host_key) or give a known-hosts file (setting known_hosts_file)"
            )));
        }
    };
    Ok(SftpBuilder::new(Settings {
        host,
        port,
        credentials: Credentials::of(location)?,
        host_keys,
        timeout: tuning.timeout,
        io_timeout: tuning.io_timeout,
        root: root.to_string(),
    }))
}

/// Splits `host[:port]` (`[v6]:port` for IPv6 addresses).
fn host_and_port(location: &str) -> Result<(String, u16)> {
    let location = location.trim();
    if location.is_empty() {
        return Err(config("sftp: the location (host[:port]) is empty"));
    }
    let bad_port = || config(format!("sftp: the port of {location} is not a number"));
    if let Some(rest) = location.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| config(format!("sftp: {location} is not host[:port]")))?;
        let port = match after.strip_prefix(':') {
            Some(port) => port.parse().map_err(|_| bad_port())?,
            None => SSH_PORT,
        };
        return Ok((host.to_string(), port));
    }
    match location.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Ok((host.to_string(), port.parse().map_err(|_| bad_port())?))
        }
        _ => Ok((location.to_string(), SSH_PORT)),
    }
}

/// The shared state of the service: its settings and its connection.
#[derive(Debug)]
pub(crate) struct Core {
    settings: Arc<Settings>,
    pool: connection::Pool,
}

#[cfg(test)]
mod host_and_port_tests {
    use super::*;

    #[test]
    fn host_and_port_are_split() {
        assert_eq!(host_and_port("h").unwrap(), ("h".to_string(), 22));
        assert_eq!(host_and_port("h:2222").unwrap(), ("h".to_string(), 2222));
        assert_eq!(host_and_port("[::1]:23").unwrap(), ("::1".to_string(), 23));
        assert_eq!(host_and_port("::1").unwrap(), ("::1".to_string(), 22));
        assert!(host_and_port("h:x").is_err());
        assert!(host_and_port("").is_err());
    }
}
