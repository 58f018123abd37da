//! Local mode: the repo API in-process, on a SQLite file of the profile, acting as the
//! profile's local user. No server, no network, and the same registry code as the server.

use std::path::Path;
use std::sync::Arc;

use dpipe_core::role::Access;
use dpipe_core::wire::{AuditView, GrantView, PipeView, RemoteView, UpdateMode, WhoAmI};
use dpipe_registry::{
    Caller, Clock, KeyRing, Registry, ServerKey, SystemClock, reseal_credentials,
};
use dpipe_store::SqliteStore;
use serde_json::{Map, Value};

use crate::{AuditQuery, Error, ErrorKind, RepoApi, Result};

/// The repo API of local mode.
pub struct LocalApi {
    registry: Registry,
    caller: Caller,
}

impl LocalApi {
    /// Opens (creating if needed) the local registry at `db_path`, acting as `username`
    /// (created on first use with `email`).
    pub fn open(db_path: &Path, username: &str, email: &str) -> Result<LocalApi> {
        if let Some(parent) = db_path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("cannot create {}: {e}", parent.display()),
                )
            })?;
        }
        let store = SqliteStore::open(db_path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot open the local registry {}: {e}", db_path.display()),
            )
        })?;
        // Stored credentials are sealed with a key ring kept beside the database (0600), so a
        // copy of the database alone leaks none of them.
        let ring_path = db_path.with_extension("keys");
        let ring = KeyRing::load_or_create(&ring_path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("local registry keys: {}", e.message()),
            )
        })?;
        reseal_credentials(&store, &ring)?;
        // Local mode issues no tokens, so the key that would derive them can be ephemeral.
        let registry = Registry::new(
            Arc::new(store),
            Arc::new(SystemClock),
            ServerKey::generate(),
            ring,
        );
        LocalApi::with_registry(registry, username, email)
    }

    /// Local mode over an existing registry (tests use this to share one registry and clock
    /// between several local users).
    pub fn with_registry(registry: Registry, username: &str, email: &str) -> Result<LocalApi> {
        let caller = registry.ensure_local_user(username, email)?;
        Ok(LocalApi { registry, caller })
    }

    /// A registry over `store` with `clock`, for [`LocalApi::with_registry`].
    pub fn registry(store: Arc<SqliteStore>, clock: Arc<dyn Clock>) -> Registry {
        Registry::new(store, clock, ServerKey::generate(), KeyRing::generate())
    }
}

impl RepoApi for LocalApi {
    fn whoami(&self) -> Result<WhoAmI> {
        let mut who = self.registry.whoami(&self.caller)?;
        who.message = Some("local mode".to_string());
        Ok(who)
    }
    fn list_remotes(&self) -> Result<Vec<RemoteView>> {
        Ok(self.registry.list_remotes(&self.caller)?)
    }
    fn get_remote(&self, name: &str) -> Result<RemoteView> {
        Ok(self.registry.get_remote(&self.caller, name)?)
    }
    fn create_remote(&self, body: &Value) -> Result<RemoteView> {
        Ok(self.registry.create_remote(&self.caller, body)?)
    }
    fn update_remote(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<RemoteView> {
        Ok(self
            .registry
            .update_remote(&self.caller, name, body, mode)?)
    }
    fn delete_remote(&self, name: &str) -> Result<()> {
        Ok(self.registry.delete_remote(&self.caller, name)?)
    }
    fn remote_credentials(&self, name: &str) -> Result<Value> {
        Ok(self.registry.remote_credentials(&self.caller, name)?)
    }
    fn list_pipes(&self) -> Result<Vec<PipeView>> {
        Ok(self.registry.list_pipes(&self.caller)?)
    }
    fn get_pipe(&self, name: &str) -> Result<PipeView> {
        Ok(self.registry.get_pipe(&self.caller, name)?)
    }
    fn create_pipe(&self, body: &Value) -> Result<PipeView> {
        Ok(self.registry.create_pipe(&self.caller, body)?)
    }
    fn update_pipe(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<PipeView> {
        Ok(self.registry.update_pipe(&self.caller, name, body, mode)?)
    }
    fn delete_pipe(&self, name: &str) -> Result<()> {
        Ok(self.registry.delete_pipe(&self.caller, name)?)
    }
    fn grant(&self, pipe: &str, body: &Value) -> Result<GrantView> {
        Ok(self.registry.grant(&self.caller, pipe, body)?)
    }
    fn list_grants(&self, pipe: &str) -> Result<Vec<GrantView>> {
        Ok(self.registry.list_grants(&self.caller, pipe)?)
    }
    fn credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>> {
        Ok(self
            .registry
            .credentials(&self.caller, pipe, Some(access.as_str()), false)?)
    }
    fn renew_credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>> {
        Ok(self
            .registry
            .credentials(&self.caller, pipe, Some(access.as_str()), true)?)
    }
    fn audit(&self, pipe: &str, query: &AuditQuery) -> Result<Vec<AuditView>> {
        Ok(self.registry.audit(&self.caller, pipe, query)?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Local mode seals stored credentials with a key ring kept beside the database, so the
    /// database files alone hold no secret, and the next open reads them back.
    #[test]
    fn local_credentials_are_sealed_at_rest() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("local.sqlite");
        let canary = "canary-local-secret-5e1f";
        let api = LocalApi::open(&db, "me", "me@example.com").unwrap();
        api.create_pipe(&json!({"name": "p", "protocol": "sftp", "location": "h",
            "credentials": {"username": "u", "password": canary}}))
            .unwrap();
        drop(api);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let leaked = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
            assert!(!leaked, "{} holds the secret in clear", path.display());
        }
        use std::os::unix::fs::PermissionsExt;
        let ring = db.with_extension("keys");
        assert_eq!(
            std::fs::metadata(&ring).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let again = LocalApi::open(&db, "me", "me@example.com").unwrap();
        assert_eq!(
            again.credentials("p", Access::Read).unwrap()["password"],
            canary
        );
    }
}
