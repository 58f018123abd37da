//! Logging in to an SFTP server: the credentials of a [`Location`](crate::Location) (a private
//! key, inline or a path, encrypted keys with a passphrase; a password, also given to
//! keyboard-interactive prompts), tried key first, then password, then keyboard-interactive
//! where the server offers it. A refused login names the user and the methods tried.

use std::fmt;
use std::sync::Arc;

use russh::MethodKind;
use russh::client::{AuthResult, Handle, KeyboardInteractiveAuthResponse};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};

use crate::error::{Error, ErrorKind, Result};
use crate::location::Location;
use crate::operator::config;

use super::errors::from_ssh;

/// The most keyboard-interactive rounds answered before giving up (servers ask once or twice).
const MOST_PROMPT_ROUNDS: usize = 5;

/// Who logs in, and with what. `Debug` shows no secret.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub user: String,
    key: Option<Arc<PrivateKey>>,
    password: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("key", &self.key.as_ref().map(|k| k.algorithm().to_string()))
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Credentials {
    /// Reads the credentials of `location`: `username`; `private_key` (text) or `key` (a
    /// path), deciphered with `passphrase`; `password`. A key that cannot be read is a
    /// [`ErrorKind::Config`] error that names the problem, never the key or passphrase.
    pub(crate) fn of(location: &Location) -> Result<Credentials> {
        let user = location
            .cred("username")
            .ok_or_else(|| config("sftp: the username credential is missing"))?
            .to_string();
        let passphrase = location.cred("passphrase");
        let key = match (location.cred("private_key"), location.cred("key")) {
            (Some(text), _) => Some(decode_key(text, passphrase, "the private_key credential")?),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    config(format!(
                        "sftp: cannot read the private key file {path}: {e}"
                    ))
                })?;
                Some(decode_key(
                    &text,
                    passphrase,
                    &format!("the private key file {path}"),
                )?)
            }
            (None, None) => None,
        };
        let password = location.cred("password").map(str::to_string);
        Ok(Credentials {
            user,
            key: key.map(Arc::new),
            password,
        })
    }

    /// Logs in on `handle` (connected to `place`); a refusal is
    /// [`ErrorKind::PermissionDenied`] naming the user and the methods tried.
    pub(crate) async fn log_in<H: russh::client::Handler>(
        &self,
        handle: &mut Handle<H>,
        place: &str,
    ) -> Result<()>
    where
        H::Error: Into<russh::Error>,
    {
        let ssh = |e: russh::Error| from_ssh(e, place);
        let mut tried: Vec<&str> = Vec::new();
        // What the server offers, once it said (after a first refusal).
        let mut offered: Option<Vec<MethodKind>> = None;
        let offers = |offered: &Option<Vec<MethodKind>>, m: MethodKind| {
            offered.as_ref().is_none_or(|o| o.contains(&m))
        };
        if let Some(key) = &self.key {
            let hash = handle
                .best_supported_rsa_hash()
                .await
                .map_err(ssh)?
                .flatten();
            let signed = PrivateKeyWithHashAlg::new(key.clone(), hash);
            tried.push("publickey");
            let result = handle
                .authenticate_publickey(&self.user, signed)
                .await
                .map_err(ssh)?;
            match still_offered(result) {
                None => return Ok(()),
                remaining => offered = remaining,
            }
        }
        if let Some(password) = &self.password {
            if offers(&offered, MethodKind::Password) {
                tried.push("password");
                let result = handle
                    .authenticate_password(&self.user, password)
                    .await
                    .map_err(ssh)?;
                match still_offered(result) {
                    None => return Ok(()),
                    remaining => offered = remaining,
                }
            }
            if offers(&offered, MethodKind::KeyboardInteractive) {
                tried.push("keyboard-interactive");
                if self.keyboard_interactive(handle, password, place).await? {
                    return Ok(());
                }
            }
        }
        if self.key.is_none() && self.password.is_none() {
            tried.push("none");
            if handle
                .authenticate_none(&self.user)
                .await
                .map_err(ssh)?
                .success()
            {
                return Ok(());
            }
        }
        Err(Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "the SFTP server at {place} refused the login of user {} (tried: {}); check the credentials of the pipe or its remote",
                self.user,
                tried.join(", ")
            ),
        )
        .with("location", place))
    }

    /// Answers the server's keyboard-interactive prompts with the password; whether it let
    /// the user in.
    async fn keyboard_interactive<H: russh::client::Handler>(
        &self,
        handle: &mut Handle<H>,
        password: &str,
        place: &str,
    ) -> Result<bool> {
        let ssh = |e: russh::Error| from_ssh(e, place);
        let mut answer = handle
            .authenticate_keyboard_interactive_start(&self.user, None)
            .await
            .map_err(ssh)?;
        for _ in 0..MOST_PROMPT_ROUNDS {
            match answer {
                KeyboardInteractiveAuthResponse::Success => return Ok(true),
                KeyboardInteractiveAuthResponse::Failure { .. } => return Ok(false),
                KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                    // Hidden prompts ask for the password; a visible one (rare) gets the user.
                    let responses = prompts
                        .iter()
                        .map(|p| {
                            if p.echo {
                                self.user.clone()
                            } else {
                                password.to_string()
                            }
                        })
                        .collect();
                    answer = handle
                        .authenticate_keyboard_interactive_respond(responses)
                        .await
                        .map_err(ssh)?;
                }
            }
        }
        Ok(false)
    }
}

/// Decodes a private key (OpenSSH, PEM or PuTTY text), deciphered with `passphrase`;
/// `what` names where it came from in the error.
fn decode_key(text: &str, passphrase: Option<&str>, what: &str) -> Result<PrivateKey> {
    use russh::keys::Error as K;
    russh::keys::decode_secret_key(text, passphrase).map_err(|e| {
        let why = match (&e, passphrase) {
            (K::KeyIsEncrypted, _) => {
                "it is encrypted: give its passphrase (credential passphrase)".to_string()
            }
            (_, Some(_)) if is_decryption_failure(&e) => {
                "the passphrase does not decipher it".to_string()
            }
            (K::UnsupportedKeyType { .. }, _) => "its key type is not supported".to_string(),
            _ => "it is not a private key in OpenSSH, PEM or PuTTY format".to_string(),
        };
        config(format!("sftp: cannot use {what}: {why}"))
    })
}

/// Whether `e` comes of deciphering a key with the wrong passphrase (the deciphered bytes
/// do not check out).
fn is_decryption_failure(e: &russh::keys::Error) -> bool {
    use russh::keys::ssh_key::Error as Key;
    matches!(
        e,
        russh::keys::Error::SshKey(Key::Crypto | Key::Encrypted | Key::FormatEncoding)
    )
}

/// `None` when `result` let the user in; else the methods the server still offers.
fn still_offered(result: AuthResult) -> Option<Vec<MethodKind>> {
    match result {
        AuthResult::Success => None,
        AuthResult::Failure {
            remaining_methods, ..
        } => Some(remaining_methods.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ed25519 key made by ssh-keygen, encrypted with `passphrase`.
    fn key_text(passphrase: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", passphrase, "-f"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn unusable_keys_say_why() {
        let text = key_text("right-phrase");
        decode_key(&text, Some("right-phrase"), "k").unwrap();
        let why = |text: &str, passphrase| decode_key(text, passphrase, "k").unwrap_err();
        let wrong = why(&text, Some("wrong-phrase"));
        assert_eq!(wrong.kind(), ErrorKind::Config);
        assert!(
            wrong
                .message()
                .ends_with("the passphrase does not decipher it"),
            "{wrong}"
        );
        let none = why(&text, None);
        assert!(none.message().contains("it is encrypted"), "{none}");
        let garbage = why("not a key", Some("p"));
        assert!(garbage.message().contains("not a private key"), "{garbage}");
        for e in [wrong, none, garbage] {
            let message = e.message();
            assert!(!message.contains("right-phrase") && !message.contains("wrong-phrase"));
            assert!(!message.contains("-----"), "{message}");
        }
    }
}
