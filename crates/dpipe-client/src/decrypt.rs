//! Transparent decryption: [`Decrypting`] wraps a [`RepoApi`] and decrypts every credential
//! it reads with the profile's [`Keyring`], so callers of `credentials` get usable values
//! whether or not their owner encrypted them. Everything else passes through unchanged; the
//! resources' views never hold secrets to decrypt.
//!
//! The credentials endpoint releases the storage of the pipe's root — its remote, or the
//! root pipe's inline storage — so the wrapper asks for the pipe to learn that origin, which
//! every value's associated data names, before decrypting (only when something is
//! encrypted). The repo API cannot use encrypted values itself; see [`crate::encode`].
//!
//! It also words what does not exist: a pipe that is not found is named, with the close
//! names among the caller's pipes ([`crate::names`]), and a grant to a username that does not
//! exist is a not-found error (the wire keeps d6tpipe's 400).

use dpipe_core::role::Access;
use dpipe_core::wire::{AuditView, GrantView, PipeView, RemoteView, UpdateMode, WhoAmI};
use serde_json::{Map, Value};

use crate::encode::{ResourceRef, decode_at, decode_released, is_encrypted};
use crate::key::Keyring;
use crate::names::name_missing_pipe;
use crate::{AuditQuery, Error, ErrorKind, RepoApi, Result};

/// A [`RepoApi`] that decrypts the credentials it reads.
pub struct Decrypting {
    inner: Box<dyn RepoApi>,
    keys: Keyring,
}

impl Decrypting {
    /// Wraps `inner`, decrypting with `keys`.
    pub fn new(inner: Box<dyn RepoApi>, keys: Keyring) -> Decrypting {
        Decrypting { inner, keys }
    }

    /// The keys it decrypts with.
    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// The wrapped API, whose answers stay encrypted.
    pub fn raw(&self) -> &dyn RepoApi {
        self.inner.as_ref()
    }

    /// A not-found `err` about `pipe` named, with close names; others unchanged.
    fn named(&self, pipe: &str, err: Error) -> Error {
        name_missing_pipe(self.inner.as_ref(), pipe, err)
    }

    /// Decrypts what the credentials endpoint released for `pipe`.
    fn decrypt_released(
        &self,
        pipe: &str,
        access: Access,
        released: Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let encrypted = released
            .values()
            .any(|v| v.as_str().is_some_and(is_encrypted));
        if !encrypted {
            return Ok(released);
        }
        let view = self.inner.get_pipe(pipe)?;
        let origin = match &view.remote {
            Some(remote) => ResourceRef::remote(remote),
            None => ResourceRef::pipe(&view.parent_ultimate),
        };
        decode_released(&released, origin, access, &self.keys)
    }
}

impl RepoApi for Decrypting {
    fn whoami(&self) -> Result<WhoAmI> {
        self.inner.whoami()
    }
    fn list_remotes(&self) -> Result<Vec<RemoteView>> {
        self.inner.list_remotes()
    }
    fn get_remote(&self, name: &str) -> Result<RemoteView> {
        self.inner.get_remote(name)
    }
    fn create_remote(&self, body: &Value) -> Result<RemoteView> {
        self.inner.create_remote(body)
    }
    fn update_remote(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<RemoteView> {
        self.inner.update_remote(name, body, mode)
    }
    fn delete_remote(&self, name: &str) -> Result<()> {
        self.inner.delete_remote(name)
    }
    fn remote_credentials(&self, name: &str) -> Result<Value> {
        let stored = self.inner.remote_credentials(name)?;
        let mut path = vec!["credentials".to_string()];
        decode_at(&stored, ResourceRef::remote(name), &mut path, &self.keys)
    }
    fn list_pipes(&self) -> Result<Vec<PipeView>> {
        self.inner.list_pipes()
    }
    fn get_pipe(&self, name: &str) -> Result<PipeView> {
        self.inner.get_pipe(name).map_err(|e| self.named(name, e))
    }
    fn create_pipe(&self, body: &Value) -> Result<PipeView> {
        self.inner.create_pipe(body)
    }
    fn update_pipe(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<PipeView> {
        self.inner.update_pipe(name, body, mode)
    }
    fn delete_pipe(&self, name: &str) -> Result<()> {
        self.inner
            .delete_pipe(name)
            .map_err(|e| self.named(name, e))
    }
    fn grant(&self, pipe: &str, body: &Value) -> Result<GrantView> {
        self.inner
            .grant(pipe, body)
            .map_err(|e| unknown_user(body, self.named(pipe, e)))
    }
    fn list_grants(&self, pipe: &str) -> Result<Vec<GrantView>> {
        self.inner
            .list_grants(pipe)
            .map_err(|e| self.named(pipe, e))
    }
    fn audit(&self, pipe: &str, query: &AuditQuery) -> Result<Vec<AuditView>> {
        self.inner
            .audit(pipe, query)
            .map_err(|e| self.named(pipe, e))
    }
    fn credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>> {
        let released = self
            .inner
            .credentials(pipe, access)
            .map_err(|e| self.named(pipe, e))?;
        self.decrypt_released(pipe, access, released)
    }
    fn renew_credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>> {
        let released = self
            .inner
            .renew_credentials(pipe, access)
            .map_err(|e| self.named(pipe, e))?;
        self.decrypt_released(pipe, access, released)
    }
}

/// A grant refused because its username does not exist (a 400 on the wire, as d6tpipe has
/// it) as a not-found error naming the user; any other error unchanged.
fn unknown_user(body: &Value, err: Error) -> Error {
    let username = body.get("username").and_then(Value::as_str);
    match username {
        Some(user)
            if err.kind() == ErrorKind::Invalid
                && err.field() == Some("username")
                && err.message().contains("does not exist") =>
        {
            Error::new(ErrorKind::NotFound, format!("user {user} not found"))
        }
        _ => err,
    }
}
