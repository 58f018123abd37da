//! Permissions on pipes (protocol §4.11–4.12, §6): granting by username, by email or to
//! `public`, changing and revoking, and listing them. A grant by email to an address an
//! account has applies to that account at once; to any other address it is an invitation,
//! claimed only once an account's address is verified (see `invitations`).

use dpipe_core::fields::Body;
use dpipe_core::name::{PUBLIC, normalize_email};
use dpipe_core::role::{GrantChange, Role, parse_expiration};
use dpipe_core::wire::{GrantStatus, GrantView};
use dpipe_core::{Error, Result};
use dpipe_store::{GrantRecord, Grantee, NewGrant};
use serde_json::Value;

use crate::audit::{Action, Subject};
use crate::invitations::CONFIRM;
use crate::{Caller, Registry, StoreResultExt};

impl Registry {
    /// `POST pipes/<name>/permissions/`: `{username|email, role, expiration_date?}`. An upsert
    /// keyed by (pipe, grantee); `role: revoke` deletes (a no-op when there is nothing to
    /// delete); `{email, role: confirm}` confirms the account that registered with the email
    /// of an invitation (`invitations`). Needs admin rights on the pipe. Audited as
    /// `grant.set`, `grant.revoke` or `invitation.claim`.
    pub fn grant(&self, caller: &Caller, pipe: &str, body: &Value) -> Result<GrantView> {
        self.audited(
            Action::grant(body),
            caller.name(),
            Subject::grant(pipe, body),
            || match body.get("role").and_then(Value::as_str) {
                Some(CONFIRM) => self.confirm_invitation(caller, pipe, body),
                _ => self.change_grant(caller, pipe, body),
            },
        )
    }

    fn change_grant(&self, caller: &Caller, pipe: &str, body: &Value) -> Result<GrantView> {
        let access = self.access_view(caller)?;
        let pipe = access.pipe(pipe)?.clone();
        access.require(&pipe, Role::Admin)?;
        let body = Body::new(body)?;
        let change = GrantChange::parse(body.str("role")?)?;
        let expiration_date = body
            .opt_str("expiration_date")?
            .map(parse_expiration)
            .transpose()?;
        let (grantee, username, email) = match (body.opt_str("username")?, body.opt_str("email")?) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(Error::invalid_field(
                    "non_field_errors",
                    "Give exactly one of username or email.",
                ));
            }
            (Some(username), None) if username == PUBLIC => {
                (Grantee::Public, Some(PUBLIC.to_string()), None)
            }
            (Some(username), None) => {
                let user = self
                    .store
                    .user_by_username(username)
                    .or_internal()?
                    .ok_or_else(|| {
                        Error::invalid_field("username", format!("User {username} does not exist."))
                    })?;
                (
                    Grantee::User(user.id),
                    Some(user.username),
                    Some(user.email),
                )
            }
            (None, Some(email)) => {
                let email = normalize_email("email", email)?;
                match self.store.user_by_email(&email).or_internal()? {
                    Some(user) => (
                        Grantee::User(user.id),
                        Some(user.username),
                        Some(user.email),
                    ),
                    None => (Grantee::Email(email.clone()), None, Some(email)),
                }
            }
        };
        if let (Grantee::User(_), Some(email)) = (&grantee, &email) {
            // The user's own grant supersedes an invitation to their address still waiting
            // on this pipe, and a revocation takes both away.
            self.store
                .delete_grant(pipe.id, &Grantee::Email(email.clone()))
                .or_internal()?;
        }
        let status = match grantee {
            Grantee::Email(_) => GrantStatus::Invited,
            Grantee::User(_) | Grantee::Public => GrantStatus::Active,
        };
        let role = match change {
            GrantChange::Revoke => {
                self.store.delete_grant(pipe.id, &grantee).or_internal()?;
                "revoke".to_string()
            }
            GrantChange::Set(role) => {
                let stored = self
                    .store
                    .upsert_grant(&NewGrant {
                        pipe_id: pipe.id,
                        grantee: grantee.clone(),
                        role: role.as_str().to_string(),
                        expiration_date,
                    })
                    .or_internal()?;
                stored.role
            }
        };
        Ok(GrantView {
            pipe: pipe.name,
            username,
            email,
            role,
            expiration_date: match change {
                GrantChange::Revoke => None,
                GrantChange::Set(_) => expiration_date.map(|d| d.format("%Y-%m-%d").to_string()),
            },
            pending: status != GrantStatus::Active,
            status,
        })
    }

    /// `GET pipes/<name>/permissions/`: the grants on the pipe itself; needs admin rights.
    pub fn list_grants(&self, caller: &Caller, pipe: &str) -> Result<Vec<GrantView>> {
        let access = self.access_view(caller)?;
        let pipe = access.pipe(pipe)?;
        access.require(pipe, Role::Admin)?;
        let grants = self.store.grants_on_pipe(pipe.id).or_internal()?;
        grants
            .iter()
            .map(|g| self.grant_view(&pipe.name, g))
            .collect()
    }

    /// How `grant` on `pipe` is shown. An invitation names the account that registered with
    /// its email since, if any: that is who the owner is asked to confirm.
    pub(crate) fn grant_view(&self, pipe: &str, grant: &GrantRecord) -> Result<GrantView> {
        let (username, email, status) = match &grant.grantee {
            Grantee::Public => (Some(PUBLIC.to_string()), None, GrantStatus::Active),
            Grantee::Email(email) => match self.store.user_by_email(email).or_internal()? {
                Some(user) => (
                    Some(user.username),
                    Some(email.clone()),
                    GrantStatus::AwaitingConfirmation,
                ),
                None => (None, Some(email.clone()), GrantStatus::Invited),
            },
            Grantee::User(id) => {
                let user = self.store.user_by_id(*id).or_internal()?;
                (
                    user.as_ref().map(|u| u.username.clone()),
                    user.map(|u| u.email),
                    GrantStatus::Active,
                )
            }
        };
        Ok(GrantView {
            pipe: pipe.to_string(),
            username,
            email,
            role: grant.role.clone(),
            expiration_date: grant
                .expiration_date
                .map(|d| d.format("%Y-%m-%d").to_string()),
            pending: status != GrantStatus::Active,
            status,
        })
    }
}
