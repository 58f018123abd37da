//! `dpipe perm grant|revoke|list|confirm`: who may read or write a pipe. A grant to an email
//! nobody has registered with waits as an invitation; whoever registers with that email later
//! gets it only once the address is verified: by the owner's `perm confirm` (the list shows
//! such an invitation as awaiting your confirmation) or by the link a server with mail sends.

use super::AboutPipe as _;
use chrono::{NaiveDate, Utc};
use dpipe_core::role::parse_expiration;
use dpipe_core::wire::{GrantStatus, GrantView};
use serde_json::{Map, Value};

use crate::cli::{GranteeArgs, PermCommand};
use crate::exit::UsageError;
use crate::output::{fields, or_dash, table};
use crate::settings::Context;

/// Runs one `dpipe perm` command.
pub fn run(ctx: &Context, command: PermCommand) -> anyhow::Result<()> {
    match command {
        PermCommand::Grant {
            pipe,
            grantee,
            role,
            expires,
        } => {
            let pipe = pipe.name();
            let mut body = grantee_body(&grantee);
            body.insert("role".to_string(), role.as_str().into());
            if let Some(expires) = expires {
                check_expiry(&expires, Utc::now().date_naive())?;
                body.insert("expiration_date".to_string(), expires.into());
            }
            let grant = ctx
                .api()?
                .grant(pipe, &Value::Object(body))
                .about_pipe(pipe)?;
            ctx.out.show(&grant, |g| {
                fields(&[
                    ("pipe", g.pipe.clone()),
                    ("grantee", grantee_of(g)),
                    ("role", g.role.clone()),
                    ("expires", or_dash(g.expiration_date.as_deref())),
                    ("status", status_of(g).to_string()),
                ])
            })
        }
        PermCommand::Revoke { pipe, grantee } => {
            let pipe = pipe.name();
            let mut body = grantee_body(&grantee);
            body.insert("role".to_string(), "revoke".into());
            let grant = ctx
                .api()?
                .grant(pipe, &Value::Object(body))
                .about_pipe(pipe)?;
            ctx.out.note(&format!(
                "Revoked the access of {} to pipe {pipe}.",
                grantee_of(&grant)
            ));
            if ctx.out.is_json() {
                ctx.out.json_value(&grant)?;
            }
            Ok(())
        }
        PermCommand::List { pipe } => {
            let pipe = pipe.name();
            let grants = ctx.api()?.list_grants(pipe).about_pipe(pipe)?;
            if grants.is_empty() {
                ctx.out.note(&format!(
                    "No grants on pipe {pipe}: only its owner has access."
                ));
            }
            ctx.out.show(&grants, |grants| {
                let rows: Vec<Vec<String>> = grants
                    .iter()
                    .map(|g| {
                        vec![
                            grantee_of(g),
                            g.role.clone(),
                            or_dash(g.expiration_date.as_deref()),
                            status_of(g).to_string(),
                        ]
                    })
                    .collect();
                table(&["GRANTEE", "ROLE", "EXPIRES", "STATUS"], &rows)
            })
        }
        PermCommand::Confirm { pipe, email } => {
            let pipe = pipe.name();
            let body = serde_json::json!({"email": email, "role": "confirm"});
            let grant = ctx.api()?.grant(pipe, &body).about_pipe(pipe)?;
            ctx.out.note(&format!(
                "Confirmed: {} now has {} access to pipe {pipe}.",
                grantee_of(&grant),
                grant.role
            ));
            if ctx.out.is_json() {
                ctx.out.json_value(&grant)?;
            }
            Ok(())
        }
    }
}

/// Where a grant stands, in words.
fn status_of(grant: &GrantView) -> &'static str {
    match grant.status {
        GrantStatus::Active => "active",
        GrantStatus::Invited => "pending: nobody has registered with this email yet",
        GrantStatus::AwaitingConfirmation => "awaiting your confirmation (dpipe perm confirm)",
    }
}

/// Refuses an `--expires` whose day is over by `today` (UTC, the server's clock): such a
/// grant would give no access at all. The API still takes past dates (d6tpipe's own tests
/// grant with one and expect no access), so only the CLI guards here; a text that is not a
/// date is left to the API, which names the format.
fn check_expiry(expires: &str, today: NaiveDate) -> Result<(), UsageError> {
    match parse_expiration(expires) {
        Ok(date) if date < today => Err(UsageError(format!(
            "--expires {expires} is in the past (today is {today}, UTC): the grant would give no access"
        ))),
        _ => Ok(()),
    }
}

fn grantee_body(grantee: &GranteeArgs) -> Map<String, Value> {
    let mut body = Map::new();
    if grantee.public {
        body.insert("username".to_string(), "public".into());
    } else if let Some(user) = &grantee.user {
        body.insert("username".to_string(), user.as_str().into());
    } else if let Some(email) = &grantee.email {
        body.insert("email".to_string(), email.as_str().into());
    }
    body
}

/// `user <email>`, `user`, or the email of an invitation.
fn grantee_of(grant: &GrantView) -> String {
    match (&grant.username, &grant.email) {
        (Some(user), Some(email)) => format!("{user} <{email}>"),
        (Some(user), None) => user.clone(),
        (None, Some(email)) => email.clone(),
        (None, None) => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_day_may_be_today_but_not_yesterday() {
        let today = NaiveDate::from_ymd_opt(2026, 6, 15).unwrap();
        assert!(check_expiry("2026-06-15", today).is_ok());
        assert!(check_expiry("2027-01-01", today).is_ok());
        let past = check_expiry("2026-06-14", today).unwrap_err().0;
        assert_eq!(
            past,
            "--expires 2026-06-14 is in the past (today is 2026-06-15, UTC): the grant would give no access"
        );
        // The API judges the format (and names it).
        assert!(check_expiry("15/06/2026", today).is_ok());
    }
}
