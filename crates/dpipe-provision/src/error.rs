//! The one error type of `dpipe-provision`: a [`ErrorKind`] a caller can act on, the AWS error
//! code when AWS answered, and a message that names the action and the resource but never a
//! secret. AWS SDK errors are translated here, once, at the boundary ([`aws`]).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// What went wrong, coarse enough for a caller to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A name or an option was refused before any AWS call was made.
    Invalid,
    /// The session could not be set up (CA bundle, region, endpoint, credentials).
    Config,
    /// The AWS endpoint could not be reached (connection refused, DNS, timeout).
    Unreachable,
    /// AWS refused the call: missing permission, unknown or wrong keys.
    AccessDenied,
    /// The bucket or user does not exist.
    NotFound,
    /// The name is taken by a resource this account does not own.
    Conflict,
    /// The bucket still holds objects.
    NotEmpty,
    /// AWS answered with another error.
    Service,
    /// AWS answered something this crate did not expect (a bug here or there).
    Internal,
}

/// A provisioning error. Its `Display` is the message; it never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    code: Option<String>,
    message: String,
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message` and no AWS error code.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The AWS error code (`AccessDenied`, `NoSuchEntity`, …) when AWS answered with one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The human message, also the `Display` form.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Appends `note` to the message (used to report a failed cleanup with the original error).
    pub(crate) fn with_note(mut self, note: &str) -> Self {
        self.message.push_str("; ");
        self.message.push_str(note);
        self
    }
}

/// Translates an AWS SDK error of `action` (the AWS API name, e.g. `CreateUser`) on `target`
/// (a bucket or user name). Service errors keep their code and AWS's message (which names
/// ARNs and actions, never key material); transport errors keep their cause chain.
pub(crate) fn aws<E>(action: &str, target: &str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().map(str::to_owned);
            let kind = kind_of(code.as_deref(), status);
            let detail = match (code.as_deref(), context.err().message()) {
                (Some(code), Some(text)) => format!("{code}: {text}"),
                (Some(code), None) => code.to_owned(),
                (None, Some(text)) => text.to_owned(),
                // An error body the SDK cannot parse (moto's IAM authorization errors).
                (None, None) => match kind {
                    ErrorKind::AccessDenied => "access denied".to_owned(),
                    ErrorKind::NotFound => "not found".to_owned(),
                    _ => "no error details".to_owned(),
                },
            };
            Error {
                kind,
                code,
                message: format!("AWS {action} on {target} failed: {detail} (HTTP {status})"),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Error::new(
            ErrorKind::Unreachable,
            format!(
                "AWS {action} on {target}: could not reach the AWS endpoint: {}",
                DisplayErrorContext(&err)
            ),
        ),
        SdkError::ConstructionFailure(_) => Error::new(
            ErrorKind::Config,
            format!(
                "AWS {action} on {target}: could not build the request \
                 (are AWS credentials and a region configured?): {}",
                DisplayErrorContext(&err)
            ),
        ),
        _ => Error::new(
            ErrorKind::Service,
            format!(
                "AWS {action} on {target} failed: {}",
                DisplayErrorContext(&err)
            ),
        ),
    }
}

/// The kind of a service error, from its code, or from the HTTP status when a bodiless
/// response (S3's HEAD) carries no code.
pub(crate) fn kind_of(code: Option<&str>, status: u16) -> ErrorKind {
    match code {
        Some("NoSuchEntity" | "NoSuchBucket" | "NotFound") => ErrorKind::NotFound,
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "Forbidden"
            | "InvalidAccessKeyId"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch",
        ) => ErrorKind::AccessDenied,
        Some("BucketAlreadyExists" | "EntityAlreadyExists") => ErrorKind::Conflict,
        Some("BucketNotEmpty") => ErrorKind::NotEmpty,
        _ => match status {
            404 => ErrorKind::NotFound,
            401 | 403 => ErrorKind::AccessDenied,
            _ => ErrorKind::Service,
        },
    }
}

/// An AWS answer that lacks a field it must have.
pub(crate) fn missing(action: &str, target: &str, field: &str) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("AWS {action} on {target} answered without {field}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(kind_of(Some("NoSuchEntity"), 404), ErrorKind::NotFound);
        assert_eq!(kind_of(Some("AccessDenied"), 403), ErrorKind::AccessDenied);
        assert_eq!(kind_of(Some("BucketNotEmpty"), 409), ErrorKind::NotEmpty);
        assert_eq!(
            kind_of(Some("BucketAlreadyExists"), 409),
            ErrorKind::Conflict
        );
        assert_eq!(kind_of(None, 404), ErrorKind::NotFound);
        assert_eq!(kind_of(None, 403), ErrorKind::AccessDenied);
        assert_eq!(kind_of(Some("Throttling"), 400), ErrorKind::Service);
    }
}
