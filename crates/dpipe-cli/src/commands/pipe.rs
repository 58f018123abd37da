//! `dpipe pipe create|upsert|list|show|delete`: named datasets on a remote, on inline storage
//! or under a parent pipe. `delete` shows the pipe and its children and deletes them only
//! with `--apply` (or a yes on a terminal), like every destructive command.

use anyhow::Context as _;
use dpipe_client::encode::ResourceKind;
use dpipe_core::role::Access;
use dpipe_core::wire::PipeView;
use serde::Serialize;
use serde_json::Value;

use super::AboutPipe as _;
use super::confirm;
use crate::body::{encrypt_if_asked, pipe_body};
use crate::cli::PipeCommand;
use crate::cli::apply::ApplyArgs;
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
        PipeCommand::Show { pipe } => {
            let name = pipe.name();
            let pipe = ctx.api()?.get_pipe(name).about_pipe(name)?;
            ctx.out.show(&pipe, show)
        }
        PipeCommand::Credentials { pipe, write } => {
            let name = pipe.name();
            let access = if write { Access::Write } else { Access::Read };
            let credentials = ctx.api()?.credentials(name, access).about_pipe(name)?;
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
        PipeCommand::Delete { pipe, apply } => delete(ctx, pipe.name(), &apply),
    }
}

/// What `dpipe pipe delete` removes (or would remove), as `--json` prints it.
#[derive(Serialize)]
struct Deletion<'a> {
    pipe: &'a str,
    /// The pipes under it, at any depth, that the caller can see.
    children: Vec<String>,
    deleted: bool,
}

/// Shows the pipe and the children that would go with it, then deletes them with `--apply`
/// (or a yes on the terminal).
fn delete(ctx: &Context, name: &str, apply: &ApplyArgs) -> anyhow::Result<()> {
    let api = ctx.api()?;
    let pipe = api.get_pipe(name).about_pipe(name)?;
    let children = descendants(&pipe.name, &api.list_pipes()?);
    let mut deletion = Deletion {
        pipe: &pipe.name,
        children,
        deleted: false,
    };
    let what = match deletion.children.len() {
        0 => format!("pipe {name}"),
        n => format!(
            "pipe {name} and its {n} child pipe{}: {}",
            if n == 1 { "" } else { "s" },
            deletion.children.join(", ")
        ),
    };
    if !apply.apply {
        ctx.out.show(&deletion, |_| {
            format!("would delete {what} (files in storage are left alone)")
        })?;
        if !confirm::ask(apply, &ctx.out, &format!("Delete {what}?"))? {
            return Ok(());
        }
    }
    api.delete_pipe(name).about_pipe(name)?;
    deletion.deleted = true;
    ctx.out.note(&format!("Deleted {what}."));
    if ctx.out.is_json() {
        ctx.out.json_value(&deletion)?;
    }
    Ok(())
}

/// The pipes below `name` in `pipes`, at any depth, sorted.
fn descendants(name: &str, pipes: &[PipeView]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut parents = vec![name.to_string()];
    while let Some(parent) = parents.pop() {
        for child in pipes
            .iter()
            .filter(|p| p.parent.as_deref() == Some(parent.as_str()))
        {
            if !found.contains(&child.name) {
                found.push(child.name.clone());
                parents.push(child.name.clone());
            }
        }
    }
    found.sort();
    found
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
