//! `dpipe scan remote` and `dpipe scan local`: the files of a pipe on one side, as the sync
//! engine sees them — a table on stdout (a JSON object with `--json`), refused keys on stderr
//! and exit code 1 when there are any (after the list was printed).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use dpipe_client::sync::Syncer;
use dpipe_core::manifest::Manifest;
use serde::Serialize;

use crate::cli::scan::{ScanArgs, ScanCommand};
use crate::output::{human_size, table};
use crate::settings::Context;

/// Hex digits of the SHA-256 shown in the table.
const SHORT_SHA: usize = 12;

/// The JSON of a scan.
#[derive(Serialize)]
struct Listing {
    pipe: String,
    side: &'static str,
    files: Vec<File>,
    bytes: u64,
    rejected: Vec<Refused>,
}

#[derive(Serialize)]
struct File {
    path: String,
    size: u64,
    /// Seconds since the Unix epoch, UTC.
    modified: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

#[derive(Serialize)]
struct Refused {
    path: String,
    reason: &'static str,
}

/// Runs `dpipe scan remote|local`.
pub fn run(ctx: &Context, command: ScanCommand) -> anyhow::Result<()> {
    let profile = ctx.profile()?;
    let api = ctx.api()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let syncer = Syncer::new(api.as_ref(), profile.repo(), runtime.handle().clone());
    let (side, args, manifest) = match command {
        ScanCommand::Remote(a) => {
            let m = syncer.scan_remote_files(
                a.pipe.name(),
                a.include.as_deref(),
                a.exclude.as_deref(),
            )?;
            ("remote", a, m)
        }
        ScanCommand::Local(a) => {
            let m = syncer.scan_local_files(
                a.pipe.name(),
                a.include.as_deref(),
                a.exclude.as_deref(),
            )?;
            ("local", a, m)
        }
    };
    let listing = listing(side, &args, manifest);
    for key in &listing.rejected {
        ctx.out
            .warn(&format!("refused key {:?}: {}", key.path, key.reason));
    }
    ctx.out.show(&listing, human)?;
    if listing.rejected.is_empty() {
        return Ok(());
    }
    Err(anyhow!(
        "scan {side} of pipe {}: {} key(s) refused",
        listing.pipe,
        listing.rejected.len()
    ))
}

fn listing(side: &'static str, args: &ScanArgs, manifest: Manifest) -> Listing {
    let remote = side == "remote";
    let mut files: Vec<File> = manifest
        .entries
        .into_iter()
        .map(|e| File {
            path: e.path,
            size: e.size,
            modified: e.modified.and_then(seconds),
            etag: if remote { e.etag } else { None },
            sha256: if remote { None } else { e.sha256 },
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Listing {
        pipe: args.pipe.name().to_string(),
        side,
        bytes: files.iter().map(|f| f.size).sum(),
        files,
        rejected: manifest
            .rejected
            .into_iter()
            .map(|k| Refused {
                path: k.key,
                reason: k.reason,
            })
            .collect(),
    }
}

fn human(listing: &Listing) -> String {
    let remote = listing.side == "remote";
    let last = if remote { "ETAG" } else { "SHA256" };
    let rows: Vec<Vec<String>> = listing
        .files
        .iter()
        .map(|f| {
            let hash = if remote {
                f.etag.clone()
            } else {
                f.sha256
                    .as_ref()
                    .map(|s| s.chars().take(SHORT_SHA).collect())
            };
            vec![
                f.path.clone(),
                human_size(f.size),
                f.modified.map_or_else(|| "-".to_string(), utc),
                hash.unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    let count = listing.files.len();
    let summary = format!(
        "{count} file{} on the {} side of pipe {}, {}",
        if count == 1 { "" } else { "s" },
        listing.side,
        listing.pipe,
        human_size(listing.bytes)
    );
    if rows.is_empty() {
        return summary;
    }
    format!(
        "{}\n{summary}",
        table(&["PATH", "SIZE", "MODIFIED", last], &rows)
    )
}

fn seconds(time: SystemTime) -> Option<u64> {
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// `secs` since the epoch as `YYYY-MM-DD HH:MM:SS` UTC (civil-from-days, proleptic Gregorian).
fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_times() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13:20");
    }
}
