//! The managed storage `dpipe serve` provides for pipes created with a name only: the
//! built-in object store (crate `dpipe-objects`) over `<data dir>/storage`, whose every
//! request the registry judges through [`RegistryGate`]; or an external S3 bucket whose
//! credentials STS issues (crate `dpipe-provision`); or none.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::TimeDelta;
use dpipe_core::managed::SessionRequest;
use dpipe_core::session_policy::STS_MIN_SECONDS;
use dpipe_objects::{Gate, ObjectStore, S3Service};
use dpipe_provision::{SessionOptions, StsIssuer, StsMode, ensure_managed_bucket};
use dpipe_registry::{Issuer, ManagedStorage, Registry, StorageRefusal, StorageRequest};

use crate::ServerError;

/// The region the built-in object store answers for (any region signs the same way there).
pub const BUILTIN_REGION: &str = "us-east-1";

/// How `dpipe serve` provides managed storage.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// The bucket holding managed pipes' folders.
    pub bucket: String,
    /// How long handed-out credentials live at most.
    pub key_lifetime: TimeDelta,
    /// Which storage.
    pub kind: StorageKind,
}

/// Which managed storage a server provides.
#[derive(Debug, Clone)]
pub enum StorageKind {
    /// None: pipes need storage of their own.
    Off,
    /// The built-in object store, listening on `listen`; clients are told `url` (default
    /// `http://<the bound address>`).
    BuiltIn {
        /// Where the object store listens.
        listen: SocketAddr,
        /// The URL clients reach it at, when not the listening address.
        url: Option<String>,
    },
    /// A bucket on an external S3 with STS credentials.
    External {
        /// The S3/STS endpoint (`None`: AWS).
        endpoint: Option<String>,
        /// The region (`None`: from the AWS configuration).
        region: Option<String>,
        /// A role to assume per handout; `None`: GetFederationToken.
        role_arn: Option<String>,
    },
}

/// The registry as the built-in object store's gate: the store asks, the registry judges.
pub struct RegistryGate(pub Registry);

impl Gate for RegistryGate {
    fn secret(&self, access_key: &str) -> Result<String, StorageRefusal> {
        self.0.storage_secret(access_key)
    }

    fn authorize(&self, request: &StorageRequest<'_>) -> Result<(), StorageRefusal> {
        self.0.authorize_storage(request)
    }
}

/// The managed storage a registry hands out keys for when the built-in object store is at
/// `url`.
pub fn builtin_managed_storage(url: String, bucket: &str, lifetime: TimeDelta) -> ManagedStorage {
    ManagedStorage {
        bucket: bucket.to_string(),
        endpoint_url: Some(url),
        region: BUILTIN_REGION.to_string(),
        lifetime,
        issuer: Issuer::BuiltIn,
    }
}

/// Opens the built-in object store in `folder` (a data folder's
/// [`storage_path`](crate::DataDir::storage_path)), creating `bucket`, and its S3 service, every
/// request judged by `registry`. Blocks (it opens files and SQLite).
pub fn builtin_storage_service(
    folder: &Path,
    bucket: &str,
    registry: &Registry,
) -> Result<S3Service, ServerError> {
    let store = ObjectStore::open(folder).map_err(|e| {
        ServerError::Storage(format!(
            "cannot open the built-in object store in {}: {}",
            folder.display(),
            e.message()
        ))
    })?;
    store.ensure_bucket(bucket).map_err(|e| {
        ServerError::Storage(format!("cannot create bucket {bucket}: {}", e.message()))
    })?;
    Ok(dpipe_objects::objects_service(
        Arc::new(store),
        Arc::new(RegistryGate(registry.clone())),
    ))
}

/// Managed storage on an external S3: checks `lifetime` against STS's minimum, loads the AWS
/// identity that calls STS and proves at start that it can get credentials the way handouts
/// will (so wrong keys, a role that does not trust them or a missing `sts:` right fail here,
/// not at the first handout), makes sure the bucket exists (creating it when missing, only
/// once STS said yes), and returns what the registry hands out keys with.
pub async fn external_managed_storage(
    bucket: &str,
    lifetime: TimeDelta,
    endpoint: Option<String>,
    region: Option<String>,
    role_arn: Option<String>,
) -> Result<ManagedStorage, ServerError> {
    let external = |what: &str, e: &dyn std::fmt::Display| {
        ServerError::Storage(format!("external managed storage: {what}: {e}"))
    };
    if lifetime.num_seconds() < i64::from(STS_MIN_SECONDS) {
        // STS would silently stretch every handout to 15 minutes: refuse rather than hand out
        // keys that outlive what the admin asked for.
        return Err(ServerError::Storage(format!(
            "external managed storage: --key-lifetime {} s is shorter than STS's minimum of \
             15 minutes; use --key-lifetime 15m or more",
            lifetime.num_seconds()
        )));
    }
    let options = SessionOptions {
        endpoint_url: endpoint.clone(),
        region,
        credentials: None,
    };
    let mode = match role_arn {
        Some(arn) => StsMode::assume_role(arn),
        None => StsMode::FederationToken,
    };
    let issuer = StsIssuer::load(options.clone(), mode)
        .await
        .map_err(|e| external("cannot set up STS", &e))?;
    let caller = issuer
        .caller_arn()
        .await
        .map_err(|e| external("cannot check the server's AWS identity", &e))?;
    issuer
        .issue_async(&SessionRequest {
            session_name: "dpipe-start-check".to_string(),
            policy: DENY_ALL.to_string(),
            seconds: STS_MIN_SECONDS,
        })
        .await
        .map_err(|e| external(&format!("{caller} cannot get credentials"), &e))?;
    let session = dpipe_provision::AdminSession::load(options)
        .await
        .map_err(|e| external("cannot set up S3", &e))?;
    ensure_managed_bucket(&session, bucket, true)
        .await
        .map_err(|e| external(&format!("bucket {bucket}"), &e))?;
    let max = issuer.max_session_seconds();
    if lifetime.num_seconds() > i64::from(max) {
        tracing::warn!(
            "STS credentials will live at most {max} s (the most {} grants), less than \
             --key-lifetime {} s",
            match issuer.mode() {
                StsMode::AssumeRole { .. } => "AssumeRole",
                StsMode::FederationToken => "GetFederationToken",
            },
            lifetime.num_seconds()
        );
    }
    tracing::info!(%caller, "STS issues managed credentials as {caller}");
    Ok(ManagedStorage {
        bucket: bucket.to_string(),
        endpoint_url: endpoint,
        region: session.region().to_string(),
        lifetime,
        issuer: Issuer::Sts(Arc::new(issuer)),
    })
}

/// The session policy of the check at start: its credentials, never used, can do nothing.
const DENY_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
