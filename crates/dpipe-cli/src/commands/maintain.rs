//! The upkeep commands: `dpipe remove-orphans`, `dpipe delete`, `dpipe reset`, `dpipe files`,
//! `dpipe list local` and `dpipe import`, over dpipe-client's [`Syncer`]. Deletions and
//! resets are dry runs unless `--apply` (or a yes on a terminal, see [`confirm`]); an applied
//! deletion refused because a scan refused a key exits 1 having deleted nothing, one from a
//! read-only role exits 4.

use anyhow::anyhow;
use dpipe_client::sync::{ImportOptions, Removal, Side, SortBy, Syncer};
use dpipe_core::filter::Filter;

use super::confirm;
use crate::cli::apply::ApplyArgs;
use crate::cli::maintain::{
    DeleteArgs, FilesArgs, ImportArgs, ListArgs, ListWhat, MaintainCommand, RemoveOrphansArgs,
    ResetArgs, SideArg, SortArg,
};
use crate::output::{Output, escape_value, human_size, table};
use crate::settings::Context;

/// Runs one upkeep command.
pub fn run(ctx: &Context, command: MaintainCommand) -> anyhow::Result<()> {
    let profile = ctx.profile()?;
    let api = ctx.api()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let syncer = Syncer::new(api.as_ref(), profile.repo(), runtime.handle().clone());
    match command {
        MaintainCommand::RemoveOrphans(args) => remove_orphans(ctx, &syncer, args),
        MaintainCommand::Delete(args) => delete(ctx, &syncer, args),
        MaintainCommand::Reset(args) => reset(ctx, &syncer, args),
        MaintainCommand::Files(args) => files(ctx, &syncer, args),
        MaintainCommand::List(args) => list(ctx, &syncer, args),
        MaintainCommand::Import(args) => import(ctx, &syncer, args),
    }
}

fn side(arg: SideArg) -> Side {
    match arg {
        SideArg::Local => Side::Local,
        SideArg::Remote => Side::Remote,
        SideArg::Both => Side::Both,
    }
}

fn remove_orphans(ctx: &Context, syncer: &Syncer, args: RemoveOrphansArgs) -> anyhow::Result<()> {
    let side = side(args.side);
    let run = |apply| syncer.remove_orphans(args.pipe.name(), side, apply);
    remove(ctx, &args.apply, run, "orphan")
}

fn delete(ctx: &Context, syncer: &Syncer, args: DeleteArgs) -> anyhow::Result<()> {
    let side = side(args.side);
    let files = args.files.as_deref();
    let run = |apply| syncer.delete_files(args.pipe.name(), side, files, apply);
    remove(ctx, &args.apply, run, "file")
}

/// Runs a deletion (`run(true)`) with `--apply`; otherwise lists what `run(false)` would
/// delete and, when there is something and a person says yes, deletes after all.
fn remove(
    ctx: &Context,
    apply: &ApplyArgs,
    run: impl Fn(bool) -> dpipe_client::Result<Removal>,
    what: &str,
) -> anyhow::Result<()> {
    if !apply.apply {
        let listed = run(false)?;
        print_removal(&ctx.out, &listed, what)?;
        let count = listed.local.len() + listed.remote.len();
        let question = format!(
            "Delete {count} {what}{}?",
            if count == 1 { "" } else { "s" }
        );
        // Nothing to ask about, or a deletion --apply would refuse.
        if count == 0 || !listed.rejected.is_empty() {
            return Ok(());
        }
        if !confirm::ask(apply, &ctx.out, &question)? {
            return Ok(());
        }
    }
    print_removal(&ctx.out, &run(true)?, what)
}

/// Prints what was (or would be) deleted; fails when a deletion failed.
fn print_removal(out: &Output, r: &Removal, what: &str) -> anyhow::Result<()> {
    for key in &r.rejected {
        out.warn(&format!("refused key {:?}: {}", key.path, key.reason));
    }
    if !r.applied && !r.rejected.is_empty() {
        out.warn("--apply will delete nothing while a scan refuses keys");
    }
    for failed in &r.errors {
        out.warn(&format!("{} not deleted: {}", failed.path, failed.reason));
    }
    if out.is_json() {
        out.json_value(r)?;
    } else {
        let mut lines = Vec::new();
        let count = r.local.len() + r.remote.len();
        if r.applied {
            lines.extend(
                r.deleted
                    .iter()
                    .map(|d| format!("deleted {}", escape_value(d))),
            );
            lines.push(format!(
                "deleted {} {what}{}",
                r.deleted.len(),
                if r.deleted.len() == 1 { "" } else { "s" }
            ));
        } else {
            let rows: Vec<Vec<String>> = [("local", &r.local), ("remote", &r.remote)]
                .into_iter()
                .flat_map(|(side, list)| {
                    list.iter()
                        .map(move |d| vec![side.to_string(), d.path.clone(), human_size(d.size)])
                })
                .collect();
            if !rows.is_empty() {
                lines.push(table(&["SIDE", "PATH", "SIZE"], &rows));
            }
            lines.push(format!(
                "would delete {count} {what}{}, {}",
                if count == 1 { "" } else { "s" },
                human_size(r.bytes)
            ));
        }
        out.text(&lines.join("\n"))?;
    }
    if r.errors.is_empty() {
        return Ok(());
    }
    Err(anyhow!(
        "deletion in pipe {} stopped: {} file(s) failed",
        r.pipe,
        r.errors.len()
    ))
}

/// Forgets the sync state of a pipe (and with `--local-files` removes its folder); without
/// `--apply` says what would be forgotten and removed.
fn reset(ctx: &Context, syncer: &Syncer, args: ResetArgs) -> anyhow::Result<()> {
    let pipe = args.pipe.name();
    let folder = syncer.folder(pipe);
    if !args.apply.apply {
        // Also checks the pipe's name before anything is asked.
        let recorded = syncer.synced_files(pipe, &Filter::new(None, None)?, SortBy::Name)?;
        let mut text = format!(
            "would forget the sync state of pipe {pipe} ({} synced file{})",
            recorded.len(),
            if recorded.len() == 1 { "" } else { "s" }
        );
        if args.local_files {
            text.push_str(&format!(
                " and remove its folder {} with everything in it",
                folder.display()
            ));
        }
        report_reset(ctx, pipe, &args, false, &text)?;
        if !confirm::ask(&args.apply, &ctx.out, &format!("Reset pipe {pipe}?"))? {
            return Ok(());
        }
    }
    syncer.reset(pipe, args.local_files)?;
    let mut text = format!("forgot the sync state of pipe {pipe}");
    if args.local_files {
        text.push_str(&format!(" and removed its folder {}", folder.display()));
    }
    report_reset(ctx, pipe, &args, true, &text)
}

/// Prints a reset done (`reset` true) or one that would be done: `text`, or the JSON.
fn report_reset(
    ctx: &Context,
    pipe: &str,
    args: &ResetArgs,
    reset: bool,
    text: &str,
) -> anyhow::Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json_value(&serde_json::json!({
            "pipe": pipe,
            "reset": reset,
            "local_files_removed": reset && args.local_files,
        }));
    }
    ctx.out.text(text)
}

fn files(ctx: &Context, syncer: &Syncer, args: FilesArgs) -> anyhow::Result<()> {
    let filter = Filter::new(args.include.as_deref(), args.exclude.as_deref())?;
    let sort = match args.sort {
        SortArg::Name => SortBy::Name,
        SortArg::Time => SortBy::Time,
        SortArg::Size => SortBy::Size,
    };
    let files = syncer.synced_files(args.pipe.name(), &filter, sort)?;
    if ctx.out.is_json() {
        return ctx.out.json_value(&files);
    }
    if args.paths {
        let lines: Vec<String> = files
            .iter()
            .map(|f| escape_value(&f.local_path.display().to_string()).into_owned())
            .collect();
        return ctx.out.text(&lines.join("\n"));
    }
    if files.is_empty() {
        ctx.out
            .note(&format!("no synced files in pipe {}", args.pipe.name()));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            vec![
                f.path.clone(),
                human_size(f.size),
                f.sha256[..12.min(f.sha256.len())].to_string(),
            ]
        })
        .collect();
    ctx.out.text(&table(&["PATH", "SIZE", "SHA256"], &rows))
}

fn list(ctx: &Context, syncer: &Syncer, args: ListArgs) -> anyhow::Result<()> {
    let ListWhat::Local = args.what;
    let pipes = syncer.local_pipes()?;
    if ctx.out.is_json() {
        return ctx.out.json_value(&pipes);
    }
    if pipes.is_empty() {
        ctx.out.note("no pipe pulled or pushed yet");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = pipes
        .iter()
        .map(|p| vec![p.pipe.clone(), p.files.to_string(), human_size(p.bytes)])
        .collect();
    ctx.out.text(&table(&["PIPE", "FILES", "SIZE"], &rows))
}

fn import(ctx: &Context, syncer: &Syncer, args: ImportArgs) -> anyhow::Result<()> {
    let (pipe, sources) = args.target.split()?;
    let options = ImportOptions {
        move_files: args.move_files,
        subdir: args.subdir,
        force: args.force,
    };
    let report = syncer.import(pipe, sources, &options)?;
    for skipped in &report.skipped {
        ctx.out
            .warn(&format!("skipped {}: {}", skipped.path, skipped.reason));
    }
    ctx.out.show(&report, |r| {
        let mut lines: Vec<String> = r.imported.iter().map(|p| format!("imported {p}")).collect();
        lines.push(format!(
            "{} {} file{}, {}; {} unchanged",
            if args.move_files { "moved" } else { "imported" },
            r.imported.len(),
            if r.imported.len() == 1 { "" } else { "s" },
            human_size(r.bytes),
            r.unchanged.len()
        ));
        lines.join("\n")
    })
}
