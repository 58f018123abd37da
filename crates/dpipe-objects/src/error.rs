//! The crate's one error type: a kind (what a caller may act on, and the S3 error code it
//! becomes), a message for people, and the foreign error behind it. Foreign errors (SQLite,
//! I/O) are translated here once; the S3 face maps kinds to S3 codes in one place
//! ([`From<Error> for S3Error`]).

use std::fmt;

use s3s::{S3Error, S3ErrorCode};

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarsely: each kind answers one S3 error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bucket does not exist (`NoSuchBucket`, 404).
    NoSuchBucket,
    /// The key does not exist (`NoSuchKey`, 404).
    NoSuchKey,
    /// The multipart upload does not exist, or belongs to another key (`NoSuchUpload`, 404).
    NoSuchUpload,
    /// A part named in a completion is missing or has another ETag (`InvalidPart`, 400).
    InvalidPart,
    /// The parts of a completion are not in ascending order (`InvalidPartOrder`, 400).
    InvalidPartOrder,
    /// The bytes received do not match the digest sent with them (`BadDigest`, 400).
    BadDigest,
    /// A `Content-MD5` that is not the base64 of 16 bytes (`InvalidDigest`, 400).
    InvalidDigest,
    /// A chunk of a streaming-signed body has a wrong signature (`SignatureDoesNotMatch`, 403).
    BadSignature,
    /// The requested range is outside the object (`InvalidRange`, 416).
    InvalidRange,
    /// A conditional request's condition failed (`PreconditionFailed`, 412).
    PreconditionFailed,
    /// A conditional GET whose object has not changed (`NotModified`, 304).
    NotModified,
    /// A malformed or unsupported argument (`InvalidArgument`, 400).
    InvalidArgument,
    /// The request body ended early or could not be read (`IncompleteBody`, 400).
    IncompleteBody,
    /// The store folder is used by another process.
    Locked,
    /// The store folder or index is not what this crate wrote.
    Corrupt,
    /// Reading or writing the folder failed.
    Io,
    /// The index (SQLite) failed.
    Database,
    /// Anything else that should not happen (`InternalError`, 500).
    Internal,
}

/// An error of the object store: kind, message and the error behind it.
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error with `source` as its cause.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        self.source = Some(source.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// An I/O failure while `doing` something.
    pub(crate) fn io(doing: impl fmt::Display, source: std::io::Error) -> Error {
        Error::new(ErrorKind::Io, format!("{doing}: {source}")).with_source(source)
    }

    /// A failure of the index while `doing` something.
    pub(crate) fn db(doing: impl fmt::Display, source: rusqlite::Error) -> Error {
        Error::new(ErrorKind::Database, format!("{doing}: {source}")).with_source(source)
    }

    /// A task of the blocking pool that panicked or was cancelled.
    pub(crate) fn join(source: tokio::task::JoinError) -> Error {
        Error::new(
            ErrorKind::Internal,
            format!("a background task failed: {source}"),
        )
        .with_source(source)
    }

    /// A copy that keeps kind and message (for replying the same failure to many callers).
    pub(crate) fn duplicate(&self) -> Error {
        Error::new(self.kind, self.message.clone())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
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
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for S3Error {
    fn from(e: Error) -> S3Error {
        let code = match e.kind {
            ErrorKind::NoSuchBucket => S3ErrorCode::NoSuchBucket,
            ErrorKind::NoSuchKey => S3ErrorCode::NoSuchKey,
            ErrorKind::NoSuchUpload => S3ErrorCode::NoSuchUpload,
            ErrorKind::InvalidPart => S3ErrorCode::InvalidPart,
            ErrorKind::InvalidPartOrder => S3ErrorCode::InvalidPartOrder,
            ErrorKind::BadDigest => S3ErrorCode::BadDigest,
            ErrorKind::InvalidDigest => S3ErrorCode::InvalidDigest,
            ErrorKind::BadSignature => S3ErrorCode::SignatureDoesNotMatch,
            ErrorKind::InvalidRange => S3ErrorCode::InvalidRange,
            ErrorKind::PreconditionFailed => S3ErrorCode::PreconditionFailed,
            ErrorKind::NotModified => S3ErrorCode::NotModified,
            ErrorKind::InvalidArgument => S3ErrorCode::InvalidArgument,
            ErrorKind::IncompleteBody => S3ErrorCode::IncompleteBody,
            ErrorKind::Locked
            | ErrorKind::Corrupt
            | ErrorKind::Io
            | ErrorKind::Database
            | ErrorKind::Internal => {
                // The client learns only that the server failed; the details go to the log.
                tracing::error!(target: "dpipe::objects", error = %e, "internal error");
                return S3Error::with_message(
                    S3ErrorCode::InternalError,
                    "We encountered an internal error. Please try again.",
                );
            }
        };
        S3Error::with_message(code, e.message)
    }
}
