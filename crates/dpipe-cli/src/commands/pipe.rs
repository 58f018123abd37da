//! `dpipe pipe create|upsert|list|show|delete`: named datasets on a remote, on inline storage
//! or under a parent pipe.

use anyhow::Context as _;
use dpipe_client::encode::ResourceKind;
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use serde_json::Value;

use super::AboutPipe as _;
use crate::body::{encrypt_if_asked, pipe_body};
use crate::cli::PipeCommand;
use crate::output::{fields, or_dash, table};
use crate::settings::Context;

/// Runs one `dpipe pipe` command.
pub fn run(ctx: &Context, command: PipeCommand) -> anyhow::Result<()> {
    match command {
        PipeCommand::Create(args) => {
            let body = pipe_body(&args, &ctx.out)?;
            let body = encrypt_if_asked(ctx, &args.storage, body, ResourceKind::Pipe)?;
            let pipe = ctx
                .api()?
                .create_pipe(&body)
                .with_context(|| format!("creating pipe {}", name_of(&body)))?;
            ctx.out.show(&pipe, show)
        }
        PipeCommand::Upsert(args) => {
            let body = pipe_body(&args, &ctx.out)?;
            let body = encrypt_if_asked(ctx, &args.storage, body, ResourceKind::Pipe)?;
            let pipe = ctx
                .api()?
                .upsert_pipe(&body)
                .with_context(|| format!("pipe {}", name_of(&body)))?;
            ctx.out.show(&pipe, show)
        }
        PipeCommand::List => {
            let pipes = ctx.api()?.list_pipes()?;
            if pipes.is_empty() {
                ctx.out.note("No pipes.");
            }
            ctx.out.show(&pipes, |pipes| {
                let rows: Vec<Vec<String>> = pipes
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            or_dash(p.parent.as_deref()),
                            p.role.clone(),
                            p.owner.clone(),
                            remotepath(p),
                        ]
                    })
                    .collect();
                table(&["NAME", "PARENT", "ROLE", "OWNER", "REMOTEPATH"], &rows)
            })
        }
        PipeCommand::Show { name } => {
            let pipe = ctx.api()?.get_pipe(&name).about_pipe(&name)?;
            ctx.out.show(&pipe, show)
        }
        PipeCommand::Credentials { name, write } => {
            let access = if write { Access::Write } else { Access::Read };
            let credentials = ctx.api()?.credentials(&name, access).about_pipe(&name)?;
            ctx.out.show(&credentials, |map| {
                let pairs: Vec<(&str, String)> = map
                    .iter()
                    .map(|(k, v)| {
                        let text = v.as_str().map_or_else(|| v.to_string(), String::from);
                        (k.as_str(), text)
                    })
                    .collect();
                fields(&pairs)
            })
        }
        PipeCommand::Delete { name } => {
            ctx.api()?.delete_pipe(&name).about_pipe(&name)?;
            ctx.out
                .note(&format!("Deleted pipe {name} and its children."));
            Ok(())
        }
    }
}

fn name_of(body: &Value) -> &str {
    body.get("name")
        .and_then(Value::as_str)
        .unwrap_or("(no name)")
}

fn remotepath(pipe: &PipeView) -> String {
    pipe.options
        .get("remotepath")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn show(pipe: &PipeView) -> String {
    let option = |key: &str| {
        pipe.options
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let schema = match pipe.schema.as_object() {
        Some(map) if map.is_empty() => String::new(),
        _ => pipe.schema.to_string(),
    };
    fields(&[
        ("name", pipe.name.clone()),
        ("parent", pipe.parent.clone().unwrap_or_default()),
        ("remote", pipe.remote.clone().unwrap_or_default()),
        ("protocol", pipe.protocol.clone()),
        ("location", pipe.location.clone()),
        ("dir", option("dir")),
        ("include", option("include")),
        ("exclude", option("exclude")),
        ("remotepath", remotepath(pipe)),
        ("schema", schema),
        ("role", pipe.role.clone()),
        ("owner", pipe.owner.clone()),
    ])
}
