//! SQL for the `audit_events` table: appending events and reading a set of pipes' trails,
//! filtered by time, actor and action in the query so that the limit counts matching events.

use postgres::Row;

use super::errors::backend;
use super::{Connection, column};
use crate::StoreResult;
use crate::records::{AuditFilter, AuditRecord, NewAuditEvent, PIPE_CREATE_ACTION};

const COLUMNS: &str =
    "id, at, who, action, pipe, remote, grantee, role, source, outcome, reason, key_id, expires_at";

fn from_row(row: &Row) -> StoreResult<AuditRecord> {
    Ok(AuditRecord {
        id: column(row, 0)?,
        event: NewAuditEvent {
            at: column(row, 1)?,
            who: column(row, 2)?,
            action: column(row, 3)?,
            pipe: column(row, 4)?,
            remote: column(row, 5)?,
            grantee: column(row, 6)?,
            role: column(row, 7)?,
            source: column(row, 8)?,
            outcome: column(row, 9)?,
            reason: column(row, 10)?,
            key_id: column(row, 11)?,
            expires_at: column(row, 12)?,
        },
    })
}

pub(super) fn insert(conn: &mut Connection, event: &NewAuditEvent) -> StoreResult<AuditRecord> {
    let rows = conn
        .query_cached(
            &format!(
                "INSERT INTO audit_events
                     (at, who, action, pipe, remote, grantee, role, source, outcome, reason, key_id, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 RETURNING {COLUMNS}"
            ),
            &[
                &event.at,
                &event.who,
                &event.action,
                &event.pipe,
                &event.remote,
                &event.grantee,
                &event.role,
                &event.source,
                &event.outcome,
                &event.reason,
                &event.key_id,
                &event.expires_at,
            ],
        )
        .map_err(backend)?;
    rows.iter().map(from_row).next().unwrap_or_else(|| {
        Err(crate::StoreError::Backend(
            "the inserted audit event vanished".into(),
        ))
    })
}

/// One statement (so one snapshot): the newest `limit` events about `pipes` passing `filter`,
/// each pipe's trail starting at its latest allowed creation.
pub(super) fn for_pipes(
    conn: &mut Connection,
    pipes: &[String],
    filter: &AuditFilter<'_>,
    limit: usize,
) -> StoreResult<Vec<AuditRecord>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    conn.query_cached(
        &format!(
            "SELECT {COLUMNS} FROM audit_events AS e
             WHERE e.pipe = ANY($1)
               AND e.id >= COALESCE((SELECT MAX(c.id) FROM audit_events AS c
                                     WHERE c.pipe = e.pipe AND c.action = $2 AND c.outcome = 'allowed'), 0)
               AND ($4::TEXT IS NULL OR e.at >= $4)
               AND ($5::TEXT IS NULL OR e.who = $5)
               AND ($6::TEXT IS NULL OR e.action = $6)
             ORDER BY e.id DESC
             LIMIT $3"
        ),
        &[
            &pipes,
            &PIPE_CREATE_ACTION,
            &limit,
            &filter.since,
            &filter.who,
            &filter.action,
        ],
    )
    .map_err(backend)?
    .iter()
    .map(from_row)
    .collect()
}
