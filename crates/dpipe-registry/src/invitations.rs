//! Invitations: grants to an email that no account had when they were made. Registering with
//! that email is not enough to get them (anyone can type any address): an invitation is
//! claimed only by an account whose address is verified, in one of two ways.
//!
//! * The granting owner confirms the account (`{email, role: "confirm"}` on the pipe's
//!   permissions; `dpipe perm confirm`), which claims that pipe's invitation. This is the way
//!   in local mode and on servers without mail.
//! * On a server that sends mail ([`Registry::with_mailer`]), registering with an invited
//!   address mails a link to it; following the link (`GET /v1/api/invitations/claim/?token=`)
//!   claims every invitation to the address. The link's token is random, single-use, expires
//!   after [`LINK_LIFETIME`], and only its hash is stored.
//!
//! Every claim is audited as `invitation.claim` on its pipe.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use dpipe_core::fields::Body;
use dpipe_core::name::normalize_email;
use dpipe_core::role::Role;
use dpipe_core::wire::{GrantView, InvitationsClaimed};
use dpipe_core::{Error, Result};
use dpipe_store::{Grantee, NewEmailLink, UserRecord};
use serde_json::Value;

use crate::audit::{Action, Subject};
use crate::{Caller, Registry, StoreResultExt, secrets};

/// The `role` of a permissions body that confirms an invitation.
pub(crate) const CONFIRM: &str = "confirm";
/// How long an emailed link works.
pub const LINK_LIFETIME: TimeDelta = TimeDelta::days(7);
/// The path of the link, under the server's base URL; the token follows as `?token=`, a
/// query string, which the request log leaves out.
pub const CLAIM_PATH: &str = "/v1/api/invitations/claim/";

/// Sends mail; the server's is an SMTP client. The registry decides what is sent and to whom.
pub trait Mailer: Send + Sync {
    /// Sends a plain-text mail to `to`; the error says why it could not be sent.
    fn send(&self, to: &str, subject: &str, text: &str) -> std::result::Result<(), String>;
}

/// Where verification links are sent from and what they point at.
#[derive(Clone)]
pub(crate) struct LinkMail {
    mailer: Arc<dyn Mailer>,
    /// The server's base URL as users reach it, e.g. `http://127.0.0.1:8000`.
    base_url: String,
}

impl Registry {
    /// This registry mailing verification links through `mailer`, pointing at `base_url`
    /// (the server as users reach it, no trailing slash).
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>, base_url: &str) -> Registry {
        self.mail = Some(LinkMail {
            mailer,
            base_url: base_url.trim_end_matches('/').to_string(),
        });
        self
    }

    /// `{email, role: confirm}` on a pipe's permissions: the owner (or an admin) vouches
    /// that the account registered with `email` is the one they invited, which claims the
    /// invitation on this pipe. 400 when no invitation to that email waits on the pipe or
    /// nobody has registered with it yet.
    pub(crate) fn confirm_invitation(
        &self,
        caller: &Caller,
        pipe: &str,
        body: &Value,
    ) -> Result<GrantView> {
        let access = self.access_view(caller)?;
        let pipe = access.pipe(pipe)?.clone();
        access.require(&pipe, Role::Admin)?;
        let body = Body::new(body)?;
        if body.opt_str("username")?.is_some() {
            return Err(Error::invalid_field(
                "username",
                "An invitation is confirmed by its email, not by a username.",
            ));
        }
        let email = normalize_email("email", body.str("email")?)?;
        let invited = Grantee::Email(email.clone());
        let grants = self.store.grants_on_pipe(pipe.id).or_internal()?;
        if !grants.iter().any(|g| g.grantee == invited) {
            return Err(Error::invalid_field(
                "email",
                format!("No invitation to {email} is waiting on pipe {}.", pipe.name),
            ));
        }
        let user = self
            .store
            .user_by_email(&email)
            .or_internal()?
            .ok_or_else(|| {
                Error::invalid_field(
                    "email",
                    format!(
                        "Nobody has registered with {email} yet: the invitation waits until someone does."
                    ),
                )
            })?;
        self.store
            .claim_invitations(user.id, &email, Some(pipe.id))
            .or_internal()?;
        let claimed = self
            .store
            .grants_on_pipe(pipe.id)
            .or_internal()?
            .into_iter()
            .find(|g| g.grantee == Grantee::User(user.id))
            .ok_or_else(|| Error::internal("The claimed invitation vanished."))?;
        tracing::info!(pipe = %pipe.name, user = %user.username, "invitation confirmed by the owner");
        self.grant_view(&pipe.name, &claimed)
    }

    /// After `user` registered: when invitations wait for their address and this registry
    /// sends mail, mails them a link that claims them. A failure is logged, not returned:
    /// the account exists either way, and the owner can still confirm it.
    pub(crate) fn offer_link(&self, user: &UserRecord) {
        let Some(mail) = &self.mail else { return };
        if let Err(error) = self.send_link(mail, user) {
            tracing::warn!(user = %user.username, %error, "the invitation link was not sent");
        }
    }

    fn send_link(&self, mail: &LinkMail, user: &UserRecord) -> Result<()> {
        let invitations = self.store.invitations_to(&user.email).or_internal()?;
        if invitations.is_empty() {
            return Ok(());
        }
        let pipes: Vec<String> = self
            .store
            .all_pipes()
            .or_internal()?
            .into_iter()
            .filter(|p| invitations.iter().any(|g| g.pipe_id == p.id))
            .map(|p| p.name)
            .collect();
        let token = secrets::new_seed();
        let now = self.clock.now();
        self.store
            .insert_email_link(
                &NewEmailLink {
                    user_id: user.id,
                    token_hash: secrets::token_hash(&token),
                    created_at: stamp(now),
                    expires_at: stamp(now + LINK_LIFETIME),
                },
                &stamp(now),
            )
            .or_internal()?;
        let link = format!("{}{CLAIM_PATH}?token={token}", mail.base_url);
        let text = format!(
            "Someone registered the dpipe account \"{username}\" with this address ({email}), \
             and you were invited to these pipes: {pipes}.\n\n\
             If that account is yours, open this link within {days} days to accept the \
             invitations:\n\n{link}\n\n\
             If it is not yours, ignore this mail: the invitations stay unclaimed, and the \
             pipes' owners see who registered.\n",
            username = user.username,
            email = user.email,
            pipes = pipes.join(", "),
            days = LINK_LIFETIME.num_days(),
        );
        mail.mailer
            .send(
                &user.email,
                "Your dpipe invitations: confirm your email",
                &text,
            )
            .map_err(|why| Error::internal(format!("Cannot send mail: {why}")))?;
        tracing::info!(user = %user.username, invitations = invitations.len(), "invitation link mailed");
        Ok(())
    }

    /// `GET invitations/claim/?token=`: the emailed link. Claims every invitation to the
    /// address of the account it was sent for. A link works once and until it expires; an
    /// unknown, used or expired one is a 400 that changes nothing.
    pub fn claim_by_link(&self, token: Option<&str>) -> Result<InvitationsClaimed> {
        let claimed = self.take_link(token).and_then(|user| {
            let pipe_ids = self
                .store
                .claim_invitations(user.id, &user.email, None)
                .or_internal()?;
            let pipes: Vec<String> = self
                .store
                .all_pipes()
                .or_internal()?
                .into_iter()
                .filter(|p| pipe_ids.contains(&p.id))
                .map(|p| p.name)
                .collect();
            Ok(InvitationsClaimed {
                username: user.username,
                email: user.email,
                pipes,
            })
        });
        match claimed {
            Ok(claimed) => {
                for pipe in &claimed.pipes {
                    self.audited(
                        Action::InvitationClaim,
                        &claimed.username,
                        Subject::invitation(pipe, &claimed.email),
                        || Ok(()),
                    )?;
                }
                Ok(claimed)
            }
            Err(error) => self.audited(Action::InvitationClaim, "-", Subject::default(), || {
                Err(error)
            }),
        }
    }

    /// The account a live link was sent for; the link is used up.
    fn take_link(&self, token: Option<&str>) -> Result<UserRecord> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::required("token"))?;
        let unknown = || {
            Error::invalid_field(
                "token",
                "This invitation link is unknown or was used already.",
            )
        };
        let link = self
            .store
            .take_email_link(&secrets::token_hash(token))
            .or_internal()?
            .ok_or_else(unknown)?;
        let expires_at = DateTime::parse_from_rfc3339(&link.expires_at)
            .map_err(|_| Error::internal("A stored invitation link has a malformed expiry."))?;
        if expires_at <= self.clock.now() {
            return Err(Error::invalid_field(
                "token",
                format!(
                    "This invitation link expired on {}; ask the pipe's owner to confirm your account.",
                    expires_at.format("%Y-%m-%d %H:%M UTC")
                ),
            ));
        }
        self.store
            .user_by_id(link.user_id)
            .or_internal()?
            .ok_or_else(unknown)
    }
}

/// A stored time: RFC 3339 UTC, fixed width, so that stored times compare as text.
fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
