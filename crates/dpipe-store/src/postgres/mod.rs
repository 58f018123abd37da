//! The PostgreSQL store: the same records and semantics as the SQLite store, over a database
//! that several stateless `dpipe serve` instances share (`--database-url postgres://…`).
//!
//! * **Why**: one SQLite file ties the repo API to one machine; with PostgreSQL any number of
//!   server instances behind a load balancer see one state, and the database does the
//!   locking. Every [`Store`] method is one transaction; where the SQLite store relies on its
//!   single writer (read, then write), this one lets one statement do both (`ON CONFLICT …
//!   DO UPDATE`, `DELETE … RETURNING`), locks what it read (a remote `FOR UPDATE` before it
//!   is deleted; both credentials tables while they are rewritten), or retries (claiming
//!   invitations, should a grant appear between its two statements).
//! * **Pool**: an r2d2 pool of sync `postgres` clients (the [`Store`] trait is sync; the
//!   server calls it from tokio's blocking pool). Each connection keeps the statements it
//!   prepared, so the hot lookups are planned once per connection.
//! * **Schema**: migrations in `postgres/migrations/`, recorded in `dpipe_schema_version` and
//!   applied under an advisory lock (see [`migrations`]). The tables live in the first schema
//!   of the search path, so `?options=-csearch_path%3Dmy_schema` in the URL selects one.
//! * **TLS**: none (`NoTls`): connect over 127.0.0.1, a Unix socket or a trusted network. A
//!   password in the URL is used to log in and never appears in an error or in `Debug`.

mod audit;
mod credentials;
mod email_links;
mod errors;
mod grants;
mod migrations;
mod pipes;
mod pool;
mod remotes;
mod sealing_key;
mod storage_keys;
mod throttles;
mod users;

use std::fmt;
use std::time::Duration;

use postgres::config::Host;
use postgres::{Config, NoTls};

use crate::records::{
    AuditFilter, AuditRecord, EmailLinkRecord, GrantRecord, Grantee, NewAuditEvent, NewEmailLink,
    NewGrant, NewPipe, NewRemote, NewStorageKey, NewUser, PipeRecord, RemoteRecord,
    StorageKeyRecord, UserRecord,
};
use crate::{CredentialsRewrite, Store, StoreError, StoreResult};
use errors::{backend, describe};
use pool::{Connection, Manager};

/// Connections a [`PgStore::connect`] pool holds at most.
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// How long connecting, or waiting for a free pooled connection, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Store`] over a PostgreSQL database, through a pool of connections.
pub struct PgStore {
    pool: r2d2::Pool<Manager>,
    /// `host:port` of the server, for messages and `Debug`.
    address: String,
    /// The database's name, for `Debug` (the user and password are never kept apart).
    database: String,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/database`),
    /// checks it answers, and migrates it; the pool holds at most [`DEFAULT_POOL_SIZE`]
    /// connections.
    pub fn connect(url: &str) -> StoreResult<PgStore> {
        Self::connect_with(url, DEFAULT_POOL_SIZE)
    }

    /// [`PgStore::connect`] with a pool of at most `pool_size` connections (at least one).
    pub fn connect_with(url: &str, pool_size: u32) -> StoreResult<PgStore> {
        let mut config = parse_url(url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let address = address(&config);
        let database = config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or_default()
            .to_owned();
        let mut client = config.connect(NoTls).map_err(|e| {
            StoreError::Backend(format!(
                "cannot connect to PostgreSQL at {address}: {}",
                connect_failure(&e)
            ))
        })?;
        migrations::migrate(&mut client)?;
        drop(client);
        // Unchecked: the connection above proved the database answers; the pool opens its
        // connections as requests need them.
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(CONNECT_TIMEOUT)
            .build_unchecked(Manager { config });
        Ok(PgStore {
            pool,
            address,
            database,
        })
    }

    /// A pooled connection; waits up to the connect time-out for one to be free.
    fn conn(&self) -> StoreResult<Connection> {
        self.pool.get().map_err(|e| {
            StoreError::Backend(format!(
                "no connection to PostgreSQL at {} within {} s: {e}",
                self.address,
                CONNECT_TIMEOUT.as_secs()
            ))
        })
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("address", &self.address)
            .field("database", &self.database)
            .field("pool_size", &self.pool.max_size())
            .finish()
    }
}

/// Parses a `postgres://` URL; the error never repeats the URL (it may hold a password).
fn parse_url(url: &str) -> StoreResult<Config> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Backend(
            "the database URL must start with postgres:// or postgresql:// \
             (postgres://user@host:port/database)"
                .into(),
        ));
    }
    url.parse().map_err(|e: postgres::Error| {
        StoreError::Backend(format!("the database URL is not valid: {}", describe(&e)))
    })
}

/// `host:port` of a configuration (its first host), for messages.
fn address(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}")
}

/// Why connecting failed, in lower-case words without the OS error number
/// ("connection refused", "password authentication failed for user \"dpipe\"").
fn connect_failure(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return db.message().to_owned();
    }
    let mut deepest: &dyn std::error::Error = err;
    while let Some(inner) = deepest.source() {
        deepest = inner;
    }
    let text = deepest.to_string();
    let text = match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".into(),
    }
}

/// Reads a JSON text column.
fn json_column(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Backend(format!("a stored JSON value is corrupt: {e}")))
}

/// Reads a JSON-object text column (anything else reads as an empty object, as in SQLite).
fn object_column(text: &str) -> StoreResult<serde_json::Map<String, serde_json::Value>> {
    match json_column(text)? {
        serde_json::Value::Object(map) => Ok(map),
        _ => Ok(serde_json::Map::new()),
    }
}

/// The text a JSON-object column stores.
fn object_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

/// Reads column `index` of a row.
fn column<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    index: usize,
) -> StoreResult<T> {
    row.try_get(index).map_err(backend)
}

impl Store for PgStore {
    fn concurrent_calls(&self) -> usize {
        self.pool.max_size() as usize
    }
    fn insert_user(&self, user: &NewUser) -> StoreResult<UserRecord> {
        users::insert(&mut self.conn()?, user)
    }
    fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRecord>> {
        users::find(&mut self.conn()?, "id", &id)
    }
    fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>> {
        users::find(&mut self.conn()?, "username", &username)
    }
    fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        users::find(&mut self.conn()?, "email", &email)
    }
    fn user_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<UserRecord>> {
        users::find(&mut self.conn()?, "token_hash", &token_hash)
    }
    fn set_user_token(&self, id: i64, token_hash: &str, token_seed: &str) -> StoreResult<()> {
        users::set_token(&mut self.conn()?, id, token_hash, token_seed)
    }
    fn delete_user(&self, id: i64) -> StoreResult<()> {
        users::delete(&mut self.conn()?, id)
    }

    fn insert_remote(&self, remote: &NewRemote) -> StoreResult<RemoteRecord> {
        remotes::insert(&mut self.conn()?, remote)
    }
    fn update_remote(&self, remote: &RemoteRecord) -> StoreResult<RemoteRecord> {
        remotes::update(&mut self.conn()?, remote)
    }
    fn remote_by_name(&self, name: &str) -> StoreResult<Option<RemoteRecord>> {
        remotes::find(&mut self.conn()?, "name", &name)
    }
    fn remote_by_id(&self, id: i64) -> StoreResult<Option<RemoteRecord>> {
        remotes::find(&mut self.conn()?, "id", &id)
    }
    fn remotes_of_owner(&self, owner_id: i64) -> StoreResult<Vec<RemoteRecord>> {
        remotes::of_owner(&mut self.conn()?, owner_id)
    }
    fn delete_remote(&self, id: i64) -> StoreResult<()> {
        remotes::delete(&mut self.conn()?, id)
    }

    fn insert_pipe(&self, pipe: &NewPipe) -> StoreResult<PipeRecord> {
        pipes::insert(&mut self.conn()?, pipe)
    }
    fn update_pipe(&self, pipe: &PipeRecord) -> StoreResult<PipeRecord> {
        pipes::update(&mut self.conn()?, pipe)
    }
    fn pipe_by_name(&self, name: &str) -> StoreResult<Option<PipeRecord>> {
        pipes::find(&mut self.conn()?, name)
    }
    fn all_pipes(&self) -> StoreResult<Vec<PipeRecord>> {
        pipes::all(&mut self.conn()?)
    }
    fn pipe_chain(&self, id: i64) -> StoreResult<Vec<PipeRecord>> {
        pipes::chain(&mut self.conn()?, id)
    }
    fn pipes_reaching(&self, user_id: Option<i64>) -> StoreResult<Vec<PipeRecord>> {
        pipes::reaching(&mut self.conn()?, user_id)
    }
    fn delete_pipe(&self, id: i64) -> StoreResult<()> {
        pipes::delete(&mut self.conn()?, id)
    }

    fn upsert_grant(&self, grant: &NewGrant) -> StoreResult<GrantRecord> {
        grants::upsert(&mut self.conn()?, grant)
    }
    fn delete_grant(&self, pipe_id: i64, grantee: &Grantee) -> StoreResult<bool> {
        grants::delete(&mut self.conn()?, pipe_id, grantee)
    }
    fn grants_on_pipe(&self, pipe_id: i64) -> StoreResult<Vec<GrantRecord>> {
        grants::on_pipe(&mut self.conn()?, pipe_id)
    }
    fn grants_reaching(&self, user_id: Option<i64>) -> StoreResult<Vec<GrantRecord>> {
        grants::reaching(&mut self.conn()?, user_id)
    }
    fn invitations_to(&self, email: &str) -> StoreResult<Vec<GrantRecord>> {
        grants::invitations_to(&mut self.conn()?, email)
    }
    fn claim_invitations(
        &self,
        user_id: i64,
        email: &str,
        pipe_id: Option<i64>,
    ) -> StoreResult<Vec<i64>> {
        grants::claim(&mut self.conn()?, user_id, email, pipe_id)
    }
    fn insert_email_link(&self, link: &NewEmailLink, forget_before: &str) -> StoreResult<()> {
        email_links::insert(&mut self.conn()?, link, forget_before)
    }
    fn take_email_link(&self, token_hash: &str) -> StoreResult<Option<EmailLinkRecord>> {
        email_links::take(&mut self.conn()?, token_hash)
    }

    fn insert_audit(&self, event: &NewAuditEvent) -> StoreResult<AuditRecord> {
        audit::insert(&mut self.conn()?, event)
    }
    fn audit_events_for_pipes(
        &self,
        pipes: &[String],
        filter: &AuditFilter<'_>,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecord>> {
        audit::for_pipes(&mut self.conn()?, pipes, filter, limit)
    }
    fn rewrite_credentials(&self, rewrite: &mut CredentialsRewrite<'_>) -> StoreResult<usize> {
        credentials::rewrite(&mut self.conn()?, rewrite)
    }
    fn sealing_key(&self) -> StoreResult<Option<String>> {
        sealing_key::get(&mut self.conn()?)
    }
    fn claim_server_key_check(&self, check: &str) -> StoreResult<String> {
        sealing_key::claim_server_key_check(&mut self.conn()?, check)
    }
    fn set_sealing_key(&self, key_id: &str) -> StoreResult<()> {
        sealing_key::set(&mut self.conn()?, key_id)
    }

    fn insert_storage_key(
        &self,
        key: &NewStorageKey,
        forget_before: &str,
    ) -> StoreResult<StorageKeyRecord> {
        storage_keys::insert(&mut self.conn()?, key, forget_before)
    }
    fn storage_key(&self, key_id: &str) -> StoreResult<Option<StorageKeyRecord>> {
        storage_keys::find(&mut self.conn()?, key_id)
    }
    fn newest_storage_key(
        &self,
        pipe_id: i64,
        user_id: Option<i64>,
        access: &str,
    ) -> StoreResult<Option<StorageKeyRecord>> {
        storage_keys::newest(&mut self.conn()?, pipe_id, user_id, access)
    }

    fn update_throttles(
        &self,
        keys: &[String],
        now: chrono::DateTime<chrono::Utc>,
        update: &mut crate::ThrottleUpdate<'_>,
    ) -> StoreResult<()> {
        throttles::update(&mut self.conn()?.client, keys, now, update)
    }
}
