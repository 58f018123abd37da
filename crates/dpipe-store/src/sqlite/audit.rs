//! SQL for the `audit_events` table: appending events and reading a set of pipes' trails.

use rusqlite::{Connection, Row, params};

use super::backend;
use crate::StoreResult;
use crate::records::{AuditRecord, NewAuditEvent, PIPE_CREATE_ACTION};

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
             ORDER BY e.id DESC
             LIMIT ?3"
        ))
        .map_err(backend)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map(params![names, PIPE_CREATE_ACTION, limit], from_row)
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

#[cfg(test)]
mod tests {
    use crate::{NewAuditEvent, SqliteStore, Store};

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
                .audit_events_for_pipes(&pipes, limit)
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
}
