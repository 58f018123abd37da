//! `dpipe profile list|show|init|set`: the profiles file. Tokens and keys are never printed
//! here, only whether they are set.

use dpipe_client::{Backend, Profile, ProfileEntry};
use serde::Serialize;

use crate::cli::{ProfileCommand, ProfileInitArgs};
use crate::output::{fields, table};
use crate::settings::Context;

/// A profile as these commands print it.
#[derive(Serialize)]
struct Summary {
    name: String,
    default: bool,
    server: Option<String>,
    mode: &'static str,
    logged_in: bool,
    repo: String,
    username: Option<String>,
    email: Option<String>,
    db: Option<String>,
    key_set: bool,
}

impl Summary {
    fn of(profile: &Profile, default: Option<&str>) -> Summary {
        let mut summary = Summary {
            name: profile.name().to_string(),
            default: default == Some(profile.name()),
            server: None,
            mode: "server",
            logged_in: false,
            repo: profile.repo().display().to_string(),
            username: None,
            email: None,
            db: None,
            key_set: profile.key().is_some(),
        };
        match profile.backend() {
            Backend::Server { url, token } => {
                summary.server = Some(url.clone());
                summary.logged_in = token.is_some();
            }
            Backend::Local {
                username,
                email,
                db,
            } => {
                summary.mode = "local";
                summary.username = Some(username.clone());
                summary.email = Some(email.clone());
                summary.db = Some(db.display().to_string());
            }
        }
        summary
    }

    fn reaches(&self) -> String {
        self.server
            .clone()
            .unwrap_or_else(|| "local mode".to_string())
    }
}

/// Runs one `dpipe profile` command.
pub fn run(ctx: &mut Context, command: ProfileCommand) -> anyhow::Result<()> {
    match command {
        ProfileCommand::List => list(ctx),
        ProfileCommand::Show { name } => {
            let profile = ctx
                .config
                .profile(name.as_deref().or(ctx.selected.as_deref()))?;
            show(ctx, &profile)
        }
        ProfileCommand::Init(args) => init(ctx, args),
        ProfileCommand::Set { key, value } => {
            if key == "default" {
                ctx.config.set_default(&value)?;
            } else {
                let name = ctx.profile()?.name().to_string();
                ctx.config.set(&name, &key, &value)?;
            }
            ctx.save()?;
            let profile = ctx.profile()?;
            ctx.out.note(&format!(
                "Saved {} in {}.",
                key,
                ctx.config.path().display()
            ));
            show(ctx, &profile)
        }
    }
}

fn list(ctx: &Context) -> anyhow::Result<()> {
    let default = ctx.config.default_name();
    let summaries = ctx
        .config
        .names()
        .map(|name| Ok(Summary::of(&ctx.config.profile(Some(name))?, default)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if summaries.is_empty() {
        ctx.out.note(&format!(
            "No profiles in {}; create one with `dpipe profile init NAME --server URL` or `--local`.",
            ctx.config.path().display()
        ));
    }
    ctx.out.show(&summaries, |summaries| {
        let rows: Vec<Vec<String>> = summaries
            .iter()
            .map(|s| {
                vec![
                    format!("{}{}", s.name, if s.default { " *" } else { "" }),
                    s.reaches(),
                    if s.mode == "local" {
                        "-".to_string()
                    } else {
                        yes_no(s.logged_in)
                    },
                    s.repo.clone(),
                ]
            })
            .collect();
        table(&["NAME", "SERVER", "LOGGED IN", "REPO"], &rows)
    })
}

fn show(ctx: &Context, profile: &Profile) -> anyhow::Result<()> {
    let summary = Summary::of(profile, ctx.config.default_name());
    ctx.out.show(&summary, |s| {
        fields(&[
            ("name", s.name.clone()),
            ("default", yes_no(s.default)),
            ("server", s.reaches()),
            (
                "logged in",
                if s.mode == "local" {
                    String::new()
                } else {
                    yes_no(s.logged_in)
                },
            ),
            ("username", s.username.clone().unwrap_or_default()),
            ("email", s.email.clone().unwrap_or_default()),
            ("database", s.db.clone().unwrap_or_default()),
            ("repo", s.repo.clone()),
            ("key", if s.key_set { "set" } else { "not set" }.to_string()),
        ])
    })
}

fn init(ctx: &mut Context, args: ProfileInitArgs) -> anyhow::Result<()> {
    let entry = match args.server {
        Some(url) => ProfileEntry {
            server: Some(url),
            ..ProfileEntry::default()
        },
        None => ProfileEntry {
            mode: Some("local".to_string()),
            ..ProfileEntry::default()
        },
    };
    ctx.config.insert(&args.name, entry)?;
    // The same checks as `dpipe profile set`; nothing is saved when one fails.
    for (key, value) in [("repo", &args.repo), ("db", &args.db)] {
        if let Some(value) = value {
            ctx.config.set(&args.name, key, value)?;
        }
    }
    if args.default {
        ctx.config.set_default(&args.name)?;
    }
    ctx.save()?;
    ctx.out.note(&format!(
        "Created profile {} in {}.",
        args.name,
        ctx.config.path().display()
    ));
    let profile = ctx.config.profile(Some(&args.name))?;
    show(ctx, &profile)
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}
