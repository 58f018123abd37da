//! The gate: the one question the object store asks about every request — whose key is
//! this, and may it touch that? The store holds no permission rule of its own; whoever runs
//! it (the repo API, over its registry) implements [`Gate`], and `access` asks it before
//! anything is read or written. The questions and answers are dpipe-core's
//! ([`StorageRequest`], [`StorageRefusal`]), the registry's own vocabulary.

pub use dpipe_core::managed::{StorageRefusal, StorageRequest, StorageTarget};
use s3s::{S3Error, S3ErrorCode};

/// Decides who may do what. Both calls may block (the repo API's implementation reads
/// SQLite): the crate calls them on Tokio's blocking pool.
pub trait Gate: Send + Sync + 'static {
    /// The secret of `access_key`, for s3s to check the SigV4 signature.
    fn secret(&self, access_key: &str) -> Result<String, StorageRefusal>;

    /// May this request go ahead?
    fn authorize(&self, request: &StorageRequest<'_>) -> Result<(), StorageRefusal>;
}

/// The S3 error a refusal becomes: [`StorageRefusal::UnknownKey`] → `InvalidAccessKeyId`
/// (403), [`StorageRefusal::Expired`] → `ExpiredToken` (400, as AWS answers),
/// [`StorageRefusal::Denied`] → `AccessDenied` (403) with the text.
pub(crate) fn s3_error(refusal: StorageRefusal) -> S3Error {
    match refusal {
        StorageRefusal::UnknownKey => S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        StorageRefusal::Expired => {
            S3Error::with_message(S3ErrorCode::ExpiredToken, "The provided token has expired.")
        }
        StorageRefusal::Denied(text) => S3Error::with_message(S3ErrorCode::AccessDenied, text),
    }
}
