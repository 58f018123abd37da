//! `dpipe remote upsert|list|show|delete`: named storage locations. Their credentials go in
//! and never come back out. `delete` only shows the remote unless `--apply` (or a yes on a
//! terminal).

use anyhow::Context as _;
use dpipe_client::encode::ResourceKind;
use dpipe_client::sync::host_key_fingerprint;
use dpipe_core::wire::RemoteView;

use super::confirm;
use crate::body::{encrypt_if_asked, remote_body};
use crate::cli::RemoteCommand;
use crate::output::{fields, table};
use crate::settings::Context;

/// Runs one `dpipe remote` command.
pub fn run(ctx: &Context, command: RemoteCommand) -> anyhow::Result<()> {
    match command {
        RemoteCommand::Upsert(args) => {
            let body = remote_body(&args, &ctx.out)?;
            // A pinned SFTP host key that is no key would refuse every connection: say so now.
            if let Some(pin) = body
                .get("settings")
                .and_then(|s| s.get("host_key"))
                .and_then(|k| k.as_str())
            {
                host_key_fingerprint(pin)?;
            }
            let body = encrypt_if_asked(ctx, &args, body, ResourceKind::Remote)?;
            let name = body
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("(no name)")
                .to_string();
            let remote = ctx
                .api()?
                .upsert_remote(&body)
                .with_context(|| format!("remote {name}"))?;
            ctx.out.show(&remote, show)
        }
        RemoteCommand::List => {
            let remotes = ctx.api()?.list_remotes()?;
            if remotes.is_empty() {
                ctx.out.note("No remotes.");
            }
            ctx.out.show(&remotes, |remotes| {
                let rows: Vec<Vec<String>> = remotes
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            r.protocol.clone(),
                            r.location.clone(),
                            credentials_in_words(&r.credentials),
                        ]
                    })
                    .collect();
                table(&["NAME", "PROTOCOL", "LOCATION", "CREDENTIALS"], &rows)
            })
        }
        RemoteCommand::Show { name } => {
            let remote = ctx
                .api()?
                .get_remote(&name)
                .with_context(|| format!("remote {name}"))?;
            ctx.out.show(&remote, show)
        }
        RemoteCommand::Delete { name, apply } => {
            let api = ctx.api()?;
            if !apply.apply {
                // Also how a missing remote is found before anything is asked.
                let remote = api
                    .get_remote(&name)
                    .with_context(|| format!("remote {name}"))?;
                ctx.out.show(&remote, |r| {
                    format!(
                        "would delete remote {} ({} {})",
                        r.name, r.protocol, r.location
                    )
                })?;
                if !confirm::ask(&apply, &ctx.out, &format!("Delete remote {name}?"))? {
                    return Ok(());
                }
            }
            api.delete_remote(&name)
                .with_context(|| format!("remote {name}"))?;
            ctx.out.note(&format!("Deleted remote {name}."));
            Ok(())
        }
    }
}

/// A remote as `key: value` lines (never its credentials, which the view does not hold).
pub(super) fn show(remote: &RemoteView) -> String {
    let json = |value: &serde_json::Value| match value.as_object() {
        Some(map) if map.is_empty() => String::new(),
        _ => value.to_string(),
    };
    fields(&[
        ("name", remote.name.clone()),
        ("protocol", remote.protocol.clone()),
        ("location", remote.location.clone()),
        (
            "settings",
            json(&serde_json::Value::Object(remote.settings.clone())),
        ),
        ("host key", pinned_host_key(remote)),
        ("credentials", credentials_in_words(&remote.credentials)),
        ("schema", json(&remote.schema)),
        ("owner", remote.owner.clone()),
    ])
}

/// The fingerprint of the remote's pinned SFTP host key (`host_key` setting), if any.
fn pinned_host_key(remote: &RemoteView) -> String {
    match remote.settings.get("host_key").and_then(|k| k.as_str()) {
        Some(pin) => host_key_fingerprint(pin).unwrap_or_else(|e| format!("(invalid: {e})")),
        None => String::new(),
    }
}

/// What the repo API's `credentials` shape (`none`, `flat`, `split`) means, in words.
fn credentials_in_words(shape: &str) -> String {
    match shape {
        "none" => "none",
        "flat" => "one set for read and write",
        "split" => "one set for read, one for write",
        other => other,
    }
    .to_string()
}
