//! SQL for the `throttles` table: keyed states that expire, each update one `BEGIN IMMEDIATE`
//! transaction, so it holds SQLite's write lock from its first read and serializes against
//! every other update, from this process or any other on the same file.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::backend;
use crate::StoreResult;
use crate::throttles::{
    SWEEP_LIMIT, ThrottleState, ThrottleUpdate, changes, check_keys, parse_timestamp, timestamp,
};

/// Sweeps expired states, reads those of `keys`, and stores what `update` makes of them.
pub(super) fn update(
    conn: &mut Connection,
    keys: &[String],
    now: DateTime<Utc>,
    update: &mut ThrottleUpdate<'_>,
) -> StoreResult<()> {
    check_keys(keys)?;
    let now = timestamp(now);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    tx.execute(
        "DELETE FROM throttles WHERE key IN
             (SELECT key FROM throttles WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
        params![now, SWEEP_LIMIT],
    )
    .map_err(backend)?;
    let current = keys
        .iter()
        .map(|key| read(&tx, key, &now))
        .collect::<StoreResult<Vec<_>>>()?;
    for (key, next) in changes(keys, &current, update(&current))? {
        match next {
            Some(next) => tx.execute(
                "INSERT INTO throttles (key, state, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE
                 SET state = excluded.state, expires_at = excluded.expires_at",
                params![key, next.state, timestamp(next.expires_at)],
            ),
            None => tx.execute("DELETE FROM throttles WHERE key = ?1", params![key]),
        }
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

/// The state of `key` unless it expired by `now`.
fn read(conn: &Connection, key: &str, now: &str) -> StoreResult<Option<ThrottleState>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT state, expires_at FROM throttles WHERE key = ?1 AND expires_at > ?2",
            params![key, now],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(backend)?;
    row.map(|(state, expires_at)| {
        Ok(ThrottleState {
            state,
            expires_at: parse_timestamp(&expires_at)?,
        })
    })
    .transpose()
}
