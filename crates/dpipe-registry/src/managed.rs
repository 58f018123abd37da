//! Managed storage: the server's own storage for pipes created with a name only, and the check
//! of every request the built-in object store receives.
//!
//! The credentials endpoint hands out, per (caller, pipe, role), keys that reach only the
//! pipe's folder (`minting`). The built-in object store knows nothing of pipes or grants: for
//! each request it asks [`Registry::storage_secret`] for the key's secret (to check the SigV4
//! signature) and [`Registry::authorize_storage`] whether the request may go ahead — judged
//! now, against the grants as they are now, so a revoked grant or a deleted pipe stops a key
//! at its next request.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use dpipe_core::managed::{Scope, SessionIssuer, StorageRefusal, StorageRequest, StorageTarget};
use dpipe_core::role::Access;
use dpipe_store::StorageKeyRecord;
use subtle::ConstantTimeEq;

use crate::secrets::ServerKey;
use crate::tree::{PipeTree, Storage};
use crate::{Caller, Registry, StoreResultExt};

/// The managed bucket's name unless the server is told another.
pub const DEFAULT_BUCKET: &str = "dpipe";
/// How long minted credentials live unless the server is told otherwise (d6tpipe's 12 hours).
pub const DEFAULT_LIFETIME: TimeDelta = TimeDelta::hours(12);

/// Where managed pipes' files live and how callers get credentials for them.
#[derive(Clone)]
pub struct ManagedStorage {
    /// The bucket holding every managed pipe's folder.
    pub bucket: String,
    /// The S3 endpoint released to clients as `endpoint_url` (`None`: AWS itself).
    pub endpoint_url: Option<String>,
    /// The region released to clients as `region_name`.
    pub region: String,
    /// How long minted credentials live at most.
    pub lifetime: TimeDelta,
    /// Who issues the credentials.
    pub issuer: Issuer,
}

impl fmt::Debug for ManagedStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedStorage")
            .field("bucket", &self.bucket)
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("lifetime", &self.lifetime)
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Who issues managed credentials.
#[derive(Clone)]
pub enum Issuer {
    /// The registry mints keys for the built-in object store itself.
    BuiltIn,
    /// An external S3's STS issues session credentials limited by a session policy.
    Sts(Arc<dyn SessionIssuer>),
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Issuer::BuiltIn => "BuiltIn",
            Issuer::Sts(_) => "Sts",
        })
    }
}

/// The secret of minted key `key_id`: derived from the server key, never stored.
pub(crate) fn key_secret(key: &ServerKey, key_id: &str) -> String {
    let bytes = key.derive(b"dpipe-storage-secret", key_id);
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes[..30])
}

/// The session token that must accompany minted key `key_id`.
pub(crate) fn key_session_token(key: &ServerKey, key_id: &str) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD
        .encode(key.derive(b"dpipe-storage-session", key_id))
}

/// Parses a stored RFC 3339 time; a malformed one counts as long past.
pub(crate) fn parse_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Registry {
    /// The secret of `access_key`, for checking a request's signature: only for a key that
    /// was minted and has not expired.
    pub fn storage_secret(&self, access_key: &str) -> Result<String, StorageRefusal> {
        let record = self.live_key(access_key)?;
        Ok(key_secret(&self.key, &record.key_id))
    }

    /// May `request` go ahead? The key must have been minted and not expired, come with its
    /// session token, belong to a pipe that still exists, whose caller still holds the key's
    /// role now (grants revoked or expired since minting count), ask to write only with a
    /// write key, and touch only the pipe's folder in the managed bucket.
    pub fn authorize_storage(&self, request: &StorageRequest<'_>) -> Result<(), StorageRefusal> {
        let record = self.live_key(request.access_key)?;
        let expected = key_session_token(&self.key, &record.key_id);
        let token_ok = request
            .session_token
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(expected.as_bytes())));
        if !token_ok {
            return Err(denied(
                "the session token is missing or does not belong to the key",
            ));
        }
        let access = if record.access == "write" {
            Access::Write
        } else {
            Access::Read
        };
        if request.write && access != Access::Write {
            return Err(denied("this key is read-only"));
        }
        let caller = match record.user_id {
            Some(id) => match self.store.user_by_id(id).or_internal().map_err(internal)? {
                Some(user) => Caller::User(user),
                None => return Err(StorageRefusal::UnknownKey),
            },
            None => Caller::Anonymous,
        };
        // The key's pipe and its ancestors decide; the other pipes need not be read.
        let tree = PipeTree::load_chain(self.store.as_ref(), record.pipe_id).map_err(internal)?;
        let view = self.access_view_over(&caller, tree).map_err(internal)?;
        let Some(pipe) = view.tree.by_id(record.pipe_id) else {
            return Err(StorageRefusal::UnknownKey);
        };
        if !view
            .role(pipe)
            .map_err(internal)?
            .is_some_and(|role| role.allows(access))
        {
            return Err(denied(
                "the grant behind this key was revoked or has expired",
            ));
        }
        let chain = view.tree.chain(pipe).map_err(internal)?;
        let storage = Storage::of_root(chain[0], &mut self.storage_lookup()).map_err(internal)?;
        let scope = Scope::of_remotepath(&storage.remotepath(&chain), access)
            .filter(|_| storage.managed)
            .ok_or_else(|| denied("the pipe of this key is no longer on managed storage"))?;
        let inside = match request.target {
            StorageTarget::Object(key) => scope.admits_object(request.bucket, key),
            StorageTarget::Listing(prefix) => scope.admits_listing(request.bucket, prefix),
            StorageTarget::Bucket => request.bucket == scope.bucket,
        };
        if inside {
            Ok(())
        } else {
            Err(denied(&format!(
                "this key reaches only s3://{}/{}",
                scope.bucket, scope.prefix
            )))
        }
    }

    /// The minted key `key_id`, if it exists and has not expired.
    fn live_key(&self, key_id: &str) -> Result<StorageKeyRecord, StorageRefusal> {
        let record = self
            .store
            .storage_key(key_id)
            .or_internal()
            .map_err(internal)?
            .ok_or(StorageRefusal::UnknownKey)?;
        if parse_time(&record.expires_at) <= self.clock.now() {
            return Err(StorageRefusal::Expired);
        }
        Ok(record)
    }
}

fn denied(why: &str) -> StorageRefusal {
    StorageRefusal::Denied(why.to_string())
}

/// A failure of the registry itself: logged, and the request refused without detail.
fn internal(error: dpipe_core::Error) -> StorageRefusal {
    tracing::error!(error = %error.message(), "checking a managed-storage request failed");
    StorageRefusal::Denied("the repo API could not check this key; see the server log".into())
}
