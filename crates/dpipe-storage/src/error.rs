//! The one error type of dpipe-storage: a [`ErrorKind`] callers branch on, a one-line message
//! for people that says what is wrong (and, where it helps, what to do), and the detail behind
//! it (context pairs and the source error) for whoever asks — never a secret. OpenDAL's and the
//! OS's errors are translated here, once, at the boundary; the wording of OpenDAL's is in
//! [`words`].

mod words;
#[cfg(test)]
mod words_tests;

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
    /// The location itself does not exist: an S3 bucket, the folder of an `fs` remote.
    LocationNotFound,
    /// The storage cannot do this (a protocol gap).
    Unsupported,
    /// A key from storage would land outside the target folder (`..`, absolute, `\`, NUL).
    UnsafeKey,
    /// Transferred bytes do not match the source's hash or size.
    Integrity,
    /// Network, timeout or server trouble that retries did not cure.
    Transient,
    /// The SFTP server presented a host key other than the one pinned or recorded for it:
    /// another server, or the same one with a new key; nothing was sent to it.
    HostKeyChanged,
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
            Self::LocationNotFound => "location not found",
            Self::Unsupported => "unsupported",
            Self::UnsafeKey => "unsafe object key",
            Self::Integrity => "integrity check failed",
            Self::Transient => "storage unavailable",
            Self::HostKeyChanged => "host key changed",
            Self::Io => "local i/o error",
            Self::Other => "storage error",
        })
    }
}

/// A storage error: kind + message + context (+ the source, already secret-free). `Display`
/// shows the message only; [`Error::detail`] adds the context and the source.
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

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
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

    /// Whether the storage could not be reached at all — a connection refused, cut or timed
    /// out, a host name that does not resolve — rather than reached and answering with an
    /// error: what a run waits out for a while before it gives up (see
    /// [`Tuning::give_up_after`](crate::Tuning::give_up_after)).
    pub fn is_unreachable(&self) -> bool {
        self.source
            .as_deref()
            .and_then(|s| s.downcast_ref::<opendal::Error>())
            .is_some_and(words::is_unreachable)
    }

    /// The context pairs, in the order they were added.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    /// What the message leaves out, one item per line: the context pairs, then the whole
    /// chain of sources. What `RUST_LOG=debug` users see, and what a bug report needs.
    pub fn detail(&self) -> String {
        let context = self
            .context
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: {v}"));
        // OpenDAL's `Debug` lists its context (URI, HTTP status) and its own source.
        let source = self.source.iter().map(|s| format!("caused by: {s:?}"));
        context.chain(source).collect::<Vec<_>>().join("\n")
    }

    /// Translates an OpenDAL error during `operation` on `path`.
    pub(crate) fn from_opendal(e: opendal::Error, operation: &'static str, path: &str) -> Self {
        // A service of dpipe's own (SFTP) has already said it in words.
        let own = std::iter::successors(std::error::Error::source(&e), |s| s.source())
            .find_map(|s| s.downcast_ref::<Error>());
        if let Some(own) = own {
            let (kind, message) = (own.kind, own.message.clone());
            return Error::new(kind, message)
                .with("operation", operation)
                .with("path", path)
                .with_source(e);
        }
        let words::Described { kind, message } = words::describe(&e, operation, path);
        Error::new(kind, message)
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
        Error::new(kind, format!("{operation} {} failed: {e}", path.display()))
            .with("operation", operation)
            .with("local", path.display().to_string())
            .with_source(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}
