//! The managed storage `dpipe serve` provides for pipes created with a name only: the
//! built-in object store (crate `dpipe-objects`) over `<data dir>/storage`, whose every
//! request the registry judges through [`RegistryGate`]; or an external S3 bucket whose
//! credentials STS issues (crate `dpipe-provision`); or none.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::TimeDelta;
use dpipe_objects::{Gate, GateRequest, ObjectStore, Refusal, S3Service, Target};
use dpipe_provision::{SessionOptions, StsIssuer, StsMode, ensure_managed_bucket};
use dpipe_registry::{
    Issuer, ManagedStorage, Registry, StorageRefusal, StorageRequest, StorageTarget,
};

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
    fn secret(&self, access_key: &str) -> Result<String, Refusal> {
        self.0.storage_secret(access_key).map_err(refusal)
    }

    fn authorize(&self, request: &GateRequest<'_>) -> Result<(), Refusal> {
        let target = match request.target {
            Target::Object(key) => StorageTarget::Object(key),
            Target::Listing(prefix) => StorageTarget::Listing(prefix),
            Target::Bucket => StorageTarget::Bucket,
        };
        self.0
            .authorize_storage(&StorageRequest {
                access_key: request.access_key,
                session_token: request.session_token,
                bucket: request.bucket,
                target,
                write: request.write,
            })
            .map_err(refusal)
    }
}

fn refusal(refusal: StorageRefusal) -> Refusal {
    match refusal {
        StorageRefusal::UnknownKey => Refusal::UnknownKey,
        StorageRefusal::Expired => Refusal::Expired,
        StorageRefusal::Denied(why) => Refusal::Denied(why),
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

/// Managed storage on an external S3: loads the AWS identity that calls STS, makes sure the
/// bucket exists (creating it when missing), and returns what the registry hands out keys
/// with.
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
    let session = dpipe_provision::AdminSession::load(options)
        .await
        .map_err(|e| external("cannot set up S3", &e))?;
    ensure_managed_bucket(&session, bucket, true)
        .await
        .map_err(|e| external(&format!("bucket {bucket}"), &e))?;
    Ok(ManagedStorage {
        bucket: bucket.to_string(),
        endpoint_url: endpoint,
        region: session.region().to_string(),
        lifetime,
        issuer: Issuer::Sts(Arc::new(issuer)),
    })
}
