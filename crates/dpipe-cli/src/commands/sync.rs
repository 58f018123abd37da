//! `dpipe pull`, `dpipe push` and `dpipe status`: run dpipe-client's sync engine on a Tokio
//! runtime and print its report — a preview's file list and a one-line summary on stdout (the report as JSON
//! with `--json`), refused keys, failed files and notes on stderr. A run that left a file
//! behind (a failed transfer, a refused key) exits 1 after the others went through; a run
//! refused before any transfer exits 1 (conflicts) or 4 (read-only role).
//!
//! While files move, a progress bar on stderr (files, bytes, rate, ETA) — not with `--quiet`,
//! `--json`, or when stderr is not a terminal. A pipe's `README.md` and `LICENSE.md` are shown
//! when first pulled: their first [`SHOWN_LINES`] lines under a header, on stdout (on stderr
//! with `--json`, so stdout stays the report). `--quiet` prints nothing but problems: no
//! summary, no notes, no README.

use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::anyhow;
use dpipe_client::sync::{Direction, Progress, SyncOptions, SyncReport, Syncer};
use dpipe_core::plan::{Merge, Mode};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::sync::{MergeArg, ModeArg, StatusArgs, SyncArgs};
use crate::output::{Output, human_size};
use crate::settings::Context;

/// Runs a pull or a push of `args.pipe`.
pub fn run(ctx: &Context, args: SyncArgs, direction: Direction) -> anyhow::Result<()> {
    let profile = ctx.profile()?;
    let api = ctx.api()?;
    let runtime = runtime()?;
    let bar = Bar::new(!args.quiet && !ctx.out.is_json() && std::io::stderr().is_terminal());
    let syncer = Syncer::new(api.as_ref(), profile.repo(), runtime.handle().clone())
        .with_progress(&bar)
        .with_concurrency(usize::from(args.transfers));
    let options = options(&args);
    let report = match direction {
        Direction::Pull => syncer.pull(&args.pipe, &options)?,
        Direction::Push => syncer.push(&args.pipe, &options)?,
    };
    if !args.quiet {
        let folder = syncer.folder(&report.pipe);
        for path in &report.first_pulled {
            show_file(&ctx.out, &folder, path, ctx.out.is_json());
        }
    }
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

/// Lines of a first-pulled `README.md` or `LICENSE.md` shown.
pub const SHOWN_LINES: usize = 40;

/// The progress bar of a pull or push on stderr: files and bytes done, rate, ETA. Hidden
/// when not `shown`. Bytes count when a whole file is through, not within a file.
struct Bar {
    bar: ProgressBar,
    shown: bool,
    files: AtomicUsize,
    done: AtomicUsize,
}

impl Bar {
    fn new(shown: bool) -> Bar {
        // Drawn from the first transfer on (see `start`), never before.
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        if let Ok(style) = ProgressStyle::with_template(
            "{msg} files [{bar:20}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Bar {
            bar,
            shown,
            files: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        }
    }
}

impl Progress for Bar {
    fn start(&self, files: usize, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.bar.reset();
        self.bar.set_length(bytes);
        self.bar.set_message(format!("0/{files}"));
        if self.shown {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
    fn file_done(&self, _path: &str, bytes: u64) {
        self.count();
        self.bar.inc(bytes);
    }
    fn file_failed(&self, _path: &str) {
        self.count();
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Bar {
    fn count(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let files = self.files.load(Ordering::Relaxed);
        self.bar.set_message(format!("{done}/{files}"));
    }
}

/// Shows the first [`SHOWN_LINES`] lines of `path` in `folder` under a header; a file that
/// cannot be read is a warning, not a failure of the pull.
fn show_file(out: &Output, folder: &Path, path: &str, to_stderr: bool) {
    let text = match std::fs::read(folder.join(path)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            out.warn(&format!("cannot show {path}: {e}"));
            return;
        }
    };
    let text = excerpt(path, &text);
    if to_stderr {
        eprintln!("{text}");
    } else if let Err(e) = out.text(&text) {
        out.warn(&format!("cannot show {path}: {e}"));
    }
}

/// `path`'s header, its first [`SHOWN_LINES`] lines, and how many more there are.
fn excerpt(path: &str, text: &str) -> String {
    let total = text.lines().count();
    let mut lines = vec![format!("===== {path} =====")];
    lines.extend(text.lines().take(SHOWN_LINES).map(str::to_string));
    if total > SHOWN_LINES {
        lines.push(format!("… ({} more lines)", total - SHOWN_LINES));
    }
    lines.push("=".repeat(path.chars().count() + 12));
    lines.join("\n")
}

/// The runtime of a pull or push. Its worker threads drive the network; file I/O and hashing
/// go to the blocking pool (see dpipe-storage's `local_io`). Measured on 2 cores against a
/// local S3 server, one worker and two blocking threads beat Tokio's defaults (one worker per
/// core, up to 512 blocking threads) by ~15% on 1,000 small files: fewer thread hand-offs, and
/// no pile of threads contending for one folder's lock in the kernel.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads((cores / 2).max(1))
        .max_blocking_threads(cores.max(2))
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
    // Notes, not problems: silenced with the summary.
    let kept = if quiet { &[] } else { plan.kept.as_slice() };
    for path in kept {
        out.note(&format!(
            "kept {path} (changed on both sides; --merge keep)"
        ));
    }
    if !quiet && !plan.newer_on_target.is_empty() {
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
            lines.push(format!(
                "{:<8}  {}  {}",
                t.reason,
                t.path,
                human_size(t.size)
            ));
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
        human_size(bytes),
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

#[cfg(test)]
mod tests {
    #[test]
    fn excerpts_cut_long_files() {
        let long: String = (1..=45).map(|i| format!("line {i}\n")).collect();
        let shown = super::excerpt("README.md", &long);
        assert!(
            shown.starts_with("===== README.md =====\nline 1\n"),
            "{shown}"
        );
        assert!(shown.contains("line 40\n… (5 more lines)\n"), "{shown}");
        assert!(!shown.contains("line 41"), "{shown}");
        assert_eq!(super::excerpt("L", "x"), "===== L =====\nx\n=============");
    }
}
