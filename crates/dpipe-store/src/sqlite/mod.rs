//! The SQLite store: one database file in WAL mode with synchronous commits, so that every
//! acknowledged write survives a crash of the process, and several processes can share the
//! file without corrupting it.

mod audit;
mod credentials;
mod email_links;
mod grants;
mod migrations;
mod pipes;
mod remotes;
mod sealing_key;
mod storage_keys;
mod throttles;
mod users;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use crate::records::{
    AuditFilter, AuditRecord, EmailLinkRecord, GrantRecord, Grantee, NewAuditEvent, NewEmailLink,
    NewGrant, NewPipe, NewRemote, NewStorageKey, NewUser, PipeRecord, RemoteRecord,
    StorageKeyRecord, UserRecord,
};
use crate::{CredentialsRewrite, Store, StoreError, StoreResult};

/// A [`Store`] over one SQLite file. Calls are serialized on one connection: SQLite allows one
/// writer at a time anyway, and the repo API's operations are short.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path).map_err(backend)?;
        Self::configure(conn)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> StoreResult<SqliteStore> {
        Self::configure(Connection::open_in_memory().map_err(backend)?)
    }

    fn configure(mut conn: Connection) -> StoreResult<SqliteStore> {
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(backend)?;
        // WAL lets readers and a writer from other processes proceed together; FULL makes
        // each commit durable before it is acknowledged.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        migrations::migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied (rusqlite
        // rolls back on drop), so the connection is still good.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Store for SqliteStore {
    fn concurrent_calls(&self) -> usize {
        1
    }
    fn insert_user(&self, user: &NewUser) -> StoreResult<UserRecord> {
        users::insert(&mut self.conn(), user)
    }
    fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRecord>> {
        users::find(&self.conn(), "id", &id)
    }
    fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        users::find(&self.conn(), "username", &username)
    }
    fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        users::find(&self.conn(), "email", &email)
    }
    fn user_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<UserRecord>> {
        users::find(&self.conn(), "token_hash", &token_hash)
    }
    fn set_user_token(&self, id: i64, token_hash: &str, token_seed: &str) -> StoreResult<()> {
        users::set_token(&self.conn(), id, token_hash, token_seed)
    }
    fn delete_user(&self, id: i64) -> StoreResult<()> {
        users::delete(&mut self.conn(), id)
    }

    fn insert_remote(&self, remote: &NewRemote) -> StoreResult<RemoteRecord> {
        remotes::insert(&self.conn(), remote)
    }
    fn update_remote(&self, remote: &RemoteRecord) -> StoreResult<RemoteRecord> {
        remotes::update(&self.conn(), remote)
    }
    fn remote_by_name(&self, name: &str) -> StoreResult<Option<RemoteRecord>> {
        remotes::find(&self.conn(), "name", &name)
    }
    fn remote_by_id(&self, id: i64) -> StoreResult<Option<RemoteRecord>> {
        remotes::find(&self.conn(), "id", &id)
    }
    fn remotes_of_owner(&self, owner_id: i64) -> StoreResult<Vec<RemoteRecord>> {
        remotes::of_owner(&self.conn(), owner_id)
    }
    fn delete_remote(&self, id: i64) -> StoreResult<()> {
        remotes::delete(&mut self.conn(), id)
    }

    fn insert_pipe(&self, pipe: &NewPipe) -> StoreResult<PipeRecord> {
        pipes::insert(&self.conn(), pipe)
    }
    fn update_pipe(&self, pipe: &PipeRecord) -> StoreResult<PipeRecord> {
        pipes::update(&self.conn(), pipe)
    }
    fn pipe_by_name(&self, name: &str) -> StoreResult<Option<PipeRecord>> {
        pipes::find(&self.conn(), &name)
    }
    fn all_pipes(&self) -> StoreResult<Vec<PipeRecord>> {
        pipes::all(&self.conn())
    }
    fn pipe_chain(&self, id: i64) -> StoreResult<Vec<PipeRecord>> {
        pipes::chain(&self.conn(), id)
    }
    fn pipes_reaching(&self, user_id: Option<i64>) -> StoreResult<Vec<PipeRecord>> {
        pipes::reaching(&self.conn(), user_id)
    }
    fn delete_pipe(&self, id: i64) -> StoreResult<()> {
        pipes::delete(&self.conn(), id)
    }

    fn upsert_grant(&self, grant: &NewGrant) -> StoreResult<GrantRecord> {
        grants::upsert(&self.conn(), grant)
    }
    fn delete_grant(&self, pipe_id: i64, grantee: &Grantee) -> StoreResult<bool> {
        grants::delete(&self.conn(), pipe_id, grantee)
    }
    fn grants_on_pipe(&self, pipe_id: i64) -> StoreResult<Vec<GrantRecord>> {
        grants::on_pipe(&self.conn(), pipe_id)
    }
    fn grants_reaching(&self, user_id: Option<i64>) -> StoreResult<Vec<GrantRecord>> {
        grants::reaching(&self.conn(), user_id)
    }
    fn invitations_to(&self, email: &str) -> StoreResult<Vec<GrantRecord>> {
        grants::invitations_to(&self.conn(), email)
    }
    fn claim_invitations(
        &self,
        user_id: i64,
        email: &str,
        pipe_id: Option<i64>,
    ) -> StoreResult<Vec<i64>> {
        grants::claim(&self.conn(), user_id, email, pipe_id)
    }
    fn insert_email_link(&self, link: &NewEmailLink, forget_before: &str) -> StoreResult<()> {
        email_links::insert(&mut self.conn(), link, forget_before)
    }
    fn take_email_link(&self, token_hash: &str) -> StoreResult<Option<EmailLinkRecord>> {
        email_links::take(&self.conn(), token_hash)
    }

    fn insert_audit(&self, event: &NewAuditEvent) -> StoreResult<AuditRecord> {
        audit::insert(&self.conn(), event)
    }
    fn audit_events_for_pipes(
        &self,
        pipes: &[String],
        filter: &AuditFilter<'_>,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecord>> {
        audit::for_pipes(&self.conn(), pipes, filter, limit)
    }
    fn rewrite_credentials(&self, rewrite: &mut CredentialsRewrite<'_>) -> StoreResult<usize> {
        credentials::rewrite(&mut self.conn(), rewrite)
    }
    fn sealing_key(&self) -> StoreResult<Option<String>> {
        sealing_key::get(&self.conn())
    }
    fn claim_server_key_check(&self, check: &str) -> StoreResult<String> {
        sealing_key::claim_server_key_check(&self.conn(), check)
    }
    fn set_sealing_key(&self, key_id: &str) -> StoreResult<()> {
        sealing_key::set(&self.conn(), key_id)
    }

    fn insert_storage_key(
        &self,
        key: &NewStorageKey,
        forget_before: &str,
    ) -> StoreResult<StorageKeyRecord> {
        storage_keys::insert(&mut self.conn(), key, forget_before)
    }
    fn storage_key(&self, key_id: &str) -> StoreResult<Option<StorageKeyRecord>> {
        storage_keys::find(&self.conn(), key_id)
    }
    fn newest_storage_key(
        &self,
        pipe_id: i64,
        user_id: Option<i64>,
        access: &str,
    ) -> StoreResult<Option<StorageKeyRecord>> {
        storage_keys::newest(&self.conn(), pipe_id, user_id, access)
    }

    fn update_throttles(
        &self,
        keys: &[String],
        now: chrono::DateTime<chrono::Utc>,
        update: &mut crate::ThrottleUpdate<'_>,
    ) -> StoreResult<()> {
        throttles::update(&mut self.conn(), keys, now, update)
    }
}

/// Wraps a SQLite failure; the message names no secret (statements bind values, never inline them).
pub(crate) fn backend(err: rusqlite::Error) -> StoreError {
    StoreError::Backend(err.to_string())
}

/// Maps a unique-constraint violation on `table.column` to [`StoreError::Unique`] naming the
/// request field; anything else to [`StoreError::Backend`].
pub(crate) fn unique_or_backend(
    err: rusqlite::Error,
    columns: &[(&str, &'static str)],
) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, Some(message)) = &err
        && failure.code == ErrorCode::ConstraintViolation
    {
        for (column, field) in columns {
            if message.contains(column) {
                return StoreError::Unique(field);
            }
        }
    }
    backend(err)
}

/// The current time as stored in `created_at`/`updated_at` columns.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Reads a JSON text column.
pub(crate) fn json_column(text: String) -> rusqlite::Result<serde_json::Value> {
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Reads a JSON-object text column.
pub(crate) fn object_column(
    text: String,
) -> rusqlite::Result<serde_json::Map<String, serde_json::Value>> {
    match json_column(text)? {
        serde_json::Value::Object(map) => Ok(map),
        _ => Ok(serde_json::Map::new()),
    }
}
