//! OpenDAL's errors in words: which [`ErrorKind`] an OpenDAL error is, and one line that says
//! what is wrong, where, and what to do — the bucket that does not exist, the endpoint that
//! cannot be reached, the credentials the storage refused — instead of OpenDAL's context dump
//! (URI, HTTP response parts, service), which stays in the error's source for `detail`.
//!
//! OpenDAL keeps its context pairs private; its `Debug` text lists them one per line
//! (`   uri: http://…`), and the S3 service puts the parsed error body in its message
//! (`S3Error { code: "NoSuchBucket", … }`): those texts are what is read here.

use std::error::Error as _;
use std::io::ErrorKind as Io;

use super::ErrorKind;

/// The kind and the message of a translated OpenDAL error.
pub(super) struct Described {
    pub kind: ErrorKind,
    pub message: String,
}

/// Describes `e`, raised during `operation` on `path`.
pub(super) fn describe(e: &opendal::Error, operation: &str, path: &str) -> Described {
    let facts = Facts::of(e);
    let kind = classify(e, &facts);
    let subject = if path.trim_matches('/').is_empty() {
        operation.to_string()
    } else {
        format!("{operation} {path}")
    };
    let code = facts.s3_code.as_deref();
    if let Some(tls) = &facts.ftp_tls {
        return Described {
            kind,
            message: tls.message(),
        };
    }
    let message = match kind {
        ErrorKind::LocationNotFound => match (facts.bucket(), facts.origin()) {
            (Some(bucket), Some(origin)) => format!(
                "bucket {bucket} does not exist on {origin}; check the location of the pipe or its remote"
            ),
            _ => format!(
                "{} says the bucket does not exist; check the location of the pipe or its remote",
                facts.place()
            ),
        },
        // A local folder has no credentials: the OS refused.
        ErrorKind::PermissionDenied if facts.service.as_deref() == Some("fs") => {
            format!("{subject} failed: {}", facts.cause)
        }
        ErrorKind::PermissionDenied => format!(
            "{} refused the credentials: {}; check the credentials of the pipe or its remote",
            facts.place(),
            refusal(code, &facts)
        ),
        ErrorKind::ExpiredCredentials => format!(
            "{} refused the credentials: they expired ({})",
            facts.place(),
            code.unwrap_or("expired")
        ),
        ErrorKind::Transient => match &facts.unreachable {
            Some(why) => format!("cannot reach {}: {why}", facts.target()),
            None => format!(
                "{subject} failed: {} is unavailable: {}",
                facts.place(),
                facts.cause
            ),
        },
        ErrorKind::NotFound => format!("{subject} failed: not found"),
        other => format!("{subject} failed: {other}: {}", facts.cause),
    };
    Described { kind, message }
}

/// What an OpenDAL error tells, read once.
struct Facts {
    /// OpenDAL's `Debug` text: its message, context lines and source.
    text: String,
    /// The URL OpenDAL called (HTTP services only).
    url: Option<String>,
    /// The service (`s3`, `ftp`, `sftp`, `fs`).
    service: Option<String>,
    /// The `code` of an S3 error body.
    s3_code: Option<String>,
    /// Why the storage could not be reached, when that is what failed.
    unreachable: Option<String>,
    /// The deepest cause, in one short line.
    cause: String,
    /// What went wrong with TLS on an FTP server, if that is what failed.
    ftp_tls: Option<FtpTls>,
}

impl Facts {
    fn of(e: &opendal::Error) -> Facts {
        let text = format!("{e:?}");
        let line = |key: &str| {
            text.lines()
                .find_map(|l| l.trim_start().strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        let s3_code = text.split_once("code: \"").and_then(|(_, rest)| {
            let code = rest.split('"').next().unwrap_or_default();
            (!code.is_empty()).then(|| code.to_string())
        });
        let service = line("service: ");
        let cause = cause(e, s3_code.as_deref());
        Facts {
            url: line("uri: ").or_else(|| line("url: ")),
            ftp_tls: (service.as_deref() == Some("ftp"))
                .then(|| FtpTls::of(&cause))
                .flatten(),
            service,
            unreachable: unreachable(e, &text),
            cause,
            s3_code,
            text,
        }
    }

    /// `scheme://host[:port]` of the URL OpenDAL called.
    fn origin(&self) -> Option<&str> {
        let url = self.url.as_deref()?;
        let after_scheme = url.find("://")? + 3;
        let end = url[after_scheme..]
            .find(['/', '?'])
            .map_or(url.len(), |i| after_scheme + i);
        Some(&url[..end])
    }

    /// The bucket, when the request was addressed to the bucket itself in path style
    /// (`http://host/bucket?list-type=2…`); a longer path may be a key of a virtual-hosted
    /// bucket, so it names none.
    fn bucket(&self) -> Option<&str> {
        let url = self.url.as_deref()?;
        let path = &url[self.origin()?.len()..];
        let path = path.split('?').next().unwrap_or_default();
        let bucket = path.trim_matches('/');
        (!bucket.is_empty() && !bucket.contains('/')).then_some(bucket)
    }

    /// What the storage is, for a sentence: `the storage at http://…`, `the FTP server`.
    fn place(&self) -> String {
        match self.origin() {
            Some(origin) => format!("the storage at {origin}"),
            None => self.server().to_string(),
        }
    }

    /// What could not be reached: the URL's origin, or the kind of server.
    fn target(&self) -> String {
        self.origin()
            .map_or_else(|| self.server().to_string(), str::to_string)
    }

    fn server(&self) -> &'static str {
        match self.service.as_deref() {
            Some("ftp") => "the FTP server",
            Some("sftp") => "the SFTP server",
            Some("fs") => "the folder",
            _ => "the storage",
        }
    }
}

fn classify(e: &opendal::Error, facts: &Facts) -> ErrorKind {
    use opendal::ErrorKind as K;
    if let Some(tls) = &facts.ftp_tls {
        return tls.kind();
    }
    let code = facts.s3_code.as_deref();
    if code.is_some_and(is_expired_token_code) {
        return ErrorKind::ExpiredCredentials;
    }
    if code == Some("NoSuchBucket") {
        return ErrorKind::LocationNotFound;
    }
    if facts.unreachable.is_some() {
        return ErrorKind::Transient;
    }
    let kind = match e.kind() {
        K::NotFound => ErrorKind::NotFound,
        K::PermissionDenied => ErrorKind::PermissionDenied,
        K::ConfigInvalid => ErrorKind::Config,
        K::Unsupported => ErrorKind::Unsupported,
        K::RateLimited => ErrorKind::Transient,
        // The object changed under a read pinned to its listed size or ETag.
        K::RangeNotSatisfied | K::ConditionNotMatch => ErrorKind::Integrity,
        _ if e.is_temporary() => ErrorKind::Transient,
        _ => ErrorKind::Other,
    };
    if kind == ErrorKind::Other && facts.text.contains("unexpected data size") {
        // A ranged read that came back short: the object shrank since it was listed.
        ErrorKind::Integrity
    } else if code == Some("BadDigest") {
        // S3 refused an upload whose bytes do not match the checksum sent with them.
        ErrorKind::Integrity
    } else if kind == ErrorKind::Other && is_auth_failure(e, facts) {
        // OpenDAL reports a failed login as unexpected; the server's answer says more
        // (FTP's 530, S3's InvalidAccessKeyId or SignatureDoesNotMatch, ssh's refusal).
        ErrorKind::PermissionDenied
    } else {
        kind
    }
}

/// The S3 codes of an expired or unusable session token (HTTP 400 on AWS; 403 on some S3
/// servers). `InvalidAccessKeyId` and `SignatureDoesNotMatch` are not among them.
fn is_expired_token_code(code: &str) -> bool {
    matches!(
        code,
        "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired"
    )
}

fn is_auth_failure(e: &opendal::Error, facts: &Facts) -> bool {
    const CODES: [&str; 4] = [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "NotSignedUp",
    ];
    const MARKERS: [&str; 5] = [
        "[530]",
        "Login incorrect",
        "Permission denied",
        "authentication",
        "Authentication",
    ];
    facts.s3_code.as_deref().is_some_and(|c| CODES.contains(&c))
        || io_errors(e).any(|io| io.kind() == Io::PermissionDenied)
        || MARKERS.iter().any(|m| facts.text.contains(m))
}

/// Why the credentials were refused, in words.
fn refusal(code: Option<&str>, facts: &Facts) -> String {
    match code {
        Some("SignatureDoesNotMatch") => {
            "the secret key does not match (SignatureDoesNotMatch)".to_string()
        }
        Some(code @ ("InvalidAccessKeyId" | "NotSignedUp")) => {
            format!("the access key id is unknown ({code})")
        }
        Some("AccessDenied") => "access denied (AccessDenied)".to_string(),
        Some(code) => format!("access denied ({code})"),
        None if facts.text.contains("[530]") || facts.text.contains("Login incorrect") => {
            "login incorrect".to_string()
        }
        None => facts.cause.clone(),
    }
}

/// What went wrong with TLS on an FTP server, read from the FTP client's (suppaftp's) error
/// text: `Invalid response: [CODE] TEXT` for a refused command, `Secure error: …` for a failed
/// TLS handshake. The servers' wordings are vsftpd's, ProFTPD's, Pure-FTPd's, FileZilla's and
/// IIS's.
enum FtpTls {
    /// `AUTH TLS` was refused: the server offers no TLS. OpenDAL asks for it before the login,
    /// so the password was not sent.
    Refused(String),
    /// The server demands TLS and refused a plain login.
    Demanded(String),
    /// The server's certificate is not trusted (unknown CA, expired, another host's).
    Untrusted(String),
    /// TLS failed otherwise (a handshake, a data connection's session).
    Failed(String),
}

impl FtpTls {
    fn of(cause: &str) -> Option<FtpTls> {
        // suppaftp wraps its TLS connector's error, itself a `SecureError`, once more.
        let mut secure = None;
        let mut rest = cause;
        while let Some(inner) = rest.strip_prefix("Secure error: ") {
            secure = Some(inner);
            rest = inner;
        }
        if let Some(why) = secure {
            return Some(match why.strip_prefix("invalid peer certificate: ") {
                Some(reason) => FtpTls::Untrusted(reason.to_string()),
                None => FtpTls::Failed(why.to_string()),
            });
        }
        let answer = cause.strip_prefix("Invalid response: ")?;
        let lower = answer.to_ascii_lowercase();
        let demanded = [
            "must use encryption",
            "tls required",
            "ssl required",
            "requires tls",
            "requires ssl",
            "policy requires",
        ]
        .iter()
        .any(|m| lower.contains(m));
        // vsftpd without TLS answers AUTH with "530 Please login with USER and PASS.": the
        // only command OpenDAL sends before USER is AUTH.
        let refused = [
            "please login with user and pass",
            "auth tls",
            "auth not",
            "'auth",
            "security scheme",
            "tls",
            "ssl",
        ]
        .iter()
        .any(|m| lower.contains(m))
            || answer.starts_with("[534]")
            || answer.starts_with("[431]");
        // vsftpd's `require_ssl_reuse` (its default): a data connection must resume the control
        // connection's TLS session, which OpenDAL's client does over TLS 1.2 only.
        let reuse = lower.contains("session reuse");
        if demanded {
            Some(FtpTls::Demanded(answer.to_string()))
        } else if reuse {
            Some(FtpTls::Failed(format!(
                "{answer}; the server wants data connections to resume the TLS session, which \
                 dpipe manages over TLS 1.2 only (vsftpd: require_ssl_reuse=NO, or TLS 1.2)"
            )))
        } else if refused {
            Some(FtpTls::Refused(answer.to_string()))
        } else {
            None
        }
    }

    /// Refusals are about what may be sent to whom (exit code 4, as for refused
    /// credentials); a handshake that fails otherwise is trouble of the server.
    fn kind(&self) -> ErrorKind {
        match self {
            FtpTls::Refused(_) | FtpTls::Demanded(_) | FtpTls::Untrusted(_) => {
                ErrorKind::PermissionDenied
            }
            FtpTls::Failed(_) => ErrorKind::Other,
        }
    }

    fn message(&self) -> String {
        match self {
            FtpTls::Refused(answer) => format!(
                "the FTP server does not offer TLS (AUTH TLS was refused: {answer}), and the \
                 remote requires it (ftps:// or tls: required); the password was not sent"
            ),
            FtpTls::Demanded(answer) => format!(
                "the FTP server requires TLS and refused a plain login ({answer}); write the \
                 location as ftps://host[:port] or set the remote's tls to required"
            ),
            FtpTls::Untrusted(reason) => format!(
                "the FTP server's TLS certificate is not trusted: {reason}; trust its CA with \
                 SSL_CERT_FILE"
            ),
            FtpTls::Failed(why) => format!("TLS with the FTP server failed: {why}"),
        }
    }
}

/// Whether `e` is a failure to reach the storage (see [`unreachable`]).
pub(super) fn is_unreachable(e: &opendal::Error) -> bool {
    unreachable(e, &format!("{e:?}")).is_some()
}

/// Why the storage could not be reached, if a connection failed: refused, reset, timed out,
/// or a host name that does not resolve.
fn unreachable(e: &opendal::Error, text: &str) -> Option<String> {
    let from_os = io_errors(e).find_map(|io| {
        Some(match io.kind() {
            Io::ConnectionRefused => "connection refused",
            Io::ConnectionReset | Io::ConnectionAborted => "the connection was cut",
            Io::TimedOut => "the connection timed out",
            Io::HostUnreachable => "host unreachable",
            Io::NetworkUnreachable => "network unreachable",
            Io::AddrNotAvailable => "address not available",
            _ => return None,
        })
    });
    // Some clients (FTP's) keep the OS error to themselves and show only its text.
    let from_text = || {
        if text.contains("Connection refused") {
            Some("connection refused")
        } else if text.contains("dns error") || text.contains("failed to lookup address") {
            Some("the host name does not resolve")
        } else {
            None
        }
    };
    from_os.or_else(from_text).map(str::to_string)
}

/// The chain of sources of `e`, nearest first.
fn sources(e: &opendal::Error) -> impl Iterator<Item = &(dyn std::error::Error + 'static)> {
    std::iter::successors(e.source(), |s: &&(dyn std::error::Error + 'static)| {
        (*s).source()
    })
}

/// The I/O errors in the chain of sources of `e`.
fn io_errors(e: &opendal::Error) -> impl Iterator<Item = &std::io::Error> {
    sources(e).filter_map(|s| s.downcast_ref::<std::io::Error>())
}

/// The deepest cause of `e` in one short line: the S3 error code (and its message), else the
/// last source's text, else OpenDAL's message.
fn cause(e: &opendal::Error, s3_code: Option<&str>) -> String {
    const LONGEST: usize = 200;
    let text = match s3_code {
        Some(code) => code.to_string(),
        None => sources(e)
            .last()
            .map_or_else(|| e.message().to_string(), ToString::to_string),
    };
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(LONGEST) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}
