//! Accounts and tokens: `dpipe register|login|logout|whoami` and `dpipe token set|get`. The
//! token lives in the profile; local mode has no accounts, so these refuse it (except
//! `whoami`, which shows the local user).

use std::io::IsTerminal;

use dpipe_client::{Backend, Error, ErrorKind, HttpApi};
use serde::Serialize;

use crate::cli::{LoginArgs, PASSWORD_ENV, PasswordArgs, RegisterArgs, TokenCommand};
use crate::exit::UsageError;
use crate::output::fields;
use crate::settings::Context;

/// What register and login print: never the token (`dpipe token get` shows it).
#[derive(Serialize)]
struct Account {
    username: String,
    email: Option<String>,
    server: String,
    profile: String,
}

/// `dpipe register`: creates the account and saves its token in the profile.
pub fn register(ctx: &mut Context, args: RegisterArgs) -> anyhow::Result<()> {
    let (profile, api) = ctx.account_server()?;
    let password = password(ctx, args.password, true)?;
    let registered = api
        .register(&args.username, &args.email, &password)
        .map_err(|err| {
            doing(err, || {
                format!("registering {} on {}", args.username, api.server())
            })
        })?;
    ctx.config
        .set_token(profile.name(), Some(registered.token))?;
    ctx.save()?;
    let account = Account {
        username: registered.username,
        email: Some(registered.email),
        server: api.server().to_string(),
        profile: profile.name().to_string(),
    };
    ctx.out.show(&account, |a| {
        format!(
            "Registered {} on {}; the token is saved in profile {}.",
            a.username, a.server, a.profile
        )
    })
}

/// `dpipe login`: fetches the account's token and saves it in the profile.
pub fn login(ctx: &mut Context, args: LoginArgs) -> anyhow::Result<()> {
    let (profile, api) = ctx.account_server()?;
    let password = password(ctx, args.password, false)?;
    let reply = api.login(&args.username, &password).map_err(|err| {
        doing(err, || {
            format!("logging in as {} on {}", args.username, api.server())
        })
    })?;
    ctx.config.set_token(profile.name(), Some(reply.token))?;
    ctx.save()?;
    let account = Account {
        username: args.username,
        email: None,
        server: api.server().to_string(),
        profile: profile.name().to_string(),
    };
    ctx.out.show(&account, |a| {
        format!(
            "Logged in as {} on {}; the token is saved in profile {}.",
            a.username, a.server, a.profile
        )
    })
}

/// `dpipe logout`: invalidates the token on the server (by rotating it and throwing the new
/// one away), then forgets it locally. When the server cannot be reached the token is still
/// forgotten, and the note says it may still be valid there.
pub fn logout(ctx: &mut Context) -> anyhow::Result<()> {
    let profile = ctx.server_profile()?;
    let Backend::Server {
        url,
        token: Some(token),
    } = profile.backend()
    else {
        ctx.out
            .note(&format!("Profile {} was not logged in.", profile.name()));
        return Ok(());
    };
    let invalidated = HttpApi::new(url, Some(token.clone()))?.rotate_token();
    ctx.config.set_token(profile.name(), None)?;
    ctx.save()?;
    match invalidated {
        Ok(_) => ctx.out.note(&format!(
            "Logged out: the token of profile {} no longer works anywhere; `dpipe login` gets a new one.",
            profile.name()
        )),
        Err(err) if err.kind() == ErrorKind::Unauthenticated => ctx.out.note(&format!(
            "Removed the token from profile {}; the server had already stopped accepting it.",
            profile.name()
        )),
        Err(err) => ctx.out.note(&format!(
            "Removed the token from profile {}, but the server could not invalidate it ({err}): it may still work there.",
            profile.name()
        )),
    }
    Ok(())
}

/// `dpipe whoami`: the user the profile acts as, according to the repo API.
pub fn whoami(ctx: &Context) -> anyhow::Result<()> {
    let profile = ctx.profile()?;
    let place = match profile.backend() {
        Backend::Server { token: None, .. } => return Err(not_logged_in(profile.name())),
        Backend::Server { url, .. } => url.clone(),
        Backend::Local { db, .. } => format!("local mode ({})", db.display()),
    };
    let who = ctx.api()?.whoami().map_err(|err| {
        doing(err, || {
            format!("asking {place} who profile {} is", profile.name())
        })
    })?;
    ctx.out.show(&who, |w| {
        fields(&[
            ("username", w.username.clone().unwrap_or_default()),
            ("email", w.email.clone().unwrap_or_default()),
            ("server", place.clone()),
            ("profile", profile.name().to_string()),
        ])
    })
}

/// `dpipe token set|get`.
pub fn token(ctx: &mut Context, command: TokenCommand) -> anyhow::Result<()> {
    let profile = ctx.server_profile()?;
    match command {
        TokenCommand::Set { token } => {
            if token.trim().is_empty() || token.chars().any(char::is_whitespace) {
                return Err(
                    UsageError("a token may not be empty or contain spaces".to_string()).into(),
                );
            }
            ctx.config.set_token(profile.name(), Some(token))?;
            ctx.save()?;
            ctx.out.note(&format!(
                "Saved the token in profile {}; check it with `dpipe whoami`.",
                profile.name()
            ));
            Ok(())
        }
        TokenCommand::Get => match profile.backend() {
            Backend::Server {
                token: Some(token), ..
            } => ctx
                .out
                .show(&serde_json::json!({ "token": token }), |_| token.clone()),
            _ => Err(not_logged_in(profile.name())),
        },
    }
}

fn not_logged_in(profile: &str) -> anyhow::Error {
    Error::new(
        ErrorKind::Unauthenticated,
        format!("profile {profile} is not logged in; run `dpipe login` or `dpipe register`"),
    )
    .into()
}

/// The password from `--password` / `$DPIPE_PASSWORD`, else asked on the terminal (twice
/// when `confirm`).
fn password(ctx: &Context, args: PasswordArgs, confirm: bool) -> anyhow::Result<String> {
    if let Some(password) = args.password {
        // clap does not say where a value came from; one that differs from the environment
        // variable was typed on the command line.
        if std::env::var(PASSWORD_ENV).ok().as_deref() != Some(password.as_str()) {
            ctx.out.warn(&format!(
                "a password given on the command line lands in your shell history; prefer {PASSWORD_ENV} or the prompt"
            ));
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "no password: give --password, set DPIPE_PASSWORD, or run on a terminal to be asked"
                .to_string(),
        )
        .into());
    }
    let password = rpassword::prompt_password("Password: ")?;
    if password.is_empty() {
        return Err(UsageError("the password may not be empty".to_string()).into());
    }
    if confirm && rpassword::prompt_password("Password (again): ")? != password {
        return Err(UsageError("the two passwords differ".to_string()).into());
    }
    Ok(password)
}

/// `err` with what the command was doing in front, unless the server could not be reached:
/// that message already names the server, and saying it twice on one line helps nobody.
fn doing(err: Error, what: impl FnOnce() -> String) -> anyhow::Error {
    if err.kind() == ErrorKind::Transport {
        anyhow::Error::new(err)
    } else {
        anyhow::Error::new(err).context(what())
    }
}
