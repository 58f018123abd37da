//! `dpipe pull`, `dpipe push` and `dpipe status`: run dpipe-client's sync engine on a Tokio
//! runtime and print its report — a preview's file list and a one-line summary on stdout (the report as JSON
//! with `--json`), refused keys, failed files and notes on stderr. A run that left a file
//! behind (a failed transfer, a refused key) exits 1 after the others went through; a run
//! refused before any transfer exits 1 (conflicts) or 4 (read-only role).

use anyhow::anyhow;
use dpipe_client::sync::{Direction, SyncOptions, SyncReport, Syncer};
use dpipe_core::plan::{Merge, Mode};

use crate::cli::sync::{MergeArg, ModeArg, StatusArgs, SyncArgs};
use crate::output::Output;
use crate::settings::Context;

/// Runs a pull or a push of `args.pipe`.
pub fn run(ctx: &Context, args: SyncArgs, direction: Direction) -> anyhow::Result<()> {
    let profile = ctx.profile()?;
    let api = ctx.api()?;
    let runtime = runtime()?;
    let syncer = Syncer::new(api.as_ref(), profile.repo(), runtime.handle().clone());
    let options = options(&args);
    let report = match direction {
        Direction::Pull => syncer.pull(&args.pipe, &options)?,
        Direction::Push => syncer.push(&args.pipe, &options)?,
    };
    print(&ctx.out, &report, args.quiet)?;
    if report.is_complete() {
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

/// Shows what differs between the folder of `args.pipe` and its storage.
pub fn status(ctx: &Context, args: StatusArgs) -> anyhow::Result<()> {
    let profile = ctx.profile()?;
    let api = ctx.api()?;
    let runtime = runtime()?;
    let syncer = Syncer::new(api.as_ref(), profile.repo(), runtime.handle().clone());
    let report = syncer.status(&args.pipe, args.include.as_deref(), args.exclude.as_deref())?;
    ctx.out.show(&report, |r| {
        if r.in_sync && r.rejected.is_empty() {
            return format!("pipe {} is in sync", r.pipe);
        }
        let mut lines = Vec::new();
        for (label, paths) in [
            ("to pull", &r.to_pull),
            ("to push", &r.to_push),
            ("conflict", &r.conflicts),
        ] {
            lines.extend(paths.iter().map(|p| format!("{label:<9} {p}")));
        }
        lines.extend(
            r.rejected
                .iter()
                .map(|k| format!("refused   {:?} ({})", k.path, k.reason)),
        );
        lines.join("\n")
    })
}

/// The runtime the storage work runs on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
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

/// Prints the report: JSON, or the preview's files and a summary line; problems on stderr.
fn print(out: &Output, report: &SyncReport, quiet: bool) -> anyhow::Result<()> {
    for key in &report.rejected {
        out.warn(&format!("refused key {:?}: {}", key.path, key.reason));
    }
    for failed in &report.errors {
        out.warn(&format!("{} failed: {}", failed.path, failed.reason));
    }
    let plan = &report.plan;
    let verb = report.direction.as_str();
    for path in &plan.kept {
        out.note(&format!(
            "kept {path} (changed on both sides; --merge keep)"
        ));
    }
    if !plan.newer_on_target.is_empty() {
        let other = match report.direction {
            Direction::Pull => "push",
            Direction::Push => "pull",
        };
        out.note(&format!(
            "{} file(s) changed only on the target side, left for {other}: {}",
            plan.newer_on_target.len(),
            plan.newer_on_target.join(", ")
        ));
    }
    if plan.blocked {
        // Only a preview gets here with a blocked plan: a real run was refused already.
        for c in &plan.conflicts {
            out.warn(&format!("would refuse: {} ({})", c.path, c.reason));
        }
        if !plan.remote_ahead_allowed {
            for path in &plan.remote_ahead {
                out.warn(&format!(
                    "would refuse: {path} (remote changed, not pulled yet)"
                ));
            }
        }
    }
    for path in plan.unknown_files.iter().chain(&plan.filtered_files) {
        out.warn(&format!("{path}: not on the source side, or filtered out"));
    }
    if out.is_json() {
        return out.json_value(report);
    }
    if quiet {
        return Ok(());
    }
    let mut lines = Vec::new();
    let (count, bytes) = if report.preview {
        for t in &plan.transfers {
            lines.push(format!("{:<8}  {}  {}", t.reason, t.path, size(t.size)));
        }
        (plan.transfers.len(), plan.bytes)
    } else {
        (report.transferred.len(), report.bytes)
    };
    let done = if report.preview {
        format!("would {verb}")
    } else {
        format!("{verb}ed")
    };
    let mut summary = format!(
        "{done} {count} file{}, {}; {} unchanged",
        if count == 1 { "" } else { "s" },
        size(bytes),
        plan.unchanged
    );
    if plan.skipped > 0 {
        summary.push_str(&format!("; {} left out by --mode", plan.skipped));
    }
    if !report.errors.is_empty() {
        summary.push_str(&format!("; {} failed", report.errors.len()));
    }
    lines.push(summary);
    out.text(&lines.join("\n"))
}

/// Bytes for people: `512 B`, `3.4 KiB`, `1.0 MiB`, ….
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_for_people() {
        assert_eq!(super::size(0), "0 B");
        assert_eq!(super::size(1023), "1023 B");
        assert_eq!(super::size(3482), "3.4 KiB");
        assert_eq!(super::size(1024 * 1024), "1.0 MiB");
    }
}
