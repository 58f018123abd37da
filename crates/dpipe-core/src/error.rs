//! The error type of dpipe's domain: a kind that decides how callers react (and which HTTP
//! status or exit code it becomes), an optional field the message is about (so the server can
//! answer Django-REST-Framework-style `{"field": ["message"]}` bodies the d6tpipe client
//! matches on), and a human message that never contains a secret.

use std::fmt;

/// What went wrong, coarse enough for a caller to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule (HTTP 400).
    Invalid,
    /// No or an unknown token where one is needed (HTTP 401).
    Unauthenticated,
    /// The caller is known but may not do this (HTTP 403).
    Forbidden,
    /// The resource does not exist (HTTP 404).
    NotFound,
    /// The request body is larger than accepted (HTTP 413).
    TooLarge,
    /// Too many attempts in a short time, e.g. failed logins; retry later (HTTP 429).
    TooManyRequests,
    /// Anything else: storage failures, bugs (HTTP 500).
    Internal,
}

impl ErrorKind {
    /// A stable lower-case name for logs and the audit trail, e.g. `forbidden`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::TooManyRequests => "too_many_requests",
            ErrorKind::Internal => "internal",
        }
    }
}

/// A domain error: kind, optional field, message.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    field: Option<String>,
    message: String,
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// DRF's wording for a unique-constraint violation; the d6tpipe client matches on it.
pub const MUST_BE_UNIQUE: &str = "This field must be unique.";
/// DRF's wording for a missing resource; the d6tpipe client matches on `Not found`.
pub const NOT_FOUND: &str = "Not found.";
/// DRF's wording for a refused action.
pub const NO_PERMISSION: &str = "You do not have permission to perform this action.";
/// DRF's wording for a missing token.
pub const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
/// DRF's wording for a missing required field.
pub const REQUIRED: &str = "This field is required.";

impl Error {
    /// An error of `kind` with `message`, about no field in particular.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            field: None,
            message: message.into(),
        }
    }

    /// A validation error about one field of the request.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Invalid,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A validation error about the request as a whole.
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Invalid, message)
    }

    /// `field` is required but missing.
    pub fn required(field: impl Into<String>) -> Self {
        Error::invalid_field(field, REQUIRED)
    }

    /// `field` must be unique and the value is taken.
    pub fn not_unique(field: impl Into<String>) -> Self {
        Error::invalid_field(field, MUST_BE_UNIQUE)
    }

    /// The resource does not exist.
    pub fn not_found() -> Self {
        Error::new(ErrorKind::NotFound, NOT_FOUND)
    }

    /// The caller may not do this, with DRF's standard text.
    pub fn forbidden() -> Self {
        Error::new(ErrorKind::Forbidden, NO_PERMISSION)
    }

    /// The caller may not do this, with a specific reason.
    pub fn forbidden_because(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Forbidden, message)
    }

    /// A token is needed and none was given.
    pub fn unauthenticated() -> Self {
        Error::new(ErrorKind::Unauthenticated, NOT_AUTHENTICATED)
    }

    /// An internal failure; `message` must not contain secrets.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// Re-attaches a field name (used when re-reading an error from an HTTP body).
    pub fn with_field(mut self, field: Option<String>) -> Self {
        self.field = field;
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The request field the message is about, if any.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The human message, without the field.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}, {self})", self.kind)
    }
}

impl std::error::Error for Error {}
