//! FTP and FTPS: `host[:port]`, `ftp://host[:port]` or `ftps://host[:port]`, root, username and
//! password. FTPS is explicit TLS (`AUTH TLS` on the control connection, then protected data
//! connections), used when the location is written `ftps://` or the remote's `tls` setting is
//! `required`; a server that refuses `AUTH TLS` is then left before the login, so the password
//! is never sent in plain text. The server's certificate must be trusted by the system's CA
//! store, or by the CA file named with `SSL_CERT_FILE` (OpenDAL's FTP service reads the store
//! at each connection, and offers no way to trust one certificate for one remote).

use dpipe_core::protocol::ftp_endpoint;
use opendal::services;

use crate::error::Result;
use crate::location::{Location, Protocol};
use crate::operator::config;

/// The environment variables that name the CA certificates the TLS connections trust instead
/// of the system's store (read by `rustls-native-certs`).
const CA_FILE_VARIABLE: &str = "SSL_CERT_FILE";
const CA_DIR_VARIABLE: &str = "SSL_CERT_DIR";

pub(crate) fn ftp_builder(location: &Location, root: &str) -> Result<services::Ftp> {
    let host_port = ftp_endpoint(&location.location).host_port;
    if host_port.is_empty() {
        return Err(config("ftp: the location (host[:port]) is empty"));
    }
    let tls = uses_tls(location)?;
    if tls {
        check_trusted_certificates()?;
    }
    let scheme = if tls { "ftps" } else { "ftp" };
    let mut b = services::Ftp::default()
        .endpoint(&format!("{scheme}://{host_port}"))
        .root(root);
    if let Some(user) = location.cred("username") {
        b = b.user(user);
    }
    if let Some(password) = location.cred("password") {
        b = b.password(password);
    }
    Ok(b)
}

/// Whether reaching `location`, an FTP location, sends its password in plain text: plain FTP
/// (neither `ftps://` nor `tls: required`) with a password. What a run warns about.
pub fn sends_password_in_plain_text(location: &Location) -> bool {
    location.protocol == Protocol::Ftp
        && location.cred("password").is_some()
        && matches!(uses_tls(location), Ok(false))
}

/// Whether `location` is reached over TLS: written `ftps://`, or its `tls` setting is
/// `required`. A `tls` setting other than `required` or `off`, or `off` with `ftps://`, is a
/// configuration error.
fn uses_tls(location: &Location) -> Result<bool> {
    let written_ftps = ftp_endpoint(&location.location).tls;
    match location.set("tls") {
        None => Ok(written_ftps),
        Some("required") => Ok(true),
        Some("off") if written_ftps => Err(config(format!(
            "ftp: the location {} asks for TLS but the remote's tls setting is off; \
             remove one of them",
            location.location
        ))),
        Some("off") => Ok(false),
        Some(other) => Err(config(format!(
            "ftp: the remote's tls setting is {other:?}; it must be \"required\" or \"off\""
        ))),
    }
}

/// Checks that the CA certificates named by `SSL_CERT_FILE` (or `SSL_CERT_DIR`), if set, can
/// be read: OpenDAL's FTP service would panic on them at connect.
fn check_trusted_certificates() -> Result<()> {
    if let Some(file) = std::env::var_os(CA_FILE_VARIABLE) {
        let text = std::fs::read_to_string(&file).map_err(|e| {
            config(format!(
                "{CA_FILE_VARIABLE} names {}, which cannot be read: {e}",
                file.to_string_lossy()
            ))
        })?;
        if !text.contains("-----BEGIN CERTIFICATE-----") {
            return Err(config(format!(
                "{CA_FILE_VARIABLE} names {}, which holds no PEM certificate",
                file.to_string_lossy()
            )));
        }
    }
    if let Some(dir) = std::env::var_os(CA_DIR_VARIABLE) {
        std::fs::read_dir(&dir).map_err(|e| {
            config(format!(
                "{CA_DIR_VARIABLE} names {}, which cannot be read: {e}",
                dir.to_string_lossy()
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn ftp(location: &str) -> Location {
        Location::new(Protocol::Ftp, location, "/x").credential("password", "p")
    }

    #[test]
    fn tls_from_the_scheme_or_the_setting() {
        assert!(!uses_tls(&ftp("h:21")).unwrap());
        assert!(!uses_tls(&ftp("ftp://h:21")).unwrap());
        assert!(uses_tls(&ftp("ftps://h:21")).unwrap());
        assert!(uses_tls(&ftp("h").setting("tls", "required")).unwrap());
        assert!(!uses_tls(&ftp("ftp://h").setting("tls", "off")).unwrap());
        assert!(sends_password_in_plain_text(&ftp("h")));
        assert!(!sends_password_in_plain_text(&ftp("ftps://h")));
        assert!(!sends_password_in_plain_text(
            &ftp("h").setting("tls", "required")
        ));
        assert!(!sends_password_in_plain_text(&Location::new(
            Protocol::Ftp,
            "h",
            "/x"
        )));
    }

    #[test]
    fn wrong_tls_settings_are_clear_errors() {
        let err = uses_tls(&ftp("h").setting("tls", "yes")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("\"required\" or \"off\""), "{err}");
        let err = uses_tls(&ftp("ftps://h").setting("tls", "off")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("tls setting is off"), "{err}");
        // A plain location with a wrong setting is not taken for plain FTP either.
        assert!(!sends_password_in_plain_text(
            &ftp("h").setting("tls", "maybe")
        ));
    }
}
