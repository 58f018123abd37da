//! The audit trail: every credential fetch, grant change, invitation claim, failed login, token rotation and
//! settings change (pipes and remotes), allowed or refused, becomes one `tracing` line with
//! target `dpipe::audit` and one row of the store's `audit_events` table. `Registry::audited`
//! is the one place that records; operations wrap themselves in it. [`Registry::audit`] lists
//! a pipe's trail for its owner, narrowed by an [`AuditQuery`] (time, user, action) in the
//! store's query, so that its length cap counts matching events only.
//!
//! An event holds names, roles, outcomes and times only — never a token, password,
//! credential value or request body. Names that come from the request (a pipe being created,
//! a username being tried) are cut to `MAX_NAME_CHARS` with control characters replaced,
//! and free-text fields are logged quoted, so a crafted name cannot forge log lines.
//!
//! When the store cannot record an event, the event is still logged, at error level with the
//! cause. A credential fetch then fails closed (500, no credentials released): credentials
//! never leave without a trace. Other operations have already been applied by then, so they
//! report their own outcome; their event survives in the error line.

use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, Utc};
use dpipe_core::role::Role;
use dpipe_core::wire::AuditView;
use dpipe_core::{Error, Result};
use dpipe_store::{AuditFilter, AuditRecord, NewAuditEvent, PIPE_CREATE_ACTION};
use serde_json::Value;
use tracing::Level;

use crate::{Caller, Registry, StoreResultExt};

/// The most events [`Registry::audit`] returns (the newest ones).
pub const AUDIT_LIMIT: usize = 1000;
/// The action of a credential fetch for reading, the most repeated event of a trail.
pub const CREDENTIALS_READ: &str = Action::CredentialsRead.as_str();
/// The actions a pipe's trail can hold (the others are about no pipe).
pub const PIPE_ACTIONS: [&str; 8] = [
    CREDENTIALS_READ,
    Action::CredentialsWrite.as_str(),
    Action::GrantSet.as_str(),
    Action::GrantRevoke.as_str(),
    Action::InvitationClaim.as_str(),
    Action::PipeCreate.as_str(),
    Action::PipeUpdate.as_str(),
    Action::PipeDelete.as_str(),
];
/// Names taken from a request are cut to this many characters in the trail.
const MAX_NAME_CHARS: usize = 128;

/// What an audited operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    CredentialsRead,
    CredentialsWrite,
    GrantSet,
    GrantRevoke,
    InvitationClaim,
    LoginFailed,
    TokenRotate,
    PipeCreate,
    PipeUpdate,
    PipeDelete,
    RemoteCreate,
    RemoteUpdate,
    RemoteDelete,
    RemoteCredentials,
}

impl Action {
    /// The action's name in the trail.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Action::CredentialsRead => "credentials.read",
            Action::CredentialsWrite => "credentials.write",
            Action::GrantSet => "grant.set",
            Action::GrantRevoke => "grant.revoke",
            Action::InvitationClaim => "invitation.claim",
            Action::LoginFailed => "login.failed",
            Action::TokenRotate => "token.rotate",
            Action::PipeCreate => PIPE_CREATE_ACTION,
            Action::PipeUpdate => "pipe.update",
            Action::PipeDelete => "pipe.delete",
            Action::RemoteCreate => "remote.create",
            Action::RemoteUpdate => "remote.update",
            Action::RemoteDelete => "remote.delete",
            Action::RemoteCredentials => "remote.credentials",
        }
    }

    /// The fetch of credentials for the requested `role` (anything but `write` is a read).
    pub(crate) fn credentials(role: Option<&str>) -> Action {
        match role {
            Some("write") => Action::CredentialsWrite,
            _ => Action::CredentialsRead,
        }
    }

    /// The grant change a permissions body asks for.
    pub(crate) fn grant(body: &Value) -> Action {
        match body.get("role").and_then(Value::as_str) {
            Some("revoke") => Action::GrantRevoke,
            Some(crate::invitations::CONFIRM) => Action::InvitationClaim,
            _ => Action::GrantSet,
        }
    }

    /// Credentials are released only once their release is recorded.
    fn fails_closed(self) -> bool {
        matches!(
            self,
            Action::CredentialsRead | Action::CredentialsWrite | Action::RemoteCredentials
        )
    }

    /// A login is recorded only when it fails.
    fn records_success(self) -> bool {
        self != Action::LoginFailed
    }
}

/// What an event is about. Built from names only, so it cannot carry a secret.
#[derive(Debug, Default)]
pub(crate) struct Subject {
    pipe: Option<String>,
    remote: Option<String>,
    grantee: Option<String>,
    role: Option<String>,
    source: Option<IpAddr>,
    key_id: Option<String>,
    expires_at: Option<String>,
}

impl Subject {
    /// About the pipe `name`.
    pub(crate) fn pipe(name: &str) -> Subject {
        Subject {
            pipe: Some(clean(name)),
            ..Subject::default()
        }
    }

    /// About the pipe named in a create body (nothing when it names none).
    pub(crate) fn pipe_in(body: &Value) -> Subject {
        Subject {
            pipe: body.get("name").and_then(Value::as_str).map(clean),
            ..Subject::default()
        }
    }

    /// About the remote `name`.
    pub(crate) fn remote(name: &str) -> Subject {
        Subject {
            remote: Some(clean(name)),
            ..Subject::default()
        }
    }

    /// About the remote named in a create body.
    pub(crate) fn remote_in(body: &Value) -> Subject {
        Subject {
            remote: body.get("name").and_then(Value::as_str).map(clean),
            ..Subject::default()
        }
    }

    /// About a grant change on `pipe` as a permissions body asks for it: the grantee as given
    /// (username, email or `public`) and the role.
    pub(crate) fn grant(pipe: &str, body: &Value) -> Subject {
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(clean);
        Subject {
            grantee: text("username").or_else(|| text("email")),
            role: text("role")
                .filter(|role| role != "revoke" && role != crate::invitations::CONFIRM),
            ..Subject::pipe(pipe)
        }
    }

    /// Notes the managed-storage credentials handed out: their key id and expiry (never the
    /// secret).
    pub(crate) fn handed_out(&mut self, key_id: &str, expires_at: &str) {
        self.key_id = Some(clean(key_id));
        self.expires_at = Some(clean(expires_at));
    }

    /// An invitation to `email` on `pipe`, claimed.
    pub(crate) fn invitation(pipe: &str, email: &str) -> Subject {
        Subject {
            grantee: Some(clean(email)),
            ..Subject::pipe(pipe)
        }
    }

    /// A login attempt from `source`.
    pub(crate) fn login(source: Option<IpAddr>) -> Subject {
        Subject {
            source,
            ..Subject::default()
        }
    }
}

/// Which events of a pipe's trail [`Registry::audit`] lists: those matching every condition
/// given (all of them by default). Over HTTP, the query parameters `since` (RFC 3339),
/// `user` and `action`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only events of this username (`-` for anonymous callers).
    pub user: Option<String>,
    /// Only events of this action, one of [`PIPE_ACTIONS`].
    pub action: Option<String>,
}

impl AuditQuery {
    /// The query parameters that carry this query over HTTP.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let since = self.since.map(|since| ("since", recorded_time(since)));
        let user = self.user.clone().map(|user| ("user", user));
        let action = self.action.clone().map(|action| ("action", action));
        since.into_iter().chain(user).chain(action).collect()
    }

    /// The query the parameters `pairs` ask for (the first of each wins); 400 for a `since`
    /// that is not RFC 3339 or a parameter it does not know.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<AuditQuery> {
        let mut query = AuditQuery::default();
        for (key, value) in pairs {
            match key.as_str() {
                "since" if query.since.is_none() => {
                    let since = DateTime::parse_from_rfc3339(value).map_err(|_| {
                        Error::invalid_field(
                            "since",
                            "Datetime has wrong format. Use RFC 3339, e.g. 2026-06-15T00:00:00Z.",
                        )
                    })?;
                    query.since = Some(since.to_utc());
                }
                "user" if query.user.is_none() => query.user = Some(value.clone()),
                "action" if query.action.is_none() => query.action = Some(value.clone()),
                "since" | "user" | "action" => {}
                other => {
                    return Err(Error::invalid(format!(
                        "Unknown query parameter {:?}; known: since, user, action.",
                        clean(other)
                    )));
                }
            }
        }
        Ok(query)
    }

    /// 400 when the action is one no pipe's trail holds.
    fn check(&self) -> Result<()> {
        match &self.action {
            Some(action) if !PIPE_ACTIONS.contains(&action.as_str()) => Err(Error::invalid_field(
                "action",
                format!(
                    "Unknown action {:?}; known actions: {}.",
                    clean(action),
                    PIPE_ACTIONS.join(", ")
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// An instant as the trail records it: RFC 3339 UTC with milliseconds and `Z`, a text that
/// orders as time does (the store filters on it).
fn recorded_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Request text made safe for the trail: bounded length, no control characters.
fn clean(text: &str) -> String {
    text.chars()
        .take(MAX_NAME_CHARS)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// One line with target `dpipe::audit` at `$level`; free text is logged quoted (Debug).
macro_rules! log_event {
    ($level:expr, $event:expr, $message:literal $(, $($extra:tt)+)?) => {{
        let event: &NewAuditEvent = $event;
        tracing::event!(
            target: "dpipe::audit",
            $level,
            who = event.who.as_str(),
            action = %event.action,
            pipe = event.pipe.as_deref(),
            remote = event.remote.as_deref(),
            grantee = event.grantee.as_deref(),
            role = event.role.as_deref(),
            source = event.source.as_deref(),
            outcome = %event.outcome,
            reason = event.reason.as_deref(),
            key_id = event.key_id.as_deref(),
            expires_at = event.expires_at.as_deref(),
            at = %event.at,
            $($($extra)+,)?
            $message
        )
    }};
}

impl Registry {
    /// Runs `op` as `who` (a username, `-` for anonymous) and records its outcome as
    /// `action` on `subject`, whether `Ok` or `Err`; see the module doc for what happens when
    /// recording fails.
    pub(crate) fn audited<T>(
        &self,
        action: Action,
        who: &str,
        subject: Subject,
        op: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.audited_with(action, who, subject, |_| op())
    }

    /// [`Registry::audited`] for an operation that adds to the subject what only it learns
    /// (the key it minted).
    pub(crate) fn audited_with<T>(
        &self,
        action: Action,
        who: &str,
        mut subject: Subject,
        op: impl FnOnce(&mut Subject) -> Result<T>,
    ) -> Result<T> {
        let result = op(&mut subject);
        if result.is_ok() && !action.records_success() {
            return result;
        }
        let event = NewAuditEvent {
            at: recorded_time(self.clock.now()),
            who: clean(who),
            action: action.as_str().to_string(),
            pipe: subject.pipe,
            remote: subject.remote,
            grantee: subject.grantee,
            role: subject.role,
            source: subject.source.map(|ip| ip.to_string()),
            outcome: if result.is_ok() { "allowed" } else { "refused" }.to_string(),
            reason: result.as_ref().err().map(|e| e.kind().as_str().to_string()),
            key_id: subject.key_id,
            expires_at: subject.expires_at,
        };
        match &result {
            Ok(_) => log_event!(Level::INFO, &event, "audit"),
            Err(_) => log_event!(Level::WARN, &event, "audit"),
        }
        if let Err(error) = self.store.insert_audit(&event) {
            log_event!(Level::ERROR, &event, "audit event not stored", error = %error);
            if result.is_ok() && action.fails_closed() {
                return Err(Error::internal(
                    "The audit trail could not be written, so no credentials were released; see the server log.",
                ));
            }
        }
        result
    }

    /// `GET pipes/<name>/audit/[?since=&user=&action=]`: the newest [`AUDIT_LIMIT`] events
    /// about the pipe and its descendants that match `query`, newest first — credential
    /// fetches, grant and settings changes, allowed or refused. Only the owner (of the pipe or
    /// an ancestor) may list them: 404 for a missing pipe, 401 anonymous, 403 anyone else; an
    /// action no trail holds is a 400 naming the known ones. Descendants are today's: a child
    /// moved here brings its trail along.
    pub fn audit(&self, caller: &Caller, pipe: &str, query: &AuditQuery) -> Result<Vec<AuditView>> {
        // Strangers learn nothing, not even whether their query was well formed.
        caller.user()?;
        query.check()?;
        let access = self.access_view(caller)?;
        let pipe = access.pipe(pipe)?;
        access.require(pipe, Role::Owner)?;
        let names: Vec<String> = access
            .tree
            .all()
            .iter()
            .filter(|p| access.tree.is_within(p.id, pipe.id))
            .map(|p| p.name.clone())
            .collect();
        let since = query.since.map(recorded_time);
        let filter = AuditFilter {
            since: since.as_deref(),
            who: query.user.as_deref(),
            action: query.action.as_deref(),
        };
        let records = self
            .store
            .audit_events_for_pipes(&names, &filter, AUDIT_LIMIT)
            .or_internal()?;
        Ok(records.into_iter().filter_map(view).collect())
    }
}

fn view(record: AuditRecord) -> Option<AuditView> {
    let event = record.event;
    Some(AuditView {
        at: event.at,
        who: event.who,
        action: event.action,
        pipe: event.pipe?,
        grantee: event.grantee,
        role: event.role,
        outcome: event.outcome,
        reason: event.reason,
        key_id: event.key_id,
        expires_at: event.expires_at,
    })
}
