//! `dpipe audit PIPE`: the pipe's audit trail, newest first — who fetched its credentials
//! (for a managed pipe, the key id handed out and its expiry), who changed its grants or
//! settings, and whether they were allowed. Its owner only.
//!
//! `--since`, `--user` and `--action` are sent to the repo API, which filters the trail in
//! its query: the endpoint returns at most [`AUDIT_LIMIT`] events, and a pipe pulled every
//! minute fetches its credentials more often than that in a day, so filtering what came back
//! would miss older events that match. In the table, repeated credential reads of one user
//! within a minute are one line with a count (`credentials.read ×12`); `--json` prints every
//! event that matches, as recorded.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use dpipe_client::AuditQuery;
use dpipe_client::audit::{AUDIT_LIMIT, CREDENTIALS_READ};
use dpipe_core::wire::AuditView;

use super::AboutPipe as _;
use crate::cli::AuditArgs;
use crate::exit::UsageError;
use crate::output::table;
use crate::settings::Context;

/// Credential reads of one user closer together than this are one table line.
const COLLAPSE_WINDOW: TimeDelta = TimeDelta::minutes(1);

/// Runs `dpipe audit`.
pub fn run(ctx: &Context, args: AuditArgs) -> anyhow::Result<()> {
    let pipe = args.pipe.name();
    let query = AuditQuery {
        since: args
            .since
            .as_deref()
            .map(|since| parse_since(since, Utc::now()))
            .transpose()?,
        user: args.user,
        action: args.action,
    };
    let events = ctx.api()?.audit(pipe, &query).about_pipe(pipe)?;
    if events.len() >= AUDIT_LIMIT {
        ctx.out.note(&format!(
            "Only the newest {AUDIT_LIMIT} events are shown; narrow with --since, --user or --action."
        ));
    }
    if events.is_empty() {
        ctx.out.note(&if query == AuditQuery::default() {
            format!("No audit events for pipe {pipe} yet.")
        } else {
            format!("No audit events of pipe {pipe} match.")
        });
    }
    ctx.out.show(&events, |events| {
        let rows: Vec<Vec<String>> = collapse(events).iter().map(row).collect();
        table(&["WHEN", "WHO", "ACTION", "PIPE", "OUTCOME"], &rows)
    })
}

/// `--since`: a date (midnight UTC), an RFC 3339 instant, or a time before `now` such as
/// `30m`, `2h`, `3d`, `1w` (also `s`).
fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, UsageError> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant.to_utc());
    }
    let ago = text
        .char_indices()
        .last()
        .and_then(|(split, unit)| Some((text[..split].parse::<i64>().ok()?, unit)))
        .and_then(|(amount, unit)| match unit {
            's' => TimeDelta::try_seconds(amount),
            'm' => TimeDelta::try_minutes(amount),
            'h' => TimeDelta::try_hours(amount),
            'd' => TimeDelta::try_days(amount),
            'w' => TimeDelta::try_weeks(amount),
            _ => None,
        })
        .filter(|ago| *ago >= TimeDelta::zero())
        .and_then(|ago| now.checked_sub_signed(ago));
    ago.ok_or_else(|| {
        UsageError(format!(
            "--since {text}: give a date (YYYY-MM-DD), an instant (RFC 3339) or a time ago \
             such as 30m, 2h, 3d or 1w"
        ))
    })
}

fn time_of(event: &AuditView) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&event.at)
        .ok()
        .map(|at| at.to_utc())
}

/// One table line: an event, standing for `count` credential reads when several collapsed.
struct Line<'a> {
    event: &'a AuditView,
    count: usize,
}

/// The table's lines for `events` (newest first): each credential read joins the line of
/// the newest read of the same user, pipe, outcome and handed-out key (a managed pipe's
/// distinct keys stay on lines of their own) when within [`COLLAPSE_WINDOW`] of it.
fn collapse(events: &[AuditView]) -> Vec<Line<'_>> {
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut open: HashMap<(&str, &str, &str, Option<&str>), usize> = HashMap::new();
    for event in events {
        if event.action == CREDENTIALS_READ {
            let key = (
                event.who.as_str(),
                event.pipe.as_str(),
                event.outcome.as_str(),
                event.key_id.as_deref(),
            );
            if let Some(&index) = open.get(&key)
                && within_window(lines[index].event, event)
            {
                lines[index].count += 1;
                continue;
            }
            open.insert(key, lines.len());
        }
        lines.push(Line { event, count: 1 });
    }
    lines
}

/// True when `older` happened less than [`COLLAPSE_WINDOW`] before `newest`.
fn within_window(newest: &AuditView, older: &AuditView) -> bool {
    match (time_of(newest), time_of(older)) {
        (Some(newest), Some(older)) => (newest - older).abs() < COLLAPSE_WINDOW,
        _ => false,
    }
}

/// One table row: the action names its grantee and role (or its count when collapsed), a
/// refusal its reason.
fn row(line: &Line<'_>) -> Vec<String> {
    let event = line.event;
    let mut action = event.action.clone();
    if line.count > 1 {
        action.push_str(&format!(" \u{d7}{}", line.count));
    }
    if let Some(grantee) = &event.grantee {
        action.push_str(&format!(" {grantee}"));
    }
    if let Some(role) = &event.role {
        action.push_str(&format!(" ({role})"));
    }
    // A managed pipe's handout: which key, and until when (a collapsed line has one key).
    if let (Some(key_id), Some(expires_at)) = (&event.key_id, &event.expires_at) {
        action.push_str(&format!(" key {key_id} until {expires_at}"));
    }
    let outcome = match &event.reason {
        Some(reason) => format!("{} ({reason})", event.outcome),
        None => event.outcome.clone(),
    };
    vec![
        event.at.clone(),
        event.who.clone(),
        action,
        event.pipe.clone(),
        outcome,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: &str, who: &str, action: &str) -> AuditView {
        AuditView {
            at: at.to_string(),
            who: who.to_string(),
            action: action.to_string(),
            pipe: "p".to_string(),
            grantee: None,
            role: None,
            outcome: "allowed".to_string(),
            reason: None,
            key_id: None,
            expires_at: None,
        }
    }

    #[test]
    fn since_takes_dates_instants_and_times_ago() {
        let now = DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |text: &str| parse_since(text, now).unwrap().to_rfc3339();
        assert_eq!(at("2026-06-01"), "2026-06-01T00:00:00+00:00");
        assert_eq!(at("2026-06-14T10:30:00+02:00"), "2026-06-14T08:30:00+00:00");
        assert_eq!(at("90s"), "2026-06-15T11:58:30+00:00");
        assert_eq!(at("30m"), "2026-06-15T11:30:00+00:00");
        assert_eq!(at("2h"), "2026-06-15T10:00:00+00:00");
        assert_eq!(at("3d"), "2026-06-12T12:00:00+00:00");
        assert_eq!(at("1w"), "2026-06-08T12:00:00+00:00");
        for wrong in ["", "h", "2", "2y", "-2h", "2026-13-01", "yesterday", "1.5h"] {
            let err = parse_since(wrong, now).unwrap_err().0;
            assert!(
                err.starts_with(&format!("--since {wrong}: give a date")),
                "{err}"
            );
        }
    }

    #[test]
    fn reads_of_one_user_within_a_minute_collapse() {
        let events = [
            event("2026-06-15T12:00:59.000Z", "ann", CREDENTIALS_READ),
            event("2026-06-15T12:00:58.000Z", "bob", CREDENTIALS_READ),
            event("2026-06-15T12:00:30.000Z", "ann", CREDENTIALS_READ),
            event("2026-06-15T12:00:20.000Z", "ann", "grant.set"),
            event("2026-06-15T12:00:00.000Z", "ann", CREDENTIALS_READ),
            event("2026-06-15T11:59:59.000Z", "ann", CREDENTIALS_READ),
        ];
        let lines: Vec<(String, usize)> = collapse(&events)
            .iter()
            .map(|l| (format!("{} {}", l.event.who, l.event.action), l.count))
            .collect();
        assert_eq!(
            lines,
            [
                ("ann credentials.read".to_string(), 3),
                ("bob credentials.read".to_string(), 1),
                ("ann grant.set".to_string(), 1),
                ("ann credentials.read".to_string(), 1),
            ]
        );
        assert_eq!(row(&collapse(&events)[0])[2], "credentials.read \u{d7}3");
    }

    #[test]
    fn reads_handing_out_different_keys_stay_apart() {
        let handout = |key: &str| AuditView {
            key_id: Some(key.to_string()),
            expires_at: Some("2026-06-15T13:00:00.000Z".to_string()),
            ..event("2026-06-15T12:00:00.000Z", "cat", CREDENTIALS_READ)
        };
        let events = [handout("DPK2"), handout("DPK1"), handout("DPK1")];
        let actions: Vec<String> = collapse(&events)
            .iter()
            .map(|l| row(l)[2].clone())
            .collect();
        assert_eq!(
            actions,
            [
                "credentials.read key DPK2 until 2026-06-15T13:00:00.000Z",
                "credentials.read \u{d7}2 key DPK1 until 2026-06-15T13:00:00.000Z",
            ]
        );
    }
}
