//! S3 multipart uploads through the AWS SDK, because OpenDAL can neither list nor continue
//! one: [`Multipart`] is the SDK client of one S3 location (its endpoint, region, path style
//! and keys only — never the machine's AWS configuration, environment or instance metadata),
//! with the calls an upload needs. The upload itself, continued from a [`record`] of an
//! interrupted run, is in `upload`; what interrupted runs left, in [`crate::leftovers`].
//! Everything else on S3 (small files, reads, listings) stays with OpenDAL.

pub(crate) mod record;
mod upload;

use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, SharedCredentialsProvider, retry::RetryConfig,
    timeout::TimeoutConfig,
};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

use crate::error::{Error, ErrorKind, Result};
use crate::location::Location;
use crate::operator::{Tuning, config};
use record::{Records, UploadRecord};

/// The SDK client of one S3 location and where its uploads are recorded (no `Debug`: it
/// holds the credentials).
pub(crate) struct Multipart {
    client: Client,
    /// The endpoint as configured (empty: AWS's own); part of every record.
    endpoint: String,
    bucket: String,
    /// The pipe's root as a key prefix: `""` or `a/b/`.
    prefix: String,
    records: Records,
}

/// An upload found on the server.
pub(crate) struct ListedUpload {
    /// The object's full key.
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<SystemTime>,
}

impl Multipart {
    /// The client of `location` (S3), whose OpenDAL root is `root` (`/` or `/a/b/`).
    pub(crate) fn new(location: &Location, root: &str, tuning: &Tuning) -> Result<Multipart> {
        let endpoint = location.set("endpoint").unwrap_or_default().to_string();
        let path_style = !matches!(location.set("path_style"), Some("false" | "no" | "0"));
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(
                location.set("region").unwrap_or("us-east-1").to_string(),
            ))
            .force_path_style(path_style)
            .retry_config(RetryConfig::standard().with_max_attempts(tuning.retries as u32 + 1))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(tuning.timeout.max(tuning.io_timeout))
                    .build(),
            );
        if !endpoint.is_empty() {
            conf = conf.endpoint_url(&endpoint);
        }
        match (
            location.cred("aws_access_key_id"),
            location.cred("aws_secret_access_key"),
        ) {
            (Some(id), Some(secret)) => {
                let token = location.cred("aws_session_token").map(str::to_string);
                conf = conf.credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                    id,
                    secret,
                    token,
                    None,
                    "dpipe-location",
                )));
            }
            (None, None) => {}
            _ => {
                return Err(config(
                    "s3: give both aws_access_key_id and aws_secret_access_key, or neither",
                ));
            }
        }
        Ok(Multipart {
            client: Client::from_conf(conf.build()),
            endpoint,
            bucket: location.location.clone(),
            prefix: root.trim_start_matches('/').to_string(),
            records: Records::new(tuning.upload_records.clone()),
        })
    }

    /// The full key of `key` (relative to the pipe's root).
    pub(crate) fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// `full` (a full key) relative to the pipe's root.
    pub(crate) fn relative<'a>(&self, full: &'a str) -> &'a str {
        full.strip_prefix(&self.prefix).unwrap_or(full)
    }

    /// The recorded upload of `key` (full key), if any.
    pub(crate) fn record_of(&self, key: &str) -> Option<UploadRecord> {
        self.records.load(&self.endpoint, &self.bucket, key)
    }

    /// Every recorded upload under the pipe's root.
    pub(crate) fn recorded(&self) -> Vec<UploadRecord> {
        self.records.all(&self.endpoint, &self.bucket, &self.prefix)
    }

    /// Starts an upload of `key` (full key) carrying `metadata`; returns its id.
    async fn create(&self, key: &str, metadata: (&str, &str)) -> Result<String> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .metadata(metadata.0, metadata.1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .send()
            .await
            .map_err(|e| sdk_error(e, "put", key))?;
        out.upload_id().map(str::to_string).ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                "put failed: the S3 server gave no upload id",
            )
        })
    }

    /// Uploads part `number` of upload `id` of `key`; returns its ETag (unquoted) and CRC32C.
    async fn upload_part(
        &self,
        key: &str,
        id: &str,
        number: i32,
        bytes: bytes::Bytes,
    ) -> Result<(String, Option<String>)> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32C)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| sdk_error(e, "put", key))?;
        let etag = out.e_tag().map(unquote).ok_or_else(|| {
            Error::new(
                ErrorKind::Other,
                "put failed: the S3 server gave a part no ETag",
            )
        })?;
        Ok((etag, out.checksum_crc32_c().map(str::to_string)))
    }

    /// The parts upload `id` of `key` holds: number, size and (where the server lists it)
    /// ETag; `None` when the server answered in a form the SDK cannot read (moto's
    /// `ListPartsResponse`). An upload that no longer exists is an [`ErrorKind::NotFound`]
    /// error.
    async fn list_parts(
        &self,
        key: &str,
        id: &str,
    ) -> Result<Option<Vec<(i32, u64, Option<String>)>>> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(id)
                .set_part_number_marker(marker.take())
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                Err(SdkError::ServiceError(e))
                    if e.err().code().is_none() && e.raw().status().is_success() =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(sdk_error(e, "list parts", key)),
            };
            for part in out.parts() {
                if let Some(number) = part.part_number() {
                    let size = part.size().unwrap_or(0).max(0) as u64;
                    parts.push((number, size, part.e_tag().map(unquote)));
                }
            }
            match (out.is_truncated(), out.next_part_number_marker()) {
                (Some(true), Some(next)) => marker = Some(next.to_string()),
                _ => return Ok(Some(parts)),
            }
        }
    }

    /// Completes upload `id` of `key` with `parts` (in order).
    async fn complete(&self, key: &str, id: &str, parts: Vec<CompletedPart>) -> Result<()> {
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(e, "put", key))
    }

    /// Aborts upload `id` of `key` (full key) and removes its record; an upload already gone
    /// is fine.
    pub(crate) async fn abort(&self, key: &str, id: &str) -> Result<()> {
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(e, "abort upload", key));
        match aborted {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => {
                if self.record_of(key).is_some_and(|r| r.upload_id == id) {
                    self.records.remove(&self.endpoint, &self.bucket, key);
                }
                Ok(())
            }
        }
    }

    /// The size and `dpipe-sha256` metadata of the object at `key` (full key).
    async fn head(&self, key: &str, metadata_key: &str) -> Result<(u64, Option<String>)> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error(e, "stat", key))?;
        let size = out.content_length().unwrap_or(0).max(0) as u64;
        let sha = out
            .metadata()
            .and_then(|m| m.get(metadata_key))
            .map(|s| s.to_ascii_lowercase());
        Ok((size, sha))
    }

    /// The uploads in progress under the pipe's root, as the server lists them; `None` when
    /// the server does not list uploads, or not to these credentials.
    pub(crate) async fn list_uploads(&self) -> Result<Option<Vec<ListedUpload>>> {
        let mut uploads = Vec::new();
        let (mut key_marker, mut id_marker) = (None, None);
        loop {
            let listed = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(&self.prefix)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await;
            let out = match listed {
                Ok(out) => out,
                // s3s-fs and `dpipe serve` do not list uploads; on AWS the bucket-level
                // `s3:ListBucketMultipartUploads` may not be granted (dpipe's provisioned users
                // lack it): this machine's records are what is left to go by.
                Err(e) if matches!(e.code(), Some("NotImplemented" | "AccessDenied")) => {
                    return Ok(None);
                }
                Err(e) => return Err(sdk_error(e, "list uploads", &self.prefix)),
            };
            for upload in out.uploads() {
                if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                    uploads.push(ListedUpload {
                        key: key.to_string(),
                        upload_id: id.to_string(),
                        initiated: upload
                            .initiated()
                            .and_then(|t| SystemTime::try_from(*t).ok()),
                    });
                }
            }
            if out.is_truncated() != Some(true) {
                return Ok(Some(uploads));
            }
            key_marker = out.next_key_marker().map(str::to_string);
            id_marker = out.next_upload_id_marker().map(str::to_string);
            if key_marker.is_none() {
                return Ok(Some(uploads));
            }
        }
    }
}

/// An ETag without its quotes, lowercase.
fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_ascii_lowercase()
}

/// An SDK error during `operation` on `key`, in words (no secret: the SDK's messages hold
/// none), with the kind its S3 error code says. A server out of reach (a connection refused,
/// cut or timed out) carries an I/O error of that kind, so that
/// [`Error::is_unreachable`] sees it and a run waits the server out as it does for OpenDAL's
/// calls.
fn sdk_error<E>(e: SdkError<E, HttpResponse>, operation: &'static str, key: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    use std::io::ErrorKind as Io;
    let unreachable = |io: Io, why: String| {
        let cause = opendal::Error::new(opendal::ErrorKind::Unexpected, why.clone())
            .set_source(std::io::Error::new(io, why.clone()));
        Error::new(
            ErrorKind::Transient,
            format!("{operation} failed: cannot reach the S3 server: {why}"),
        )
        .with("operation", operation)
        .with("path", key)
        .with_source(cause)
    };
    let (kind, what) = match &e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let status = format!("HTTP {}", service.raw().status().as_u16());
            let code = err.code().unwrap_or(&status);
            let kind = match code {
                "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
                    ErrorKind::PermissionDenied
                }
                "ExpiredToken" | "TokenRefreshRequired" => ErrorKind::ExpiredCredentials,
                "NoSuchBucket" => ErrorKind::LocationNotFound,
                "NoSuchUpload" | "NoSuchKey" | "NotFound" => ErrorKind::NotFound,
                "SlowDown" | "InternalError" | "ServiceUnavailable" | "RequestTimeout" => {
                    ErrorKind::Transient
                }
                _ => ErrorKind::Other,
            };
            let message = match err.message() {
                Some(message) => message.to_string(),
                // No S3 error: the SDK could not read the answer.
                None => format!("{}", aws_sdk_s3::error::DisplayErrorContext(err)),
            };
            (
                kind,
                format!("the S3 server answered {code} {message}")
                    .trim_end()
                    .to_string(),
            )
        }
        SdkError::TimeoutError(_) => {
            return unreachable(Io::TimedOut, "the connection timed out".into());
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            return unreachable(Io::TimedOut, "the connection timed out".into());
        }
        SdkError::DispatchFailure(failure) if failure.is_io() => {
            let text = format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e));
            return if text.contains("Connection refused") {
                unreachable(Io::ConnectionRefused, "connection refused".into())
            } else {
                unreachable(Io::ConnectionReset, "the connection was cut".into())
            };
        }
        _ => (
            ErrorKind::Other,
            format!("{}", aws_sdk_s3::error::DisplayErrorContext(&e)),
        ),
    };
    Error::new(kind, format!("{operation} failed: {what}"))
        .with("operation", operation)
        .with("path", key)
}

/// How long ago `when` was (zero for a time in the future).
pub(crate) fn age_of(when: SystemTime) -> Duration {
    SystemTime::now().duration_since(when).unwrap_or_default()
}
