//! SSH's and SFTP's errors in words, as dpipe-storage [`Error`]s carried inside the OpenDAL
//! errors the service returns (see [`Error::from_opendal`], which passes them through): a
//! refused login, a server that cannot be reached (an [`std::io::Error`] of the kind
//! [`Error::is_unreachable`] recognises stays in the chain), a missing file, a refused
//! operation. Never a secret: no password, key text or passphrase reaches these messages.

use std::io::ErrorKind as Io;

use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::StatusCode;

use crate::error::{Error, ErrorKind};

/// Where the server is, for messages: `host:port`.
pub(crate) type Place<'a> = &'a str;

/// A failure to reach the server at `place` (refused, cut, timed out): `why` in words, and
/// an I/O error of `kind` as the source so that [`Error::is_unreachable`] sees it.
pub(crate) fn unreachable(place: Place<'_>, kind: Io, why: &str) -> Error {
    Error::new(
        ErrorKind::Transient,
        format!("cannot reach the SFTP server at {place}: {why}"),
    )
    .with("location", place)
    .with_source(std::io::Error::new(kind, why.to_string()))
}

/// Translates an error of russh (connecting, key exchange, opening a channel).
pub(crate) fn from_ssh(e: russh::Error, place: Place<'_>) -> Error {
    use russh::Error as E;
    match e {
        // The OS does not say "host not found" with a kind of its own.
        E::IO(io) if io.to_string().contains("lookup address") => unreachable(
            place,
            Io::AddrNotAvailable,
            "the host name does not resolve",
        ),
        E::IO(io) => {
            let why = match io.kind() {
                Io::ConnectionRefused => "connection refused",
                Io::TimedOut => "the connection timed out",
                Io::HostUnreachable => "host unreachable",
                Io::NetworkUnreachable => "network unreachable",
                _ => "the connection was cut",
            };
            let kind = match io.kind() {
                Io::ConnectionRefused | Io::TimedOut => io.kind(),
                Io::HostUnreachable | Io::NetworkUnreachable => io.kind(),
                _ => Io::ConnectionReset,
            };
            unreachable(place, kind, why)
        }
        E::ConnectionTimeout | E::KeepaliveTimeout | E::InactivityTimeout | E::Elapsed(_) => {
            unreachable(place, Io::TimedOut, "the connection timed out")
        }
        E::Disconnect | E::HUP | E::SendError | E::RecvError | E::WrongChannel => {
            unreachable(place, Io::ConnectionReset, "the connection was cut")
        }
        other => Error::new(
            ErrorKind::Other,
            format!("the SSH connection to the SFTP server at {place} failed: {other}"),
        )
        .with("location", place),
    }
}

/// Translates an SFTP error during `operation` on `path` (a lost connection is made again
/// by the next call: see [`Pool::channel`](super::connection::Pool::channel)).
pub(crate) fn from_sftp(e: &SftpError, operation: &str, path: &str, place: Place<'_>) -> Error {
    let subject = format!("{operation} {path}");
    match e {
        SftpError::Status(status) => {
            let (kind, what) = match status.status_code {
                StatusCode::NoSuchFile => (ErrorKind::NotFound, "not found".to_string()),
                StatusCode::PermissionDenied => {
                    (ErrorKind::PermissionDenied, "permission denied".to_string())
                }
                StatusCode::OpUnsupported => (
                    ErrorKind::Unsupported,
                    "the SFTP server does not support it".to_string(),
                ),
                _ if status.error_message.trim().is_empty() => {
                    (ErrorKind::Other, format!("{}", status.status_code))
                }
                _ => (ErrorKind::Other, status.error_message.trim().to_string()),
            };
            Error::new(kind, format!("{subject} failed: {what}"))
                .with("operation", operation.to_string())
                .with("path", path)
        }
        _ if is_connection_lost(e) => {
            let (kind, why) = match e {
                SftpError::Timeout => (Io::TimedOut, "the server did not answer in time"),
                _ => (Io::ConnectionReset, "the connection was cut"),
            };
            unreachable(place, kind, why)
                .with("operation", operation.to_string())
                .with("path", path)
        }
        other => Error::new(ErrorKind::Other, format!("{subject} failed: {other}"))
            .with("operation", operation.to_string())
            .with("path", path),
    }
}

/// Whether `e` means the SFTP session (or the SSH connection under it) is gone.
fn is_connection_lost(e: &SftpError) -> bool {
    matches!(
        e,
        SftpError::IO(_) | SftpError::Timeout | SftpError::UnexpectedBehavior(_)
    )
}

/// Whether `e` is SFTP's "no such file".
pub(crate) fn is_not_found(e: &SftpError) -> bool {
    matches!(e, SftpError::Status(s) if s.status_code == StatusCode::NoSuchFile)
}

/// The OpenDAL error that carries `e` to [`Error::from_opendal`]: of the OpenDAL kind callers
/// branch on (a missing file is `NotFound`), temporary when retrying may cure it (a cut
/// connection, not a refused one: nothing listens there).
pub(crate) fn to_opendal(e: Error) -> opendal::Error {
    use opendal::ErrorKind as K;
    let kind = match e.kind() {
        ErrorKind::NotFound => K::NotFound,
        ErrorKind::PermissionDenied | ErrorKind::HostKeyChanged => K::PermissionDenied,
        ErrorKind::Config => K::ConfigInvalid,
        ErrorKind::Unsupported => K::Unsupported,
        _ => K::Unexpected,
    };
    let refused = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == Io::ConnectionRefused);
    let retry = e.kind() == ErrorKind::Transient && !refused;
    let out = opendal::Error::new(kind, e.message().to_string());
    let out = if retry { out.set_temporary() } else { out };
    out.set_source(e)
}
