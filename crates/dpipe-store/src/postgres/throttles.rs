//! SQL for the `throttles` table: keyed states that expire. An update holds a transaction-level
//! advisory lock per key (taken in one order, so two updates never wait on each other in a
//! circle) from before its read until its commit, which serializes it against every other
//! update of the same keys on any connection of any server instance — even for a key that has
//! no row yet, which row locks could not cover.

use chrono::{DateTime, Utc};
use postgres::Client;

use super::column;
use super::errors::backend;
use crate::StoreResult;
use crate::throttles::{
    SWEEP_LIMIT, ThrottleState, ThrottleUpdate, changes, check_keys, parse_timestamp, timestamp,
};

/// The first key of the advisory locks of throttle updates (the second is the throttle key's
/// hash). Spells "dpth". The locks are per database, not per schema: two schemas' updates of
/// keys with one hash wait for each other, which costs a moment and breaks nothing.
const THROTTLE_LOCK: i32 = 0x6470_7468;

/// Locks `keys`, sweeps expired states, reads those of `keys`, and stores what `update` makes
/// of them.
pub(super) fn update(
    client: &mut Client,
    keys: &[String],
    now: DateTime<Utc>,
    update: &mut ThrottleUpdate<'_>,
) -> StoreResult<()> {
    check_keys(keys)?;
    let now = timestamp(now);
    let mut tx = client.transaction().map_err(backend)?;
    // A throttle state is not data anyone was promised: if the database itself crashes in the
    // next moments, losing the latest counts is better than every login waiting for a flush.
    tx.batch_execute("SET LOCAL synchronous_commit TO OFF")
        .map_err(backend)?;
    // The function scan yields the array's rows in order, so the locks are taken in it.
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, id) FROM unnest($2::int4[]) AS id",
        &[&THROTTLE_LOCK, &lock_ids(keys)],
    )
    .map_err(backend)?;
    // SKIP LOCKED: a state another update is rewriting is left to a later sweep.
    tx.execute(
        "DELETE FROM throttles WHERE key IN
             (SELECT key FROM throttles WHERE expires_at <= $1
              ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&now, &SWEEP_LIMIT],
    )
    .map_err(backend)?;
    let rows = tx
        .query(
            "SELECT key, state, expires_at FROM throttles WHERE key = ANY($1) AND expires_at > $2",
            &[&keys, &now],
        )
        .map_err(backend)?;
    let mut current = vec![None; keys.len()];
    for row in &rows {
        let key: &str = column(row, 0)?;
        let expires_at: &str = column(row, 2)?;
        if let Some(index) = keys.iter().position(|k| k == key) {
            current[index] = Some(ThrottleState {
                state: column(row, 1)?,
                expires_at: parse_timestamp(expires_at)?,
            });
        }
    }
    for (key, next) in changes(keys, &current, update(&current))? {
        match next {
            Some(next) => tx.execute(
                "INSERT INTO throttles (key, state, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE
                 SET state = excluded.state, expires_at = excluded.expires_at",
                &[&key, &next.state, &timestamp(next.expires_at)],
            ),
            None => tx.execute("DELETE FROM throttles WHERE key = $1", &[&key]),
        }
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}

/// The advisory lock ids of `keys`, sorted and without repeats: the 32-bit FNV-1a hash of each
/// key, fixed here (not Rust's `Hasher`) so that instances of different builds agree.
fn lock_ids(keys: &[String]) -> Vec<i32> {
    let mut ids: Vec<i32> = keys
        .iter()
        .map(|key| {
            let hash = key.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
                (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
            });
            i32::from_ne_bytes(hash.to_ne_bytes())
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}
