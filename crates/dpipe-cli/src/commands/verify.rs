//! `dpipe verify`: dpipe-client's verify of one pipe, printed — a table of the files that
//! differ or were never synced (path, what, expected, found: short hashes or sizes) and a
//! one-line summary on stdout (the report as JSON with `--json`); notes on stderr say when the
//! storage could only be compared by size. While the files are read, the progress bar of
//! pull and push on stderr (on a terminal, not with `--json`). Exit code 1 when a recorded
//! file differs in any way, after the report is printed, with nothing more on stderr (as
//! `status --exit-code`); unrecorded files alone leave it 0.

use std::io::IsTerminal as _;

use dpipe_client::sync::{Basis, Evidence, Mismatch, Syncer, VerifyReport};

use super::sync::{Bar, runtime};
use crate::cli::verify::VerifyArgs;
use crate::exit::Untold;
use crate::output::table;
use crate::settings::Context;

/// Hex digits of a hash shown in the table.
const SHORT_HASH: usize = 12;

/// Runs `dpipe verify`.
pub fn run(ctx: &Context, args: VerifyArgs) -> anyhow::Result<()> {
    let profile = ctx.profile()?;
    let api = ctx.api()?;
    let runtime = runtime()?;
    let bar = Bar::new(!ctx.out.is_json() && std::io::stderr().is_terminal());
    let syncer =
        Syncer::new(api.as_ref(), profile.repo(), runtime.handle().clone()).with_progress(&bar);
    let report = syncer.verify(args.pipe.name(), args.remote)?;
    if let Some(remote) = &report.remote {
        if !remote.checksums {
            ctx.out
                .note("the storage keeps no checksums; --remote compared sizes only");
        } else if remote.by_size > 0 {
            ctx.out.note(&format!(
                "{} object{} without a checksum in the storage (such as multipart uploads by other tools): compared by size only",
                grouped(remote.by_size as u64),
                plural(remote.by_size)
            ));
        }
    }
    ctx.out.show(&report, human)?;
    if report.differ() > 0 {
        return Err(Untold.into());
    }
    Ok(())
}

/// The table of what differs, sorted by path, and the summary line.
fn human(report: &VerifyReport) -> String {
    // (rank of the class, cells): sorted by path, then class.
    let mut rows: Vec<(u8, Vec<String>)> = Vec::new();
    let mut add = |what: &'static str, rank: u8, mismatches: &[Mismatch]| {
        for m in mismatches {
            let cells = vec![
                m.path.clone(),
                what.to_string(),
                evidence(m.by, Some(&m.expected)),
                evidence(m.by, m.found.as_ref()),
            ];
            rows.push((rank, cells));
        }
    };
    add("changed", 0, &report.changed);
    add("missing", 1, &report.missing);
    if let Some(remote) = &report.remote {
        add("remote differs", 2, &remote.differs);
        add("remote missing", 3, &remote.missing);
    }
    for file in &report.unrecorded {
        let cells = vec![
            file.path.clone(),
            "unrecorded".to_string(),
            "-".to_string(),
            size(file.size),
        ];
        rows.push((4, cells));
    }
    rows.sort_by(|(a_rank, a), (b_rank, b)| (&a[0], a_rank).cmp(&(&b[0], b_rank)));
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, cells)| cells).collect();
    let mut lines = vec![table(&["PATH", "WHAT", "EXPECTED", "FOUND"], &rows)];
    lines.push(summary(report));
    lines.retain(|line| !line.is_empty());
    lines.join("\n")
}

/// `1,234 files verified, 2 differ`, then how many are unrecorded; or that nothing was
/// recorded yet.
fn summary(report: &VerifyReport) -> String {
    let mut line = if report.verified == 0 {
        format!(
            "nothing recorded yet for pipe {}: it was never pulled or pushed into this file repo",
            report.pipe
        )
    } else {
        let differ = report.differ();
        format!(
            "{} file{} verified, {} differ{}",
            grouped(report.verified as u64),
            plural(report.verified),
            grouped(differ as u64),
            if differ == 1 { "s" } else { "" }
        )
    };
    if !report.unrecorded.is_empty() {
        line.push_str(&format!(
            "; {} unrecorded",
            grouped(report.unrecorded.len() as u64)
        ));
    }
    line
}

/// A table cell: a short hash with its kind, a size, or `-` for nothing.
fn evidence(by: Basis, value: Option<&Evidence>) -> String {
    match value {
        None => "-".to_string(),
        Some(Evidence::Size(bytes)) => size(*bytes),
        Some(Evidence::Hash(hex)) => {
            let kind = if by == Basis::Md5 { "md5" } else { "sha256" };
            format!("{kind} {}", &hex[..hex.len().min(SHORT_HASH)])
        }
    }
}

/// Exact bytes (two sizes that differ by a byte must read differently).
fn size(bytes: u64) -> String {
    format!("{} B", grouped(bytes))
}

/// `count` with thousands separated by commas: `1,234`.
fn grouped(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `s` after a count other than one.
fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(super::grouped(0), "0");
        assert_eq!(super::grouped(999), "999");
        assert_eq!(super::grouped(1_234), "1,234");
        assert_eq!(super::grouped(1_234_567), "1,234,567");
    }
}
