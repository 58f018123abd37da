//! The gate: the one question the object store asks about every request — whose key is
//! this, and may it touch that? The store holds no permission rule of its own; whoever runs
//! it (the repo API, over its registry) implements [`Gate`], and [`crate::access`] asks it
//! before anything is read or written.

use std::fmt;

/// What a request wants to touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// One object, by key (as the client sent it: untrusted, any UTF-8).
    Object(&'a str),
    /// A listing of the keys under a prefix; `""` is the whole bucket.
    Listing(&'a str),
    /// The bucket itself (HeadBucket).
    Bucket,
}

/// A request, as the gate sees it. Built only after s3s checked the signature, so
/// `access_key` really signed it; `session_token` is what the client sent (the signature
/// covers it, but only the gate can tell whether it belongs to the key).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GateRequest<'a> {
    /// The access key id that signed the request.
    pub access_key: &'a str,
    /// The `x-amz-security-token` header (or `X-Amz-Security-Token` of a presigned URL).
    pub session_token: Option<&'a str>,
    /// The bucket named by the request.
    pub bucket: &'a str,
    /// What in the bucket the request touches.
    pub target: Target<'a>,
    /// Whether the request changes anything (put, delete, any multipart call).
    pub write: bool,
}

impl fmt::Debug for GateRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The session token is a credential: never printed.
        f.debug_struct("GateRequest")
            .field("access_key", &self.access_key)
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .field("bucket", &self.bucket)
            .field("target", &self.target)
            .field("write", &self.write)
            .finish()
    }
}

/// Why the gate said no. Each becomes an S3 error: [`Refusal::UnknownKey`] →
/// `InvalidAccessKeyId` (403), [`Refusal::Expired`] → `ExpiredToken` (400, as AWS answers),
/// [`Refusal::Denied`] → `AccessDenied` (403) with the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such access key (or the session token does not belong to it).
    UnknownKey,
    /// The key existed but has expired.
    Expired,
    /// The key may not do this; the text is sent to the client.
    Denied(String),
}

/// Decides who may do what. Both calls may block (the repo API's implementation reads
/// SQLite): the crate calls them on Tokio's blocking pool.
pub trait Gate: Send + Sync + 'static {
    /// The secret of `access_key`, for s3s to check the SigV4 signature.
    fn secret(&self, access_key: &str) -> Result<String, Refusal>;

    /// May this request go ahead?
    fn authorize(&self, request: &GateRequest<'_>) -> Result<(), Refusal>;
}

impl From<Refusal> for s3s::S3Error {
    fn from(refusal: Refusal) -> s3s::S3Error {
        use s3s::{S3Error, S3ErrorCode};
        match refusal {
            Refusal::UnknownKey => S3Error::with_message(
                S3ErrorCode::InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records.",
            ),
            Refusal::Expired => S3Error::with_message(
                S3ErrorCode::ExpiredToken,
                "The provided token has expired.",
            ),
            Refusal::Denied(text) => S3Error::with_message(S3ErrorCode::AccessDenied, text),
        }
    }
}
