//! [`AdminSession`]: the S3 and IAM clients provisioning runs with, built from the standard
//! AWS configuration chain (environment, shared profile files, web identity, container and
//! instance metadata), with an optional endpoint (an S3-compatible service, a local moto),
//! region and static keys on top. The same configuration ([`sdk_config`]) also builds the STS
//! client of [`crate::StsIssuer`].

use std::fmt;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_s3::config::{Credentials, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

use crate::error::{Error, ErrorKind, Result};
use crate::remote::AccessKeyPair;

/// S3's default region: a bucket made there needs no location constraint.
pub(crate) const DEFAULT_REGION: &str = "us-east-1";

/// What to put on top of the standard AWS configuration chain. `Default` adds nothing.
/// `Debug` redacts the secret key.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// An `http://` or `https://` endpoint for S3 and IAM instead of AWS's own (for an
    /// S3-compatible service or a local test server). S3 then uses path-style addressing.
    pub endpoint_url: Option<String>,
    /// The region, instead of `AWS_REGION` / the profile's.
    pub region: Option<String>,
    /// Static keys, instead of the credential chain (as the seed's boto3 session takes them).
    pub credentials: Option<AccessKeyPair>,
}

/// The AWS identity that creates and removes buckets and users. It needs the admin policy of
/// `docs/s3-provisioning.md` (or more). Holds no secret of its own: keys stay in the SDK's
/// credential provider, so `Debug` shows only endpoint and region.
#[derive(Clone)]
pub struct AdminSession {
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
    endpoint_url: Option<String>,
    region: String,
    region_overridden: bool,
}

impl fmt::Debug for AdminSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminSession")
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl AdminSession {
    /// Loads the standard AWS configuration (`aws_config::defaults(BehaviorVersion::latest())`)
    /// and applies `options`. Fails when the endpoint is not an http(s) URL, the CA bundle
    /// named by `AWS_CA_BUNDLE` cannot be read, or no region can be found.
    pub async fn load(options: SessionOptions) -> Result<AdminSession> {
        let (config, region) = sdk_config(&options).await?;
        // Custom endpoints (moto, MinIO, …) rarely resolve `BUCKET.host` names: path style.
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(options.endpoint_url.is_some())
            .build();
        Ok(AdminSession {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            iam: aws_sdk_iam::Client::new(&config),
            endpoint_url: options.endpoint_url,
            region,
            region_overridden: options.region.is_some(),
        })
    }

    /// The S3 client of this session.
    pub fn s3(&self) -> &aws_sdk_s3::Client {
        &self.s3
    }

    /// The IAM client of this session.
    pub fn iam(&self) -> &aws_sdk_iam::Client {
        &self.iam
    }

    /// The custom endpoint, if one was given.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// The region requests are signed for and buckets are created in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether a client of the bucket needs to be told the region: an endpoint or a region
    /// was given explicitly, or the region is not S3's default.
    pub(crate) fn region_is_custom(&self) -> bool {
        self.endpoint_url.is_some() || self.region_overridden || self.region != DEFAULT_REGION
    }
}

/// The SDK configuration of `options`: the standard chain (`aws_config::defaults`) with the
/// endpoint, region and static keys of `options` on top, over [`http_client`]; and the region
/// it resolved to. Shared by every AWS client of this crate. Fails when the endpoint is not an
/// http(s) URL, the CA bundle named by `AWS_CA_BUNDLE` cannot be read, or no region is found.
pub(crate) async fn sdk_config(options: &SessionOptions) -> Result<(SdkConfig, String)> {
    if let Some(url) = &options.endpoint_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!("invalid endpoint URL {url:?}: it must start with http:// or https://"),
        ));
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client()?);
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(keys) = &options.credentials {
        loader = loader.credentials_provider(Credentials::new(
            &keys.aws_access_key_id,
            keys.secret(),
            None,
            None,
            "dpipe-provision",
        ));
    }
    let config = loader.load().await;
    let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
        Error::new(
            ErrorKind::Config,
            "no AWS region: set AWS_REGION, a profile region, or pass a region",
        )
    })?;
    Ok((config, region))
}

/// The HTTP client: rustls with the `ring` provider (the SDK's default, aws-lc, needs cmake
/// and nasm to build), trusting the system roots plus the PEM bundle named by
/// `AWS_CA_BUNDLE`. The Rust SDK ignores `AWS_CA_BUNDLE` (unlike the AWS CLI and boto3), so
/// a plain-http endpoint works whatever it says; it is honoured here so an https endpoint
/// behind a private CA works as it does for those tools.
fn http_client() -> Result<SharedHttpClient> {
    let mut trust = TrustStore::default();
    if let Some(path) = std::env::var_os("AWS_CA_BUNDLE").filter(|p| !p.is_empty()) {
        let pem = std::fs::read(&path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read AWS_CA_BUNDLE {}: {e}", path.to_string_lossy()),
            )
        })?;
        trust = trust.with_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| Error::new(ErrorKind::Config, format!("cannot set up TLS: {e}")))?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https())
}
