//! Storage protocols and their locations: which protocols exist, what a valid location is
//! for each, and where a pipe's files live on it (`remotepath`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The storage protocols a remote or pipe can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Any S3-compatible object store; location is the bucket.
    S3,
    /// FTP; location is `host[:port]`.
    Ftp,
    /// SFTP; location is `host[:port]`.
    Sftp,
    /// A local or mounted folder; location is its absolute path.
    Fs,
}

/// d6tpipe's name for server-managed storage (a pipe created with a name only): stored as a
/// root pipe's protocol, shown as `s3` (see [`crate::managed`]).
pub const MANAGED: &str = "d6tfree";

impl Protocol {
    /// Every protocol, in the order the docs list them.
    pub const ALL: [Protocol; 4] = [Protocol::S3, Protocol::Ftp, Protocol::Sftp, Protocol::Fs];

    /// The wire name (`s3`, `ftp`, `sftp`, `fs`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::S3 => "s3",
            Protocol::Ftp => "ftp",
            Protocol::Sftp => "sftp",
            Protocol::Fs => "fs",
        }
    }

    /// Parses a wire name; the error names the `protocol` field and the accepted values.
    pub fn parse(value: &str) -> Result<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.as_str() == value).ok_or_else(|| {
            Error::invalid_field(
                "protocol",
                format!("\"{value}\" is not a valid choice (s3, ftp, sftp, fs, or {MANAGED} for the server's managed storage)."),
            )
        })
    }

    /// Checks that `location` makes sense for this protocol.
    pub fn validate_location(self, location: &str) -> Result<()> {
        let invalid = |why: &str| Error::invalid_field("location", why.to_string());
        if location.is_empty() {
            return Err(invalid("This field may not be blank."));
        }
        if location.chars().any(|c| c.is_control()) {
            return Err(invalid("Location may not contain control characters."));
        }
        match self {
            Protocol::S3 => {
                let ok = (3..=63).contains(&location.len())
                    && location.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                    })
                    && location.as_bytes()[0].is_ascii_alphanumeric()
                    && location.as_bytes()[location.len() - 1].is_ascii_alphanumeric();
                if ok {
                    Ok(())
                } else {
                    Err(invalid(
                        "S3 bucket names are 3-63 lowercase letters, digits, dots and hyphens.",
                    ))
                }
            }
            Protocol::Ftp => {
                if is_host_port(ftp_endpoint(location).host_port) {
                    Ok(())
                } else {
                    Err(invalid(
                        "Location must be host, host:port, ftp://host[:port] (plain FTP) or \
                         ftps://host[:port] (FTP over TLS).",
                    ))
                }
            }
            Protocol::Sftp => {
                if is_host_port(location) {
                    Ok(())
                } else {
                    Err(invalid("Location must be host or host:port."))
                }
            }
            Protocol::Fs => {
                if location.starts_with('/') && !location.contains('\\') {
                    Ok(())
                } else {
                    Err(invalid(
                        "Location must be an absolute folder path, e.g. /srv/data.",
                    ))
                }
            }
        }
    }

    /// The path of a storage root with no sub-folder: `s3://bucket/`, `/` for (s)ftp (the
    /// login's root), or the folder itself for `fs`. Always ends with `/`.
    pub fn root_path(self, location: &str) -> String {
        match self {
            Protocol::S3 => format!("s3://{location}/"),
            Protocol::Ftp | Protocol::Sftp => "/".to_string(),
            Protocol::Fs => format!("{}/", location.trim_end_matches('/')),
        }
    }
}

/// How an FTP location is reached: `ftps://host[:port]` asks for explicit TLS (`AUTH TLS`),
/// `ftp://host[:port]` and a bare `host[:port]` for plain FTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FtpEndpoint<'a> {
    /// Whether the location is written `ftps://`.
    pub tls: bool,
    /// The `host[:port]` after the scheme.
    pub host_port: &'a str,
}

/// Splits an FTP location into its scheme and `host[:port]` (see [`FtpEndpoint`]).
pub fn ftp_endpoint(location: &str) -> FtpEndpoint<'_> {
    match location.strip_prefix("ftps://") {
        Some(host_port) => FtpEndpoint {
            tls: true,
            host_port,
        },
        None => FtpEndpoint {
            tls: false,
            host_port: location.strip_prefix("ftp://").unwrap_or(location),
        },
    }
}

/// Whether `location` is `host` or `host:port` (a port from 1 to 65535).
fn is_host_port(location: &str) -> bool {
    let (host, port) = match location.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (location, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    host_ok && port_ok
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_errors() {
        assert_eq!(Protocol::parse("sftp").unwrap(), Protocol::Sftp);
        assert!(
            Protocol::parse("http")
                .unwrap_err()
                .message()
                .contains("not a valid choice")
        );
        assert!(
            Protocol::parse("http")
                .unwrap_err()
                .message()
                .contains("managed storage")
        );
    }

    #[test]
    fn locations() {
        assert!(Protocol::S3.validate_location("my-bucket.1").is_ok());
        assert!(Protocol::S3.validate_location("My_Bucket").is_err());
        assert!(Protocol::S3.validate_location("ab").is_err());
        assert!(Protocol::Sftp.validate_location("127.0.0.1:2222").is_ok());
        assert!(Protocol::Ftp.validate_location("host:0").is_err());
        assert!(Protocol::Ftp.validate_location("host/x").is_err());
        assert!(Protocol::Fs.validate_location("/srv/data").is_ok());
        assert!(Protocol::Fs.validate_location("data").is_err());
    }

    #[test]
    fn ftp_locations_may_name_their_scheme() {
        for ok in [
            "h",
            "h:21",
            "ftp://h",
            "ftp://h:2121",
            "ftps://h",
            "ftps://127.0.0.1:990",
        ] {
            assert!(Protocol::Ftp.validate_location(ok).is_ok(), "{ok}");
        }
        for wrong in [
            "ftps://",
            "ftp://",
            "ftps://h:0",
            "ftps://h:x",
            "ftps://h/x",
            "sftp://h",
            "FTPS://h",
            "ftps:/h",
        ] {
            let err = Protocol::Ftp.validate_location(wrong).unwrap_err();
            assert!(
                err.message().contains("ftps://host[:port]"),
                "{wrong}: {err}"
            );
        }
        // Only FTP has schemes: an SFTP location is host[:port].
        assert!(Protocol::Sftp.validate_location("ftps://h").is_err());
        assert_eq!(
            ftp_endpoint("ftps://h:990"),
            FtpEndpoint {
                tls: true,
                host_port: "h:990"
            }
        );
        assert_eq!(ftp_endpoint("ftp://h").host_port, "h");
        assert!(!ftp_endpoint("h:21").tls);
    }

    #[test]
    fn roots() {
        assert_eq!(Protocol::S3.root_path("b"), "s3://b/");
        assert_eq!(Protocol::Sftp.root_path("h"), "/");
        assert_eq!(Protocol::Fs.root_path("/srv/data/"), "/srv/data/");
    }
}
