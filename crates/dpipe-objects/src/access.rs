//! The gate wired into s3s: [`GateAuth`] gives s3s the secret of a request's key (s3s then
//! checks the SigV4 signature), and [`GateAccess`] decides, before any byte is read or
//! written, whether the request may run.
//!
//! [`GateAccess::check`] runs first for every request and refuses anonymous requests and
//! every operation outside [`ALLOWED`] — an allow-list, so that an operation without a hook
//! below can never pass. Each allowed operation's hook then maps its typed input to the
//! [`StorageTarget`]s it touches and asks [`Gate::authorize`]. This module holds no rule of its
//! own: it only says what each operation touches.

use std::sync::Arc;

use hyper::{HeaderMap, Uri};
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{Credentials, S3Auth, SecretKey};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use crate::gate::{Gate, StorageRequest, StorageTarget, s3_error};
use crate::server::RequestLog;

/// The operations the store serves; everything else is refused in [`GateAccess::check`].
pub const ALLOWED: [&str; 13] = [
    "PutObject",
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "DeleteObjects",
    "ListObjects",
    "ListObjectsV2",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
    "ListParts",
    "HeadBucket",
];

/// s3s's [`S3Auth`] over a [`Gate`]: the secret of an access key, for the signature check.
pub(crate) struct GateAuth {
    gate: Arc<dyn Gate>,
}

impl GateAuth {
    pub(crate) fn new(gate: Arc<dyn Gate>) -> GateAuth {
        GateAuth { gate }
    }
}

#[async_trait::async_trait]
impl S3Auth for GateAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let gate = Arc::clone(&self.gate);
        let key = access_key.to_owned();
        let secret = tokio::task::spawn_blocking(move || gate.secret(&key))
            .await
            .map_err(|e| S3Error::with_source(S3ErrorCode::InternalError, Box::new(e)))?
            .map_err(s3_error)?;
        Ok(SecretKey::from(secret))
    }
}

/// s3s's [`S3Access`] over a [`Gate`] (see the module doc).
pub(crate) struct GateAccess {
    gate: Arc<dyn Gate>,
}

impl GateAccess {
    pub(crate) fn new(gate: Arc<dyn Gate>) -> GateAccess {
        GateAccess { gate }
    }
}

/// What a target is, owned (to cross into the blocking pool).
enum Touch {
    Object(String),
    Listing(String),
    Bucket,
}

/// The session token: the `x-amz-security-token` header, or the `X-Amz-Security-Token`
/// parameter of a presigned URL.
fn session_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(token) = headers.get("x-amz-security-token") {
        return token.to_str().ok().map(str::to_owned);
    }
    uri.query()?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.eq_ignore_ascii_case("X-Amz-Security-Token").then(|| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

impl GateAccess {
    /// Asks the gate about each of `touches`; the first refusal refuses the request.
    async fn authorize<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        touches: Vec<Touch>,
        write: bool,
    ) -> S3Result<()> {
        let Some(Credentials { access_key, .. }) = &req.credentials else {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Anonymous access is not allowed",
            ));
        };
        let (access_key, bucket) = (access_key.clone(), bucket.to_owned());
        let token = session_token(&req.headers, &req.uri);
        let gate = Arc::clone(&self.gate);
        tokio::task::spawn_blocking(move || {
            for touch in &touches {
                let target = match touch {
                    Touch::Object(key) => StorageTarget::Object(key),
                    Touch::Listing(prefix) => StorageTarget::Listing(prefix),
                    Touch::Bucket => StorageTarget::Bucket,
                };
                gate.authorize(&StorageRequest {
                    access_key: &access_key,
                    session_token: token.as_deref(),
                    bucket: &bucket,
                    target,
                    write,
                })
                .map_err(s3_error)?;
            }
            Ok::<_, S3Error>(())
        })
        .await
        .map_err(|e| S3Error::with_source(S3ErrorCode::InternalError, Box::new(e)))?
    }

    async fn object<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        write: bool,
    ) -> S3Result<()> {
        self.authorize(req, bucket, vec![Touch::Object(key.to_owned())], write)
            .await
    }

    async fn listing<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        prefix: Option<&str>,
    ) -> S3Result<()> {
        let prefix = prefix.unwrap_or("");
        if let Some(log) = req.extensions.get::<RequestLog>() {
            log.set_target(prefix);
        }
        self.authorize(req, bucket, vec![Touch::Listing(prefix.to_owned())], false)
            .await
    }
}

#[async_trait::async_trait]
impl S3Access for GateAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = cx.s3_op().name().to_owned();
        let (bucket, key) = match cx.s3_path() {
            s3s::path::S3Path::Root => (None, None),
            s3s::path::S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            s3s::path::S3Path::Object { bucket, key } => {
                (Some(bucket.to_string()), Some(key.to_string()))
            }
        };
        if let Some(log) = cx.extensions_mut().get::<RequestLog>() {
            log.set_operation(&op, bucket.as_deref(), key.as_deref());
        }
        if cx.credentials().is_none() {
            return Err(S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Anonymous access is not allowed",
            ));
        }
        if ALLOWED.contains(&op.as_str()) {
            return Ok(());
        }
        Err(match op.as_str() {
            "CreateBucket" | "DeleteBucket" | "ListBuckets" => S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "Buckets are managed by the server",
            ),
            _ => S3Error::with_message(
                S3ErrorCode::NotImplemented,
                format!("{op} is not supported by this server"),
            ),
        })
    }

    async fn put_object(&self, req: &mut S3Request<PutObjectInput>) -> S3Result<()> {
        self.object(req, &req.input.bucket, &req.input.key, true)
            .await
    }

    async fn get_object(&self, req: &mut S3Request<GetObjectInput>) -> S3Result<()> {
        self.object(req, &req.input.bucket, &req.input.key, false)
            .await
    }

    async fn head_object(&self, req: &mut S3Request<HeadObjectInput>) -> S3Result<()> {
        self.object(req, &req.input.bucket, &req.input.key, false)
            .await
    }

    async fn delete_object(&self, req: &mut S3Request<DeleteObjectInput>) -> S3Result<()> {
        self.object(req, &req.input.bucket, &req.input.key, true)
            .await
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        if req.input.delete.objects.is_empty() {
            // Else the gate would never be asked about this request.
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The Delete element names no object",
            ));
        }
        let touches = req
            .input
            .delete
            .objects
            .iter()
            .map(|o| Touch::Object(o.key.clone()))
            .collect();
        self.authorize(req, &req.input.bucket, touches, true).await
    }

    async fn list_objects(&self, req: &mut S3Request<ListObjectsInput>) -> S3Result<()> {
        self.listing(req, &req.input.bucket, req.input.prefix.as_deref())
            .await
    }

    async fn list_objects_v2(&self, req: &mut S3Request<ListObjectsV2Input>) -> S3Result<()> {
        self.listing(req, &req.input.bucket, req.input.prefix.as_deref())
            .await
    }

    async fn create_multipart_upload(
        &self,
        req: &mut S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<()> {
        self.object(req, &req.input.bucket, &req.input.key, true)
            .await
    }

    async fn upload_part(&self, req: &mut S3Request<UploadPartInput>) -> S3Result<()> {
        self.object(req, &req.input.bucket, &req.input.key, true)
            .await
    }

    async fn complete_multipart_upload(
        &self,
        req: &mut S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<()> {
        self.object(req, &req.input.bucket, &req.input.key, true)
            .await
    }

    async fn abort_multipart_upload(
        &self,
        req: &mut S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<()> {
        self.object(req, &req.input.bucket, &req.input.key, true)
            .await
    }

    async fn list_parts(&self, req: &mut S3Request<ListPartsInput>) -> S3Result<()> {
        // Only the writer of an upload has a reason to see its parts.
        self.object(req, &req.input.bucket, &req.input.key, true)
            .await
    }

    async fn head_bucket(&self, req: &mut S3Request<HeadBucketInput>) -> S3Result<()> {
        self.authorize(req, &req.input.bucket, vec![Touch::Bucket], false)
            .await
    }
}
