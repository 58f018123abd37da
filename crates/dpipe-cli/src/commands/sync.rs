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

use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use dpipe_client::sync::Tuning;
use dpipe_client::sync::{
    Direction, FileMove, Progress, REMOTE_AHEAD_TEXT, SyncOptions, SyncReport, Syncer,
};
use dpipe_core::plan::{Merge, Mode};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::sync::{MergeArg, ModeArg, StatusArgs, SyncArgs};
use crate::exit::Untold;
use crate::interrupt;
use crate::output::{Output, escape_value, human_size, table};
use crate::settings::Context;

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

/// Lines of a first-pulled `README.md` or `LICENSE.md` shown.
pub const SHOWN_LINES: usize = 40;

/// The progress bar of a pull or push on stderr: files and bytes done, rate, ETA. Hidden
/// when not `shown`. Bytes count when a whole file is through, not within a file.
pub(super) struct Bar {
    bar: ProgressBar,
    shown: bool,
    files: AtomicUsize,
    done: AtomicUsize,
}

impl Bar {
    pub(super) fn new(shown: bool) -> Bar {
        // Drawn from the first transfer on (see `start`), never before.
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        Bar {
            bar,
            shown,
            files: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        }
    }
}

/// Terminals narrower than this get the compact bar: no room for the bytes, rate and ETA.
const FULL_BAR_COLUMNS: u16 = 72;

/// The look of [`Bar`] on a terminal `columns` wide: the counts (and, when there is room,
/// bytes, rate and ETA) around a bar that takes the rest of the width (`wide_bar`), so that
/// the line fits the terminal and never wraps. `None` only if a template were wrong (then
/// indicatif's default is kept).
fn bar_style(columns: u16) -> Option<ProgressStyle> {
    let template = if columns >= FULL_BAR_COLUMNS {
        "{prefix}{msg} files [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}"
    } else {
        "{prefix}{msg} [{wide_bar}] {percent}%"
    };
    ProgressStyle::with_template(template)
        .ok()
        .map(|style| style.progress_chars("=> "))
}

/// What the bar shows before the counts while the storage is out of reach.
fn unreachable_note(down_for: Duration) -> String {
    format!("storage unreachable, retrying ({} s)… ", down_for.as_secs())
}

/// The width of the terminal on stderr; 80 when it has none.
fn stderr_columns() -> u16 {
    terminal_size::terminal_size_of(std::io::stderr()).map_or(80, |(width, _)| width.0)
}

impl Progress for Bar {
    fn start(&self, files: usize, bytes: u64) {
        self.files.store(files, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
        self.bar.reset();
        self.bar.set_length(bytes);
        self.say(&format!("0/{files}"));
        if self.shown {
            if let Some(style) = bar_style(stderr_columns()) {
                self.bar.set_style(style);
            }
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
    fn unreachable(&self, down_for: Duration) {
        self.bar.set_prefix(unreachable_note(down_for));
    }
    fn reachable(&self) {
        self.bar.set_prefix("");
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Bar {
    fn count(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let files = self.files.load(Ordering::Relaxed);
        self.say(&format!("{done}/{files}"));
    }

    /// Sets the bar's message, escaped for the terminal like all output (see
    /// [`escape_value`]): every message goes through here.
    fn say(&self, message: &str) {
        self.bar.set_message(escape_value(message).into_owned());
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
        out.text_on_stderr(&text);
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

/// Prints the report: JSON, or the preview's files and a summary line; problems on stderr.
fn print(out: &Output, report: &SyncReport, quiet: bool) -> anyhow::Result<()> {
    for warning in &report.warnings {
        out.warn(warning);
    }
    for key in &report.rejected {
        out.warn(&format!("refused key {:?}: {}", key.path, key.reason));
    }
    for failed in &report.errors {
        out.warn(&format!("{} failed: {}", failed.path, failed.reason));
    }
    if let Some(error) = &report.leftovers_error {
        out.warn(&format!(
            "leftovers of interrupted pushes not removed: {error}"
        ));
    }
    if !quiet && !report.leftovers.is_empty() {
        let count = report.leftovers.len();
        out.note(&format!(
            "{} {count} leftover{} of interrupted pushes: {}",
            if report.preview {
                "would remove"
            } else {
                "removed"
            },
            plural(count),
            report.leftovers.join(", ")
        ));
    }
    let plan = &report.plan;
    let verb = report.direction.as_str();
    // Notes, not problems: silenced with the summary. They say what `--merge keep` kept,
    // where the target side changed, and which command moves it on.
    let (kept_version, next, target_changed, other) = match report.direction {
        Direction::Pull => (
            "the local version",
            "push sends it",
            "changed locally",
            "push",
        ),
        Direction::Push => (
            "the version on storage",
            "pull brings it",
            "changed on storage",
            "pull",
        ),
    };
    let kept = if quiet { &[] } else { plan.kept.as_slice() };
    for path in kept {
        out.note(&format!(
            "kept {kept_version} of {path} (changed on both sides; --merge keep): {next}"
        ));
    }
    if !quiet && !plan.newer_on_target.is_empty() {
        out.note(&format!(
            "{} file{} {target_changed}, left for {other}: {}",
            plan.newer_on_target.len(),
            plural(plan.newer_on_target.len()),
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
                out.warn(&format!("would refuse: {path} ({REMOTE_AHEAD_TEXT})"));
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
        lines.push(preview_table(&plan.transfers));
        (plan.transfers.len(), plan.bytes)
    } else {
        (report.transferred.len(), report.bytes)
    };
    let done = if report.preview {
        format!("would {verb}")
    } else {
        format!("{verb}ed")
    };
    // Bytes an interrupted run had moved already, kept rather than moved again.
    let resumed = match report.resumed_bytes {
        0 => String::new(),
        kept => format!(" ({} of it resumed)", human_size(kept)),
    };
    let mut summary = format!(
        "{done} {count} file{}, {}{resumed}; {} unchanged",
        plural(count),
        human_size(bytes),
        plan.unchanged
    );
    if plan.left_out_by_mode > 0 {
        summary.push_str(&format!("; {} left out by --mode", plan.left_out_by_mode));
    }
    if !report.errors.is_empty() {
        summary.push_str(&format!("; {} failed", report.errors.len()));
    }
    lines.push(summary);
    lines.retain(|line| !line.is_empty());
    out.text(&lines.join("\n"))
}

/// The files a preview would move, one aligned row each (empty when there are none).
fn preview_table(transfers: &[FileMove]) -> String {
    let rows: Vec<Vec<String>> = transfers
        .iter()
        .map(|t| vec![t.reason.to_string(), t.path.clone(), human_size(t.size)])
        .collect();
    table(&["REASON", "PATH", "SIZE"], &rows)
}

/// `s` after a count other than one.
fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use indicatif::{ProgressBar, ProgressDrawTarget, TermLike};

    /// A terminal of a given width that keeps the lines drawn on it.
    #[derive(Debug, Clone)]
    struct Screen {
        width: u16,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl TermLike for Screen {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, line: &str) -> io::Result<()> {
            self.write_str(line)
        }
        fn write_str(&self, text: &str) -> io::Result<()> {
            if !text.is_empty() {
                self.lines.lock().unwrap().push(text.to_string());
            }
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_progress_bar_fits_the_terminal_width() {
        for width in [40u16, 60, 100, 200] {
            let screen = Screen {
                width,
                lines: Arc::default(),
            };
            let bar = ProgressBar::with_draw_target(
                Some(20 << 20),
                ProgressDrawTarget::term_like(Box::new(screen.clone())),
            );
            bar.set_style(super::bar_style(width).expect("a valid template"));
            bar.set_message("3/11");
            bar.inc(5 << 20);
            bar.force_draw();
            let lines = screen.lines.lock().unwrap().clone();
            let line = lines.last().expect("the bar was drawn");
            let start = if width >= super::FULL_BAR_COLUMNS {
                "3/11 files [====="
            } else {
                "3/11 [====="
            };
            assert!(line.starts_with(start), "{line:?}");
            assert_eq!(line.chars().count(), usize::from(width), "{line:?}");
        }
    }

    #[test]
    fn the_progress_bar_says_while_the_storage_is_out_of_reach() {
        let screen = Screen {
            width: 120,
            lines: Arc::default(),
        };
        let bar = ProgressBar::with_draw_target(
            Some(20 << 20),
            ProgressDrawTarget::term_like(Box::new(screen.clone())),
        );
        bar.set_style(super::bar_style(120).expect("a valid template"));
        bar.set_message("3/11");
        bar.set_prefix(super::unreachable_note(std::time::Duration::from_millis(
            12_400,
        )));
        bar.force_draw();
        let line = screen.lines.lock().unwrap().last().cloned().unwrap();
        assert!(
            line.starts_with("storage unreachable, retrying (12 s)… 3/11 files ["),
            "{line:?}"
        );
        assert_eq!(line.chars().count(), 120, "{line:?}");
    }

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
