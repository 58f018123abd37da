//! SQL for the `audit_events` table: appending events and reading a set of pipes' trails,
//! filtered by time, actor and action in the query so that the limit counts matching events.

use rusqlite::{Connection, Row, params};

use super::backend;
use crate::StoreResult;
use crate::records::{AuditFilter, AuditRecord, NewAuditEvent, PIPE_CREATE_ACTION};

const COLUMNS: &str =
    "id, at, who, action, pipe, remote, grantee, role, source, outcome, reason, key_id, expires_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get(0)?,
        event: NewAuditEvent {
            at: row.get(1)?,
            who: row.get(2)?,
            action: row.get(3)?,
            pipe: row.get(4)?,
            remote: row.get(5)?,
            grantee: row.get(6)?,
            role: row.get(7)?,
            source: row.get(8)?,
            outcome: row.get(9)?,
            reason: row.get(10)?,
            key_id: row.get(11)?,
            expires_at: row.get(12)?,
        },
    })
}

pub(super) fn insert(conn: &Connection, event: &NewAuditEvent) -> StoreResult<AuditRecord> {
    conn.query_row(
        &format!(
            "INSERT INTO audit_events
                 (at, who, action, pipe, remote, grantee, role, source, outcome, reason, key_id, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             RETURNING {COLUMNS}"
        ),
        params![
            event.at,
            event.who,
            event.action,
            event.pipe,
            event.remote,
            event.grantee,
            event.role,
            event.source,
            event.outcome,
            event.reason,
            event.key_id,
            event.expires_at
        ],
        from_row,
    )
    .map_err(backend)
}

pub(super) fn for_pipes(
    conn: &Connection,
    pipes: &[String],
    filter: &AuditFilter<'_>,
    limit: usize,
) -> StoreResult<Vec<AuditRecord>> {
    let names =
        serde_json::to_string(pipes).map_err(|e| crate::StoreError::Backend(e.to_string()))?;
    // Each pipe's trail starts at its latest allowed creation (0: created before auditing).
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM audit_events AS e
             WHERE e.pipe IN (SELECT value FROM json_each(?1))
               AND e.id >= COALESCE((SELECT MAX(c.id) FROM audit_events AS c
                                     WHERE c.pipe = e.pipe AND c.action = ?2 AND c.outcome = 'allowed'), 0)
               AND (?4 IS NULL OR e.at >= ?4)
               AND (?5 IS NULL OR e.who = ?5)
               AND (?6 IS NULL OR e.action = ?6)
             ORDER BY e.id DESC
             LIMIT ?3"
        ))
        .map_err(backend)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(
            params![
                names,
                PIPE_CREATE_ACTION,
                limit,
                filter.since,
                filter.who,
                filter.action
            ],
            from_row,
        )
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

#[cfg(test)]
mod tests {
    use crate::{AuditFilter, NewAuditEvent, SqliteStore, Store};

    fn event(action: &str, pipe: &str, outcome: &str) -> NewAuditEvent {
        NewAuditEvent {
            at: "2026-06-15T00:00:00.000Z".into(),
            who: "ann".into(),
            action: action.into(),
            pipe: Some(pipe.into()),
            remote: None,
            grantee: None,
            role: None,
            source: None,
            outcome: outcome.into(),
            reason: (outcome == "refused").then(|| "forbidden".into()),
            key_id: None,
            expires_at: None,
        }
    }

    #[test]
    fn trails_start_at_the_latest_creation_newest_first() {
        let store = SqliteStore::in_memory().unwrap();
        for e in [
            event("credentials.read", "p", "refused"),
            event("pipe.create", "p", "allowed"),
            event("credentials.read", "p", "allowed"),
            event("pipe.delete", "p", "allowed"),
            event("pipe.create", "p", "refused"),
            event("pipe.create", "p", "allowed"),
            event("grant.set", "p", "allowed"),
            event("credentials.read", "other", "allowed"),
            event("credentials.write", "kid", "allowed"),
        ] {
            store.insert_audit(&e).unwrap();
        }
        let names = |pipes: &[&str], limit| -> Vec<(String, String)> {
            let pipes: Vec<String> = pipes.iter().map(|p| p.to_string()).collect();
            store
                .audit_events_for_pipes(&pipes, &AuditFilter::default(), limit)
                .unwrap()
                .into_iter()
                .map(|r| (r.event.action, r.event.pipe.unwrap()))
                .collect()
        };
        let pair = |a: &str, p: &str| (a.to_string(), p.to_string());
        assert_eq!(
            names(&["p", "kid"], 10),
            [
                pair("credentials.write", "kid"),
                pair("grant.set", "p"),
                pair("pipe.create", "p")
            ]
        );
        assert_eq!(names(&["p"], 1), [pair("grant.set", "p")]);
        assert!(names(&[], 10).is_empty());
    }

    #[test]
    fn filters_apply_before_the_limit() {
        let store = SqliteStore::in_memory().unwrap();
        let at = |at: &str, who: &str, action: &str| NewAuditEvent {
            at: at.into(),
            who: who.into(),
            ..event(action, "p", "allowed")
        };
        for e in [
            at("2026-06-01T00:00:00.000Z", "ann", "pipe.create"),
            at("2026-06-10T00:00:00.000Z", "bob", "credentials.read"),
            at("2026-06-14T23:59:59.999Z", "ann", "credentials.read"),
            at("2026-06-15T00:00:00.000Z", "bob", "grant.set"),
            at("2026-06-16T08:00:00.000Z", "ann", "credentials.read"),
            at("2026-06-16T09:00:00.000Z", "ann", "pipe.update"),
        ] {
            store.insert_audit(&e).unwrap();
        }
        let pipes = ["p".to_string()];
        let times = |filter: AuditFilter<'_>, limit| -> Vec<String> {
            store
                .audit_events_for_pipes(&pipes, &filter, limit)
                .unwrap()
                .into_iter()
                .map(|r| r.event.at)
                .collect()
        };
        let since = AuditFilter {
            since: Some("2026-06-15T00:00:00.000Z"),
            ..AuditFilter::default()
        };
        assert_eq!(
            times(since, 10),
            [
                "2026-06-16T09:00:00.000Z",
                "2026-06-16T08:00:00.000Z",
                "2026-06-15T00:00:00.000Z"
            ]
        );
        let reads_of_ann = AuditFilter {
            who: Some("ann"),
            action: Some("credentials.read"),
            ..AuditFilter::default()
        };
        assert_eq!(
            times(reads_of_ann, 10),
            ["2026-06-16T08:00:00.000Z", "2026-06-14T23:59:59.999Z"]
        );
        // The limit counts matching events only.
        let bob = AuditFilter {
            who: Some("bob"),
            ..AuditFilter::default()
        };
        assert_eq!(
            times(bob, 2),
            ["2026-06-15T00:00:00.000Z", "2026-06-10T00:00:00.000Z"]
        );
        let nobody = AuditFilter {
            who: Some("carol"),
            ..AuditFilter::default()
        };
        assert!(times(nobody, 10).is_empty());
    }
}
