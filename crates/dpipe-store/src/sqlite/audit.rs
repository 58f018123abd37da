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
