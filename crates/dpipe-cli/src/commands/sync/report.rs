//! The printing of a pull's or push's report: problems and notes on stderr, then the JSON
//! report, or a preview's files in aligned columns and a one-line summary.

use dpipe_client::sync::{Direction, FileMove, REMOTE_AHEAD_TEXT, SyncReport};

use crate::output::{Output, human_size, table};

/// Prints the report: JSON, or the preview's files and a summary line; problems on stderr.
pub(super) fn print(out: &Output, report: &SyncReport, quiet: bool) -> anyhow::Result<()> {
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
pub(super) fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}
