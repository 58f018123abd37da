//! Persistence for the repo API.
//!
//! [`Store`] is the seam: plain records in, plain records out, every method one atomic
//! operation. It knows nothing of HTTP or of the rules — `dpipe-registry` decides what may be
//! written; the store only makes sure that what is written is written whole and that unique
//! names stay unique. Two implementations keep the same semantics (one conformance suite,
//! `tests/it`, runs against both):
//!
//! * [`SqliteStore`], the default: one file, WAL, migrations — one server instance.
//! * [`PgStore`]: PostgreSQL through a connection pool, so several stateless server instances
//!   share one database.

mod error;
mod pipe_queries;
mod postgres;
mod records;
mod sqlite;
mod throttles;

pub use error::{StoreError, StoreResult};
pub use postgres::{DEFAULT_POOL_SIZE, PgStore};
pub use records::{
    AuditFilter, AuditRecord, EmailLinkRecord, GrantRecord, Grantee, NewAuditEvent, NewEmailLink,
    NewGrant, NewPipe, NewRemote, NewStorageKey, NewUser, PIPE_CREATE_ACTION, PipeRecord,
    RemoteRecord, StorageKeyRecord, UserRecord,
};
pub use sqlite::SqliteStore;
pub use throttles::{ThrottleState, ThrottleUpdate};

/// The callback of [`Store::rewrite_credentials`]: (kind, name, stored) → new stored text.
pub type CredentialsRewrite<'a> =
    dyn FnMut(&str, &str, &str) -> Result<Option<String>, String> + 'a;

/// Where the repo API's state lives. Each method is atomic; uniqueness of user names, emails,
/// remote names, pipe names and (pipe, grantee) pairs is enforced here.
pub trait Store: Send + Sync {
    /// How many calls the store serves at once (its connections): a server lets about this
    /// many requests wait on it together, so that a pool is used without queueing threads
    /// on a single connection.
    fn concurrent_calls(&self) -> usize;

    /// Creates a user. Invitations waiting for the user's email stay waiting: they are
    /// claimed only once the address is verified ([`Store::claim_invitations`]).
    fn insert_user(&self, user: &NewUser) -> StoreResult<UserRecord>;
    /// The user with this id.
    fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRecord>>;
    /// The user with this username.
    fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    /// The user with this (lower-cased) email.
    fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    /// The user whose token hashes to `token_hash`.
    fn user_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<UserRecord>>;
    /// Replaces a user's token hash and seed (token rotation, logout).
    fn set_user_token(&self, id: i64, token_hash: &str, token_seed: &str) -> StoreResult<()>;
    /// Deletes a user with their pipes (and those pipes' children), remotes and grants.
    fn delete_user(&self, id: i64) -> StoreResult<()>;

    /// Creates a remote.
    fn insert_remote(&self, remote: &NewRemote) -> StoreResult<RemoteRecord>;
    /// Rewrites a remote's mutable fields (by id).
    fn update_remote(&self, remote: &RemoteRecord) -> StoreResult<RemoteRecord>;
    /// The remote with this name.
    fn remote_by_name(&self, name: &str) -> StoreResult<Option<RemoteRecord>>;
    /// The remote with this id.
    fn remote_by_id(&self, id: i64) -> StoreResult<Option<RemoteRecord>>;
    /// All remotes of one owner, by name.
    fn remotes_of_owner(&self, owner_id: i64) -> StoreResult<Vec<RemoteRecord>>;
    /// Deletes a remote; [`StoreError::InUse`] with the pipe names while pipes use it.
    fn delete_remote(&self, id: i64) -> StoreResult<()>;

    /// Creates a pipe.
    fn insert_pipe(&self, pipe: &NewPipe) -> StoreResult<PipeRecord>;
    /// Rewrites a pipe's mutable fields (by id).
    fn update_pipe(&self, pipe: &PipeRecord) -> StoreResult<PipeRecord>;
    /// The pipe with this name.
    fn pipe_by_name(&self, name: &str) -> StoreResult<Option<PipeRecord>>;
    /// Every pipe, by name (listing and ancestry are resolved from this).
    fn all_pipes(&self) -> StoreResult<Vec<PipeRecord>>;
    /// Pipe `id` and its ancestors, in no particular order; empty when there is no such pipe.
    /// (Judging one request about one pipe needs its chain, not every pipe.)
    fn pipe_chain(&self, id: i64) -> StoreResult<Vec<PipeRecord>>;
    /// The pipes a caller may see, by name, with their ancestors: those whose chain holds a
    /// pipe owned by `user_id` or a grant to it or to the public (any role, any expiration —
    /// the registry judges those). Listing pipes needs these, not every pipe.
    fn pipes_reaching(&self, user_id: Option<i64>) -> StoreResult<Vec<PipeRecord>>;
    /// Deletes a pipe with all its descendants and their grants.
    fn delete_pipe(&self, id: i64) -> StoreResult<()>;

    /// Creates or replaces the grant of (pipe, grantee).
    fn upsert_grant(&self, grant: &NewGrant) -> StoreResult<GrantRecord>;
    /// Deletes the grant of (pipe, grantee); false when there was none.
    fn delete_grant(&self, pipe_id: i64, grantee: &Grantee) -> StoreResult<bool>;
    /// The grants on one pipe.
    fn grants_on_pipe(&self, pipe_id: i64) -> StoreResult<Vec<GrantRecord>>;
    /// The grants that can reach a caller: those to `user_id` (if any) and public ones.
    fn grants_reaching(&self, user_id: Option<i64>) -> StoreResult<Vec<GrantRecord>>;
    /// The pending invitations (grants to an email) to `email`, on any pipe.
    fn invitations_to(&self, email: &str) -> StoreResult<Vec<GrantRecord>>;
    /// Turns the invitations to `email` (on `pipe_id` only, when given) into grants to
    /// `user_id`; returns the ids of the pipes they are on.
    fn claim_invitations(
        &self,
        user_id: i64,
        email: &str,
        pipe_id: Option<i64>,
    ) -> StoreResult<Vec<i64>>;

    /// Records an email verification link (its token's hash) and, in the same transaction,
    /// forgets every link that expired before `forget_before` (RFC 3339 UTC).
    fn insert_email_link(&self, link: &NewEmailLink, forget_before: &str) -> StoreResult<()>;
    /// Deletes and returns the link whose token hashes to `token_hash`: each link works once.
    fn take_email_link(&self, token_hash: &str) -> StoreResult<Option<EmailLinkRecord>>;

    /// Appends one event to the audit trail.
    fn insert_audit(&self, event: &NewAuditEvent) -> StoreResult<AuditRecord>;
    /// The newest `limit` audit events about the pipes named `pipes` that pass `filter`,
    /// newest first. A pipe's events count from its latest allowed [`PIPE_CREATE_ACTION`] on,
    /// so a name reused after a delete does not show the earlier pipe's events.
    fn audit_events_for_pipes(
        &self,
        pipes: &[String],
        filter: &AuditFilter<'_>,
        limit: usize,
    ) -> StoreResult<Vec<AuditRecord>>;

    /// Passes every stored credentials value to `rewrite` as (`remote`|`pipe`, record name,
    /// stored text) and stores what it returns (`None`: keep), all in one transaction; an
    /// `Err` from `rewrite` rolls everything back. Returns how many values were rewritten.
    fn rewrite_credentials(&self, rewrite: &mut CredentialsRewrite<'_>) -> StoreResult<usize>;
    /// The id of the credentials key every server sharing this database seals with now;
    /// `None` until the first server recorded one.
    fn sealing_key(&self) -> StoreResult<Option<String>>;
    /// Records `key_id` as the key that seals from now on (a rotation).
    fn set_sealing_key(&self, key_id: &str) -> StoreResult<()>;
    /// Records `check` (a value derived from the server key) unless one is recorded already,
    /// and returns the recorded one: the first server to start on a database decides which
    /// server key every other one must have.
    fn claim_server_key_check(&self, check: &str) -> StoreResult<String>;

    /// Records a key minted for the built-in object store and, in the same transaction,
    /// forgets every key that expired before `forget_before` (RFC 3339 UTC).
    fn insert_storage_key(
        &self,
        key: &NewStorageKey,
        forget_before: &str,
    ) -> StoreResult<StorageKeyRecord>;
    /// The minted key with this access key id.
    fn storage_key(&self, key_id: &str) -> StoreResult<Option<StorageKeyRecord>>;
    /// The minted key of (pipe, user, access) that expires last.
    fn newest_storage_key(
        &self,
        pipe_id: i64,
        user_id: Option<i64>,
        access: &str,
    ) -> StoreResult<Option<StorageKeyRecord>>;

    /// Reads the states of `keys` (distinct; a state expired by `now` reads as `None`), passes
    /// them to `update` and stores the states it returns, one per key (`None`: delete), in one
    /// transaction that serializes against every other update of the same keys — from this
    /// store, or any other process or server sharing the database — so a read-modify-write
    /// loses nothing. Each call also deletes a bounded number of expired states of any key,
    /// so the table holds little more than the live states without a separate clean-up job.
    fn update_throttles(
        &self,
        keys: &[String],
        now: chrono::DateTime<chrono::Utc>,
        update: &mut ThrottleUpdate<'_>,
    ) -> StoreResult<()>;
}
