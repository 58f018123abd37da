//! The JSON shapes the repo API answers with, shared by the server (which serializes them),
//! local mode and the HTTP client (which read them). Requests stay plain JSON objects so that
//! wrong types are judged by the registry's validation, identically on every face.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A pipe as a caller sees it: storage resolved through its ancestors, `options.remotepath`
/// computed, no credentials.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipeView {
    /// The pipe's unique name.
    pub name: String,
    /// The resolved protocol (`s3`, `ftp`, `sftp`, `fs`).
    pub protocol: String,
    /// The resolved location (bucket, host or folder).
    pub location: String,
    /// The remote the pipe's storage comes from, if it names one (directly or via its root).
    #[serde(default)]
    pub remote: Option<String>,
    /// The parent pipe, `None` for a root.
    #[serde(default)]
    pub parent: Option<String>,
    /// The root of the pipe's chain: its own name for a root pipe.
    #[serde(rename = "parent-ultimate")]
    pub parent_ultimate: String,
    /// The stored options plus the computed `remotepath`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub options: Map<String, Value>,
    /// Free JSON for readers; `{}` when none.
    pub schema: Value,
    /// The caller's access as the wire reports it: `read` or `write`.
    pub role: String,
    /// The owner's username.
    pub owner: String,
}

/// A remote as its owner sees it: everything but the credentials.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteView {
    /// The remote's unique name.
    pub name: String,
    /// `s3`, `ftp`, `sftp` or `fs`.
    pub protocol: String,
    /// Bucket, `host[:port]` or folder.
    pub location: String,
    /// Settings shared by the remote's pipes (`dir`, `endpoint`, `region`, …).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: Map<String, Value>,
    /// Free JSON for readers.
    pub schema: Value,
    /// `none`, `flat` or `split`: which kind of credentials is stored, never their values.
    pub credentials: String,
    /// The owner's username.
    pub owner: String,
}

/// One grant on a pipe.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantView {
    /// The pipe the grant is on.
    pub pipe: String,
    /// The grantee's username, or `public`; for an invitation awaiting confirmation, the
    /// account that registered with its email since; `None` for an invitation nobody has
    /// registered for.
    pub username: Option<String>,
    /// The grantee's email, when known.
    pub email: Option<String>,
    /// `read`, `write` or `admin`; `revoke` in the reply to a revocation.
    pub role: String,
    /// Last day of access (`YYYY-MM-DD`), `None` for no end.
    pub expiration_date: Option<String>,
    /// True while an email invitation gives no access yet ([`GrantStatus::Invited`] or
    /// [`GrantStatus::AwaitingConfirmation`]).
    #[serde(default)]
    pub pending: bool,
    /// Where the grant stands.
    #[serde(default)]
    pub status: GrantStatus,
}

/// Where a grant stands. An invitation (a grant to an email) never goes to an account just
/// because it registered with that email: the address must be verified first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// In force (a user, `public`, or a claimed invitation).
    #[default]
    Active,
    /// An invitation to an email nobody has registered with yet.
    Invited,
    /// An invitation to an email an account has registered with since; it gives no access
    /// until the granting owner confirms the account or the account follows the link mailed
    /// to the address.
    AwaitingConfirmation,
}

/// The reply to following an emailed verification link: the account whose address is now
/// verified and the pipes whose invitations it claimed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationsClaimed {
    /// The account.
    pub username: String,
    /// Its (verified) email.
    pub email: String,
    /// The pipes it now has access to through the claimed invitations.
    pub pipes: Vec<String>,
}

/// One event of a pipe's audit trail (`GET pipes/<name>/audit/`): who fetched its credentials,
/// changed its grants or its settings, and whether it was allowed. Never holds a secret.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditView {
    /// When, as RFC 3339 UTC text.
    pub at: String,
    /// The acting username, `-` for an anonymous caller.
    pub who: String,
    /// What was done: `credentials.read`, `credentials.write`, `grant.set`, `grant.revoke`,
    /// `pipe.create`, `pipe.update`, `pipe.delete`.
    pub action: String,
    /// The pipe it was about (the listed pipe or one of its descendants).
    pub pipe: String,
    /// The grantee of a grant change: a username, an email or `public`.
    #[serde(default)]
    pub grantee: Option<String>,
    /// The role a grant gives.
    #[serde(default)]
    pub role: Option<String>,
    /// `allowed` or `refused`.
    pub outcome: String,
    /// Why it was refused, e.g. `forbidden` or `not_found`; `None` when allowed.
    #[serde(default)]
    pub reason: Option<String>,
    /// The access key id of managed-storage credentials handed out (never the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Until when those credentials work (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The answer of `GET /v1/api/`: who the caller is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// The caller's username, `None` when anonymous.
    pub username: Option<String>,
    /// The caller's email, when authenticated.
    #[serde(default)]
    pub email: Option<String>,
    /// A line for humans, printed by the d6tpipe client (left out when there is none, or
    /// the client would print `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The answer to a registration: the new account and its token.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    /// The new username.
    pub username: String,
    /// The new account's email.
    pub email: String,
    /// The account's persistent API token.
    pub token: String,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("username", &self.username)
            .field("email", &self.email)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The answer to a login: the account's persistent token.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenReply {
    /// The API token.
    pub token: String,
}

impl std::fmt::Debug for TokenReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenReply(<redacted>)")
    }
}

/// Whether an update is a PUT or a PATCH. Both keep the fields the body leaves out (as Django
/// REST Framework does, so write-only credentials survive an update that does not mention
/// them); a PUT must name the resource in its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// PATCH: only the fields given change.
    Partial,
    /// PUT: the body must carry `name`.
    Full,
}
