//! `dpipe perm grant|revoke|list`: who may read or write a pipe. A grant to an email nobody
//! has registered with waits as an invitation (shown as pending).

use super::AboutPipe as _;
use dpipe_core::wire::GrantView;
use serde_json::{Map, Value};

use crate::cli::{GranteeArgs, PermCommand};
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
            let mut body = grantee_body(&grantee);
            body.insert("role".to_string(), role.as_str().into());
            if let Some(expires) = expires {
                body.insert("expiration_date".to_string(), expires.into());
            }
            let grant = ctx
                .api()?
                .grant(&pipe, &Value::Object(body))
                .about_pipe(&pipe)?;
            ctx.out.show(&grant, |g| {
                fields(&[
                    ("pipe", g.pipe.clone()),
                    ("grantee", grantee_of(g)),
                    ("role", g.role.clone()),
                    ("expires", or_dash(g.expiration_date.as_deref())),
                    (
                        "pending",
                        if g.pending {
                            "yes, until someone registers with this email"
                        } else {
                            "no"
                        }
                        .to_string(),
                    ),
                ])
            })
        }
        PermCommand::Revoke { pipe, grantee } => {
            let mut body = grantee_body(&grantee);
            body.insert("role".to_string(), "revoke".into());
            let grant = ctx
                .api()?
                .grant(&pipe, &Value::Object(body))
                .about_pipe(&pipe)?;
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
            let grants = ctx.api()?.list_grants(&pipe).about_pipe(&pipe)?;
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
                            if g.pending { "pending" } else { "active" }.to_string(),
                        ]
                    })
                    .collect();
                table(&["GRANTEE", "ROLE", "EXPIRES", "STATUS"], &rows)
            })
        }
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
