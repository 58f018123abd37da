//! `dpipe audit --pipe X`: the pipe's audit trail, newest first — who fetched its credentials
//! (for a managed pipe, the key id handed out and its expiry), who changed its grants or
//! settings, and whether they were allowed. Its owner only.

use super::AboutPipe as _;
use dpipe_core::wire::AuditView;

use crate::cli::AuditArgs;
use crate::output::table;
use crate::settings::Context;

/// Runs `dpipe audit`.
pub fn run(ctx: &Context, args: AuditArgs) -> anyhow::Result<()> {
    let pipe = &args.pipe;
    let events = ctx.api()?.audit(pipe).about_pipe(pipe)?;
    if events.is_empty() {
        ctx.out
            .note(&format!("No audit events for pipe {pipe} yet."));
    }
    ctx.out.show(&events, |events| {
        let rows: Vec<Vec<String>> = events.iter().map(row).collect();
        table(&["WHEN", "WHO", "ACTION", "PIPE", "OUTCOME"], &rows)
    })
}

/// One table row: the action names its grantee and role, a refusal its reason.
fn row(event: &AuditView) -> Vec<String> {
    let mut action = event.action.clone();
    if let Some(grantee) = &event.grantee {
        action.push_str(&format!(" {grantee}"));
    }
    if let Some(role) = &event.role {
        action.push_str(&format!(" ({role})"));
    }
    // A managed pipe's handout: which key, and until when.
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
