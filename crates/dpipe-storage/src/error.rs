//! The one error type of dpipe-storage: a [`ErrorKind`] callers branch on, a message for people,
//! and context (operation, path, protocol) — never a secret. OpenDAL's and the OS's errors are
//! translated here, once, at the boundary.

use std::fmt;

/// What went wrong, at the granularity a caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The location or its settings/credentials are incomplete or invalid.
    Config,
    /// The storage refused the credentials (or no credentials were given).
    PermissionDenied,
    /// The credentials were temporary and have expired (S3 `ExpiredToken`, `InvalidToken`,
    /// `TokenRefreshRequired`): renewing them may cure it.
    ExpiredCredentials,
    /// The object (or local file) does not exist.
    NotFound,
    /// The storage cannot do this (a protocol gap).
    Unsupported,
    /// A key from storage would land outside the target folder (`..`, absolute, `\`, NUL).
    UnsafeKey,
    /// Transferred bytes do not match the source's hash or size.
    Integrity,
    /// Network, timeout or server trouble that retries did not cure.
    Transient,
    /// Local file system trouble.
    Io,
    /// Anything else.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Config => "invalid storage configuration",
            Self::PermissionDenied => "permission denied",
            Self::ExpiredCredentials => "credentials expired",
            Self::NotFound => "not found",
            Self::Unsupported => "unsupported",
            Self::UnsafeKey => "unsafe object key",
            Self::Integrity => "integrity check failed",
            Self::Transient => "storage unavailable",
            Self::Io => "local i/o error",
            Self::Other => "storage error",
        })
    }
}

/// A storage error: kind + message + context (+ the source's text, already secret-free).
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Vec<(&'static str, String)>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            context: Vec::new(),
            source: None,
        }
    }

    /// Adds a `key: value` pair of context (an operation, a path; never a secret).
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.context.push((key, value.into()));
        self
    }

    fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The context pairs, in the order they were added.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    /// Translates an OpenDAL error during `operation` on `path`.
    pub(crate) fn from_opendal(e: opendal::Error, operation: &'static str, path: &str) -> Self {
        use opendal::ErrorKind as K;
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
        // OpenDAL's message of a failed login carries the server's answer, e.g. FTP's 530 or
        // S3's InvalidAccessKeyId/SignatureDoesNotMatch: lift those to PermissionDenied.
        let text = format!("{e:?}");
        let kind = if looks_like_expired_token(&text) {
            ErrorKind::ExpiredCredentials
        } else if kind == ErrorKind::Other && text.contains("unexpected data size") {
            // A ranged read that came back short: the object shrank since it was listed.
            ErrorKind::Integrity
        } else if text.contains("BadDigest") {
            // S3 refused an upload whose bytes do not match the checksum sent with them.
            ErrorKind::Integrity
        } else if kind == ErrorKind::Other && looks_like_auth_failure(&text) {
            ErrorKind::PermissionDenied
        } else {
            kind
        };
        Error::new(kind, format!("{operation} failed: {kind}"))
            .with("operation", operation)
            .with("path", path)
            .with_source(e)
    }

    /// Translates an error of a read stream of `key`: OpenDAL's own errors come wrapped in
    /// an I/O error; anything else is a local I/O error on `local`.
    pub(crate) fn from_stream(e: std::io::Error, key: &str, local: &std::path::Path) -> Self {
        if !e
            .get_ref()
            .is_some_and(|inner| inner.is::<opendal::Error>())
        {
            return Self::from_io(e, "get", local);
        }
        match e
            .into_inner()
            .map(|inner| inner.downcast::<opendal::Error>())
        {
            Some(Ok(dal)) => Self::from_opendal(*dal, "get", key),
            _ => unreachable!("checked to be an OpenDAL error just above"),
        }
    }

    /// Translates a local I/O error during `operation` on `path`.
    pub(crate) fn from_io(
        e: std::io::Error,
        operation: &'static str,
        path: &std::path::Path,
    ) -> Self {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        };
        Error::new(kind, format!("{operation} failed: {e}"))
            .with("operation", operation)
            .with("local", path.display().to_string())
            .with_source(e)
    }
}

/// OpenDAL's S3 error message is the parsed error body, `S3Error { code: "ExpiredToken", .. }`
/// (HTTP 400 on AWS; 403 on some S3 servers): the codes of an expired or unusable session
/// token. `InvalidAccessKeyId` and `SignatureDoesNotMatch` are not among them.
fn looks_like_expired_token(text: &str) -> bool {
    const CODES: [&str; 3] = [
        "code: \"ExpiredToken\"",
        "code: \"InvalidToken\"",
        "code: \"TokenRefreshRequired\"",
    ];
    CODES.iter().any(|c| text.contains(c))
}

fn looks_like_auth_failure(text: &str) -> bool {
    const MARKERS: [&str; 8] = [
        "530",
        "Login incorrect",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "Permission denied",
        "authentication",
        "Authentication",
    ];
    MARKERS.iter().any(|m| text.contains(m))
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for (k, v) in &self.context {
            write!(f, ", {k}: {v}")?;
        }
        if let Some(source) = &self.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}
