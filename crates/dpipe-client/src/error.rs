//! The client's error type: the repo API's own error kinds (identical whether the answer came
//! over HTTP or from local mode), plus what can only go wrong on the client's side.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request was refused as malformed (HTTP 400).
    Invalid,
    /// No or a bad token (HTTP 401).
    Unauthenticated,
    /// Not allowed (HTTP 403).
    Forbidden,
    /// No such resource (HTTP 404).
    NotFound,
    /// The request was too large (HTTP 413).
    TooLarge,
    /// Too many failed attempts (logins) in a short time; retry later (HTTP 429).
    TooManyRequests,
    /// The server or local database failed (HTTP 5xx).
    Server,
    /// The server could not be reached or answered something unreadable.
    Transport,
    /// The client's own configuration (profile, files) is wrong.
    Config,
    /// An encrypted value cannot be decrypted: the profile lacks the key it was encrypted
    /// with, or the value was damaged or moved to another field or resource.
    Key,
    /// Reading or writing a local file or folder (the file repo, the sync state) failed; the
    /// message names the path.
    Io,
    /// A pull or push was refused before any transfer because it would lose a change (a
    /// conflict, or remote changes not yet pulled); the message lists the paths.
    Conflict,
}

/// A client-side error: kind, the request field it is about (if any), a one-line message with
/// no secret in it, and optionally the detail behind it (what the storage answered, where):
/// too much for the message, wanted when debugging.
pub struct Error {
    kind: ErrorKind,
    field: Option<String>,
    message: String,
    detail: Option<String>,
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            field: None,
            message: message.into(),
            detail: None,
        }
    }

    /// Sets the detail behind the message (no secret in it either).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the field the error is about.
    pub fn with_field(mut self, field: Option<String>) -> Error {
        self.field = field;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The request field the message is about.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The message without the field.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The detail behind the message, when there is more to tell than the message says.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl From<dpipe_core::Error> for Error {
    fn from(err: dpipe_core::Error) -> Error {
        use dpipe_core::ErrorKind as Core;
        let kind = match err.kind() {
            Core::Invalid => ErrorKind::Invalid,
            Core::Unauthenticated => ErrorKind::Unauthenticated,
            Core::Forbidden => ErrorKind::Forbidden,
            Core::NotFound => ErrorKind::NotFound,
            Core::TooLarge => ErrorKind::TooLarge,
            Core::TooManyRequests => ErrorKind::TooManyRequests,
            Core::Internal => ErrorKind::Server,
        };
        Error::new(kind, err.message()).with_field(err.field().map(String::from))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) if field != "non_field_errors" => write!(f, "{field}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}, {self})", self.kind)
    }
}

impl std::error::Error for Error {}
