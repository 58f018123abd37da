//! SFTP through OpenDAL's sftp service, which drives the system's `ssh` client: a key (a path,
//! or inline text written to a 0600 temporary file), known-hosts strategy; no passwords.

use std::io::Write as _;

use opendal::services;

use crate::error::{Error, ErrorKind, Result};
use crate::location::Location;
use crate::operator::config;

pub(crate) fn sftp_builder(
    location: &Location,
    root: &str,
) -> Result<(services::Sftp, Option<tempfile::TempPath>)> {
    if location.location.is_empty() {
        return Err(config("sftp: the location (host[:port]) is empty"));
    }
    let mut b = services::Sftp::default()
        .endpoint(&format!("ssh://{}", location.location))
        .root(root)
        .known_hosts_strategy(location.set("known_hosts").unwrap_or("strict"));
    if let Some(user) = location.cred("username") {
        b = b.user(user);
    }
    let mut key_file = None;
    match (
        location.cred("key"),
        location.cred("private_key"),
        location.cred("password"),
    ) {
        (Some(path), _, _) => b = b.key(path),
        (None, Some(text), _) => {
            let path = write_private_key(text)?;
            b = b.key(&path.to_string_lossy());
            key_file = Some(path);
        }
        // OpenDAL's sftp service drives the system's `ssh` client, which reads passwords only
        // from a terminal or an askpass program: say so rather than hang or guess.
        (None, None, Some(_)) => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "sftp: password authentication is not supported; use a private key (credential `key` or `private_key`)",
            ));
        }
        (None, None, None) => {}
    }
    Ok((b, key_file))
}

/// Writes a private key to a 0600 temporary file (ssh refuses keys others can read).
fn write_private_key(text: &str) -> Result<tempfile::TempPath> {
    let mut file = tempfile::Builder::new()
        .prefix("dpipe-sftp-key-")
        .tempfile()
        .map_err(|e| Error::from_io(e, "write private key", &std::env::temp_dir()))?;
    let mut text = text.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| Error::from_io(e, "write private key", file.path()))?;
    Ok(file.into_temp_path())
}
