//! The rows the store keeps. JSON columns are carried as `serde_json` values; secrets are
//! opaque text to the store (the registry decides how they are encoded) and `Debug` hides them.

use std::fmt;

use chrono::NaiveDate;
use serde_json::{Map, Value};

/// An account.
#[derive(Clone, PartialEq)]
pub struct UserRecord {
    /// Row id.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// Unique, lower-cased email.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// SHA-256 (hex) of the user's current token.
    pub token_hash: String,
    /// Random seed the token is derived from (with the server's key); replaced on rotation.
    pub token_seed: String,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// What it takes to create an account.
#[derive(Clone)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Unique, lower-cased email.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// SHA-256 (hex) of the first token.
    pub token_hash: String,
    /// Random seed the token is derived from.
    pub token_seed: String,
}

/// A storage location with its credentials and shared settings.
#[derive(Clone, PartialEq)]
pub struct RemoteRecord {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The owning user.
    pub owner_id: i64,
    /// `s3`, `ftp`, `sftp` or `fs`.
    pub protocol: String,
    /// Bucket, `host[:port]` or folder.
    pub location: String,
    /// Encoded credentials, if any (opaque to the store).
    pub credentials: Option<String>,
    /// Shared settings.
    pub settings: Map<String, Value>,
    /// Free JSON for readers.
    pub schema: Value,
}

impl fmt::Debug for RemoteRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("protocol", &self.protocol)
            .field("location", &self.location)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// What it takes to create a remote.
#[derive(Clone)]
pub struct NewRemote {
    /// Unique name.
    pub name: String,
    /// The owning user.
    pub owner_id: i64,
    /// `s3`, `ftp`, `sftp` or `fs`.
    pub protocol: String,
    /// Bucket, `host[:port]` or folder.
    pub location: String,
    /// Encoded credentials, if any.
    pub credentials: Option<String>,
    /// Shared settings.
    pub settings: Map<String, Value>,
    /// Free JSON for readers.
    pub schema: Value,
}

/// A pipe. A root pipe has its storage from `remote_id` or inline (`protocol`, `location`,
/// `credentials`, `settings`); a child (`parent_id`) inherits it from its root.
#[derive(Clone, PartialEq)]
pub struct PipeRecord {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// The owning user.
    pub owner_id: i64,
    /// The parent pipe, `None` for a root.
    pub parent_id: Option<i64>,
    /// The remote providing storage (roots only).
    pub remote_id: Option<i64>,
    /// Inline protocol (roots without a remote).
    pub protocol: Option<String>,
    /// Inline location (roots without a remote).
    pub location: Option<String>,
    /// Inline encoded credentials (roots without a remote).
    pub credentials: Option<String>,
    /// Inline storage settings (roots without a remote).
    pub settings: Map<String, Value>,
    /// `dir`, `include`, `exclude`, …
    pub options: Map<String, Value>,
    /// Free JSON for readers.
    pub schema: Value,
}

impl fmt::Debug for PipeRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("parent_id", &self.parent_id)
            .field("remote_id", &self.remote_id)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// What it takes to create a pipe (the same fields as [`PipeRecord`] without the id).
#[derive(Clone)]
pub struct NewPipe {
    /// Unique name.
    pub name: String,
    /// The owning user.
    pub owner_id: i64,
    /// The parent pipe.
    pub parent_id: Option<i64>,
    /// The remote providing storage.
    pub remote_id: Option<i64>,
    /// Inline protocol.
    pub protocol: Option<String>,
    /// Inline location.
    pub location: Option<String>,
    /// Inline encoded credentials.
    pub credentials: Option<String>,
    /// Inline storage settings.
    pub settings: Map<String, Value>,
    /// Options.
    pub options: Map<String, Value>,
    /// Free JSON for readers.
    pub schema: Value,
}

/// Who a grant is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Grantee {
    /// A registered user.
    User(i64),
    /// An email nobody has registered with yet (a pending invitation).
    Email(String),
    /// Everybody, including anonymous callers.
    Public,
}

impl Grantee {
    /// The stable key stored in the unique (pipe, grantee) column.
    pub fn key(&self) -> String {
        match self {
            Grantee::User(id) => format!("user:{id}"),
            Grantee::Email(email) => format!("email:{email}"),
            Grantee::Public => "public".to_string(),
        }
    }
}

/// A grant on a pipe.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantRecord {
    /// Row id.
    pub id: i64,
    /// The pipe granted on.
    pub pipe_id: i64,
    /// Who it is for.
    pub grantee: Grantee,
    /// `read`, `write` or `admin`.
    pub role: String,
    /// Last day of access.
    pub expiration_date: Option<NaiveDate>,
}

/// What it takes to create or replace a grant.
#[derive(Debug, Clone)]
pub struct NewGrant {
    /// The pipe granted on.
    pub pipe_id: i64,
    /// Who it is for.
    pub grantee: Grantee,
    /// `read`, `write` or `admin`.
    pub role: String,
    /// Last day of access.
    pub expiration_date: Option<NaiveDate>,
}

/// A link that verifies a user's email address, as recorded (the token itself is never
/// stored, only its hash).
#[derive(Debug, Clone)]
pub struct NewEmailLink {
    /// The account whose address the link verifies.
    pub user_id: i64,
    /// SHA-256 of the link's token, hex.
    pub token_hash: String,
    /// When it was sent, RFC 3339 UTC.
    pub created_at: String,
    /// When it stops working, RFC 3339 UTC.
    pub expires_at: String,
}

/// A link taken (used) from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLinkRecord {
    /// The account whose address the link verifies.
    pub user_id: i64,
    /// When it stops working, RFC 3339 UTC.
    pub expires_at: String,
}

/// The action of the audit event that starts a pipe's trail: a pipe's events count from its
/// latest allowed creation, so a name reused after a delete starts with an empty trail.
pub const PIPE_CREATE_ACTION: &str = "pipe.create";

/// One audit event to record: who did (or tried) what, to which pipe, remote or grantee, and
/// how it ended. Holds no secret by construction: names, roles and outcomes only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// When, as RFC 3339 UTC text (the registry's clock).
    pub at: String,
    /// The acting username, or `-` for an anonymous caller.
    pub who: String,
    /// What was done, e.g. `credentials.read`, `grant.set`, `pipe.update`, `login.failed`.
    pub action: String,
    /// The pipe it was about, by name.
    pub pipe: Option<String>,
    /// The remote it was about, by name.
    pub remote: Option<String>,
    /// The grantee of a grant change: a username, an email or `public`.
    pub grantee: Option<String>,
    /// The role a grant gives (`read`, `write`, `admin`).
    pub role: Option<String>,
    /// The client's IP address, where the registry knows it (logins).
    pub source: Option<String>,
    /// `allowed` or `refused`.
    pub outcome: String,
    /// Why it was refused (an error kind such as `forbidden`), `None` when allowed.
    pub reason: Option<String>,
    /// The access key id of managed-storage credentials handed out (never the secret).
    pub key_id: Option<String>,
    /// Until when those credentials work (RFC 3339 UTC).
    pub expires_at: Option<String>,
}

/// Which audit events to read: each given condition must hold (none given: all events).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditFilter<'a> {
    /// Only events at or after this instant, as RFC 3339 UTC text in the recorded form
    /// (milliseconds and `Z`, e.g. `2026-06-15T00:00:00.000Z`), which orders as time does.
    pub since: Option<&'a str>,
    /// Only events of this actor.
    pub who: Option<&'a str>,
    /// Only events of this action.
    pub action: Option<&'a str>,
}

/// A recorded audit event: [`NewAuditEvent`] with its row id, which orders events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Row id; later events have larger ids.
    pub id: i64,
    /// The event as recorded.
    pub event: NewAuditEvent,
}

/// A key minted for the built-in object store: it lets `user_id` (`None`: an anonymous
/// caller of a public pipe) reach the files of `pipe_id` with `access` until `expires_at`, as
/// long as the rules still allow it at each request. Holds no secret (it is derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageKeyRecord {
    /// Row id.
    pub id: i64,
    /// The access key id the client signs with.
    pub key_id: String,
    /// The user it was minted for; `None` for an anonymous caller.
    pub user_id: Option<i64>,
    /// The pipe whose files it reaches.
    pub pipe_id: i64,
    /// `read` or `write`.
    pub access: String,
    /// When it stops working, as RFC 3339 UTC text with milliseconds (ordered as text).
    pub expires_at: String,
}

/// What it takes to record a minted key.
#[derive(Debug, Clone)]
pub struct NewStorageKey {
    /// The access key id.
    pub key_id: String,
    /// The user it is minted for.
    pub user_id: Option<i64>,
    /// The pipe whose files it reaches.
    pub pipe_id: i64,
    /// `read` or `write`.
    pub access: String,
    /// When it was minted (RFC 3339 UTC, milliseconds).
    pub created_at: String,
    /// When it stops working (RFC 3339 UTC, milliseconds).
    pub expires_at: String,
}
