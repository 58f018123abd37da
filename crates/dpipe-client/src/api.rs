//! The repo API as a trait: everything a profile's user can do on remotes, pipes, permissions
//! and credentials, whether the registry is across HTTP or in-process.

use dpipe_core::role::Access;
use dpipe_core::wire::{AuditView, GrantView, PipeView, RemoteView, UpdateMode, WhoAmI};
use serde_json::{Map, Value};

use crate::{AuditQuery, ErrorKind, Result};

/// The repo API, seen by one user. Bodies are JSON objects as the wire takes them, so that a
/// wrong type is judged by the registry with the same message on both implementations.
pub trait RepoApi: Send + Sync {
    /// Who this client acts as.
    fn whoami(&self) -> Result<WhoAmI>;

    /// The user's remotes.
    fn list_remotes(&self) -> Result<Vec<RemoteView>>;
    /// One remote.
    fn get_remote(&self, name: &str) -> Result<RemoteView>;
    /// Creates a remote.
    fn create_remote(&self, body: &Value) -> Result<RemoteView>;
    /// Updates a remote (PATCH or PUT).
    fn update_remote(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<RemoteView>;
    /// Deletes a remote no pipe uses.
    fn delete_remote(&self, name: &str) -> Result<()>;
    /// The stored credentials of one of the user's remotes, as stored: flat, split into
    /// `{read, write}`, or `{}` (what `dpipe key rotate` re-encrypts).
    fn remote_credentials(&self, name: &str) -> Result<Value>;

    /// Every pipe the user can read.
    fn list_pipes(&self) -> Result<Vec<PipeView>>;
    /// One pipe.
    fn get_pipe(&self, name: &str) -> Result<PipeView>;
    /// Creates a pipe.
    fn create_pipe(&self, body: &Value) -> Result<PipeView>;
    /// Updates a pipe (PATCH or PUT).
    fn update_pipe(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<PipeView>;
    /// Deletes a pipe with its children.
    fn delete_pipe(&self, name: &str) -> Result<()>;

    /// Grants, changes or revokes (`role: revoke`) access to a pipe.
    fn grant(&self, pipe: &str, body: &Value) -> Result<GrantView>;
    /// The grants on a pipe.
    fn list_grants(&self, pipe: &str) -> Result<Vec<GrantView>>;

    /// The storage credentials of a pipe for `access`.
    fn credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>>;
    /// Fresh storage credentials of a pipe for `access` (after the old ones expired).
    fn renew_credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>>;

    /// The audit trail of a pipe and its descendants, newest first, narrowed to the events
    /// matching `query` (its owner only).
    fn audit(&self, pipe: &str, query: &AuditQuery) -> Result<Vec<AuditView>>;

    /// Creates or updates a pipe the way d6tpipe's `upsert_pipe` does: PATCH, and POST when
    /// the PATCH says the pipe does not exist.
    fn upsert_pipe(&self, body: &Value) -> Result<PipeView> {
        let name = body_name(body);
        match self.update_pipe(&name, body, UpdateMode::Partial) {
            Err(err) if err.kind() == ErrorKind::NotFound => self.create_pipe(body),
            other => other,
        }
    }

    /// Creates or updates a remote: PATCH, and POST when it does not exist.
    fn upsert_remote(&self, body: &Value) -> Result<RemoteView> {
        let name = body_name(body);
        match self.update_remote(&name, body, UpdateMode::Partial) {
            Err(err) if err.kind() == ErrorKind::NotFound => self.create_remote(body),
            other => other,
        }
    }
}

/// The `name` of a body, or a name that cannot exist so that the create call reports what is
/// wrong with the body.
fn body_name(body: &Value) -> String {
    match body.get("name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() && !name.contains('/') => name.to_string(),
        _ => "-".to_string(),
    }
}
