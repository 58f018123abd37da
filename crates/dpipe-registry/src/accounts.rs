//! Accounts: registering, logging in, authenticating a token, unregistering, and the local
//! user of local mode.

use std::net::IpAddr;

use dpipe_core::fields::Body;
use dpipe_core::name::{normalize_email, validate_username};
use dpipe_core::wire::{Registered, TokenReply, WhoAmI};
use dpipe_core::{Error, Result};
use dpipe_store::{NewUser, UserRecord};
use serde_json::Value;

use crate::audit::{Action, Subject};
use crate::secrets::{self, UNUSABLE_PASSWORD};
use crate::{Caller, Registry, StoreResultExt, login_limit};

/// DRF's wording for a failed login.
const BAD_LOGIN: &str = "Unable to log in with provided credentials.";
/// The shortest password accepted at registration, in characters (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// A refused login: the error the caller sees and, when the attempt was throttled, how many
/// seconds to wait before the next one (the server's `Retry-After`).
#[derive(Debug)]
pub struct LoginRefused {
    /// The refusal, for the error body.
    pub error: Error,
    /// Seconds until the next attempt may be made, for a throttled attempt.
    pub retry_after: Option<u64>,
}

impl Registry {
    /// `POST accounts/`: creates an account from `{username, email, password}` and returns its
    /// token. Invitations to the email stay pending until the address is verified; when this
    /// registry sends mail, a link that verifies it goes to the address (`invitations`).
    ///
    /// The username is judged first (valid, not reserved, not taken), so a taken name is
    /// named as such whatever the password; then the email, then the password's length.
    pub fn register(&self, body: &Value) -> Result<Registered> {
        let body = Body::new(body)?;
        let username = body.str("username")?;
        validate_username(username)?;
        if self
            .store
            .user_by_username(username)
            .or_internal()?
            .is_some()
        {
            return Err(Error::not_unique("username"));
        }
        let email = normalize_email("email", body.str("email")?)?;
        let password = body.str("password")?;
        if password.chars().count() < MIN_PASSWORD_CHARS {
            // Django's wording.
            return Err(Error::invalid_field(
                "password",
                format!(
                    "This password is too short. It must contain at least {MIN_PASSWORD_CHARS} characters."
                ),
            ));
        }
        let seed = secrets::new_seed();
        let token = self.key.token(&seed);
        let user = self
            .store
            .insert_user(&NewUser {
                username: username.to_string(),
                email: email.clone(),
                password_hash: secrets::hash_password(password)?,
                token_hash: secrets::token_hash(&token),
                token_seed: seed,
            })
            .or_internal()?;
        tracing::info!(user = %user.username, "registered");
        self.offer_link(&user);
        Ok(Registered {
            username: user.username,
            email: user.email,
            token,
        })
    }

    /// `POST accounts/token/`: the persistent token of `{username, password}`, for a client
    /// at `source` (when known). Failed logins are throttled per (username, source), and per
    /// source (429 with the wait, see `login_limit`), and audited as `login.failed`.
    pub fn login(
        &self,
        body: &Value,
        source: Option<IpAddr>,
    ) -> std::result::Result<TokenReply, LoginRefused> {
        let tried = body.get("username").and_then(Value::as_str).unwrap_or("-");
        let mut throttled = None;
        let result = self.audited(Action::LoginFailed, tried, Subject::login(source), || {
            let body = Body::new(body)?;
            let username = body.str("username")?;
            let password = body.str("password")?;
            let now = self.clock.now();
            if let Some(wait) = login_limit::attempt(self.store.as_ref(), username, source, now)? {
                return Err(throttled.insert(wait).error());
            }
            let user = self.store.user_by_username(username).or_internal()?;
            // Verify against a dummy hash for unknown users so timing does not tell them apart.
            let stored = user
                .as_ref()
                .map_or(UNUSABLE_PASSWORD, |u| u.password_hash.as_str());
            match user {
                Some(user) if secrets::verify_password(password, stored) => {
                    login_limit::succeeded(self.store.as_ref(), username, source, now)?;
                    Ok(TokenReply {
                        token: self.key.token(&user.token_seed),
                    })
                }
                _ => Err(Error::invalid_field("non_field_errors", BAD_LOGIN)),
            }
        });
        result.map_err(|error| LoginRefused {
            error,
            retry_after: throttled.map(|wait| wait.seconds()),
        })
    }

    /// Resolves an API token to its user; 401 `Invalid token.` when it matches nobody.
    pub fn authenticate(&self, token: &str) -> Result<Caller> {
        let hash = secrets::token_hash(token);
        match self.store.user_by_token_hash(&hash).or_internal()? {
            Some(user) if secrets::same_hash(&user.token_hash, &hash) => Ok(Caller::User(user)),
            _ => Err(Error::new(
                dpipe_core::ErrorKind::Unauthenticated,
                "Invalid token.",
            )),
        }
    }

    /// `GET /v1/api/`: who the caller is.
    pub fn whoami(&self, caller: &Caller) -> Result<WhoAmI> {
        let user = caller.user()?;
        Ok(WhoAmI {
            username: Some(user.username.clone()),
            email: Some(user.email.clone()),
            message: None,
        })
    }

    /// Replaces the caller's token with a new one and returns it; the old one stops working.
    pub fn rotate_token(&self, caller: &Caller) -> Result<TokenReply> {
        self.audited(
            Action::TokenRotate,
            caller.name(),
            Subject::default(),
            || {
                let user = caller.user()?;
                let seed = secrets::new_seed();
                let token = self.key.token(&seed);
                self.store
                    .set_user_token(user.id, &secrets::token_hash(&token), &seed)
                    .or_internal()?;
                Ok(TokenReply { token })
            },
        )
    }

    /// `DELETE accounts/<username>/`: deletes the caller's own account with their pipes,
    /// remotes and grants. Anyone else's: 403 (404 when no such user).
    pub fn unregister(&self, caller: &Caller, username: &str) -> Result<()> {
        let user = caller.user()?;
        if user.username != username {
            return match self.store.user_by_username(username).or_internal()? {
                Some(_) => Err(Error::forbidden_because(
                    "You can only unregister yourself.",
                )),
                None => Err(Error::not_found()),
            };
        }
        self.store.delete_user(user.id).or_internal()?;
        tracing::info!(user = %username, "unregistered");
        Ok(())
    }

    /// Local mode's user: the account named `username`, created on first use with `email` and
    /// no usable password (local mode never logs in).
    pub fn ensure_local_user(&self, username: &str, email: &str) -> Result<Caller> {
        validate_username(username)?;
        if let Some(user) = self.store.user_by_username(username).or_internal()? {
            return Ok(Caller::User(user));
        }
        let email = normalize_email("email", email)?;
        let seed = secrets::new_seed();
        let user: UserRecord = self
            .store
            .insert_user(&NewUser {
                username: username.to_string(),
                email,
                password_hash: UNUSABLE_PASSWORD.to_string(),
                token_hash: secrets::token_hash(&self.key.token(&seed)),
                token_seed: seed,
            })
            .or_internal()?;
        Ok(Caller::User(user))
    }
}
