//! `dpipe pull`, `dpipe push` and `dpipe status`: run dpipe-client's sync engine on a Tokio
//! runtime and print its report — a preview's files in aligned columns and a one-line summary
//! on stdout (the report as JSON with `--json`), refused keys, failed files and notes on
//! stderr; `status` adds how many files include/exclude left out. A run that left a file
//! behind (a failed transfer, a refused key) exits 1 after the others went through; a run
//! refused before any transfer exits 1 (conflicts) or 4 (read-only role). A run that gave up
//! on a storage out of reach for `--give-up-after` stops every transfer and says so in one
//! line (how many files went through; a rerun continues), exit code 5.
//!
//! While files move, a progress bar on stderr (files, bytes, rate, ETA; on a terminal narrower
//! than [`FULL_BAR_COLUMNS`] files and percent), as wide as the terminal — not with `--quiet`,
//! `--json`, or when stderr is not a terminal; while the storage is out of reach it says so,
//! and for how long. A pipe's `README.md` and `LICENSE.md` are shown
//! when first pulled: their first [`SHOWN_LINES`] lines under a header, on stdout (on stderr
//! with `--json`, so stdout stays the report). `--quiet` prints nothing but problems: no
//! summary, no notes, no README.
//!
//! Its parts: [`bar`] is the progress bar (which `verify` uses too), [`report`] prints what a
//! run did, [`shown_files`] shows a first-pulled README or LICENSE; this module runs the
//! commands.
//!
//! [`FULL_BAR_COLUMNS`]: bar::FULL_BAR_COLUMNS
//! [`SHOWN_LINES`]: shown_files::SHOWN_LINES

mod bar;
mod report;
mod shown_files;

use std::io::IsTerminal as _;

use anyhow::anyhow;
use dpipe_client::sync::Tuning;
use dpipe_client::sync::{Direction, SyncOptions, Syncer};
use dpipe_core::plan::{Merge, Mode};

use crate::cli::sync::{MergeArg, ModeArg, StatusArgs, SyncArgs};
use crate::exit::Untold;
use crate::interrupt;
use crate::output::escape_value;
use crate::settings::Context;
pub(super) use bar::Bar;
use report::{plural, print};
use shown_files::show_file;

/// Runs a pull or a push of `args.pipe`.
pub fn run(ctx: &Context, args: SyncArgs, direction: Direction) -> anyhow::Result<()> {
    interrupt::exit_on_ctrl_c();
    let profile = ctx.profile()?;
    let api = ctx.api()?;
    let runtime = runtime()?;
    let bar = Bar::new(!args.quiet && !ctx.out.is_json() && std::io::stderr().is_terminal());
    let syncer = Syncer::new(api.as_ref(), profile.repo(), runtime.handle().clone())
        .with_progress(&bar)
        .with_concurrency(usize::from(args.transfers))
        .with_tuning(tuning(&args)?);
    let options = options(&args);
    let pipe = args.pipe.name();
    let report = match direction {
        Direction::Pull => syncer.pull(pipe, &options)?,
        Direction::Push => syncer.push(pipe, &options)?,
    };
    if !args.quiet {
        let folder = syncer.folder(&report.pipe);
        for path in &report.first_pulled {
            show_file(&ctx.out, &folder, path, ctx.out.is_json());
        }
    }
    print(&ctx.out, &report, args.quiet)?;
    // A preview that shows refused keys has said all there is: it moved nothing, so it is
    // not incomplete.
    if report.is_complete() || report.preview {
        return Ok(());
    }
    Err(anyhow!(
        "{} of pipe {} incomplete: {} file(s) failed, {} key(s) refused",
        direction.as_str(),
        report.pipe,
        report.errors.len(),
        report.rejected.len()
    ))
}

/// Shows what differs between the folder of `args.pipe` and its storage; with `--exit-code`,
/// a pipe not in sync exits with code 1 once the differences are printed, saying nothing more.
pub fn status(ctx: &Context, args: StatusArgs) -> anyhow::Result<()> {
    let profile = ctx.profile()?;
    let api = ctx.api()?;
    let runtime = runtime()?;
    let syncer = Syncer::new(api.as_ref(), profile.repo(), runtime.handle().clone());
    let report = syncer.status(
        args.pipe.name(),
        args.include.as_deref(),
        args.exclude.as_deref(),
    )?;
    ctx.out.show(&report, |r| {
        let left_out = (r.left_out_by_filter > 0).then(|| {
            format!(
                "{} file{} left out by include/exclude",
                r.left_out_by_filter,
                plural(r.left_out_by_filter)
            )
        });
        // In sync may still list refused keys that hold nothing to sync (folder markers).
        let mut lines = Vec::new();
        if r.in_sync {
            lines.push(format!("pipe {} is in sync", r.pipe));
        }
        for (label, paths) in [
            ("to pull", &r.to_pull),
            ("to push", &r.to_push),
            ("conflict", &r.conflicts),
        ] {
            lines.extend(
                paths
                    .iter()
                    .map(|p| format!("{label:<9} {}", escape_value(p))),
            );
        }
        lines.extend(
            r.rejected
                .iter()
                .map(|k| format!("refused   {:?} ({})", k.path, k.reason)),
        );
        lines.extend(left_out);
        lines.join("\n")
    })?;
    if args.exit_code && !report.in_sync {
        return Err(Untold.into());
    }
    Ok(())
}

/// The runtime of a pull or push. Its worker threads drive the network; file I/O and hashing
/// go to the blocking pool (see dpipe-storage's `local_io`). Measured on 2 cores against a
/// local S3 server, one worker and two blocking threads beat Tokio's defaults (one worker per
/// core, up to 512 blocking threads) by ~15% on 1,000 small files: fewer thread hand-offs, and
/// no pile of threads contending for one folder's lock in the kernel.
pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads((cores / 2).max(1))
        .max_blocking_threads(cores.max(2))
        .build()?)
}

/// The storage tuning of a pull or push: the defaults, but for how long an unreachable
/// storage is waited out (`--give-up-after`) and how old leftovers are removed
/// (`--leftover-age`).
fn tuning(args: &SyncArgs) -> anyhow::Result<Tuning> {
    Ok(Tuning {
        give_up_after: args.give_up_after.to_std()?,
        leftover_age: args.leftover_age.to_std()?,
        ..Tuning::default()
    })
}

fn options(args: &SyncArgs) -> SyncOptions {
    SyncOptions {
        preview: args.preview,
        mode: match args.mode {
            ModeArg::Default => Mode::Default,
            ModeArg::New => Mode::New,
            ModeArg::Mod => Mode::Mod,
            ModeArg::All => Mode::All,
        },
        include: args.include.clone(),
        exclude: args.exclude.clone(),
        files: args.files.clone(),
        nrecent: args.nrecent,
        merge: args.merge.map(|m| match m {
            MergeArg::Keep => Merge::Keep,
            MergeArg::Overwrite => Merge::Overwrite,
        }),
    }
}
