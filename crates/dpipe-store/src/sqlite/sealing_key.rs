//! The one-row record of which credentials key seals stored values now (see
//! [`Store::sealing_key`](crate::Store::sealing_key)).

use rusqlite::{Connection, OptionalExtension, params};

use super::backend;
use crate::StoreResult;

pub(super) fn get(conn: &Connection) -> StoreResult<Option<String>> {
    conn.query_row(
        "SELECT key_id FROM sealing_key WHERE singleton = 1",
        [],
        |row| row.get(0),
    )
    .optional()
    .map_err(backend)
}

pub(super) fn set(conn: &Connection, key_id: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO sealing_key (singleton, key_id) VALUES (1, ?1) \
         ON CONFLICT (singleton) DO UPDATE SET key_id = excluded.key_id",
        params![key_id],
    )
    .map_err(backend)?;
    Ok(())
}

pub(super) fn claim_server_key_check(conn: &Connection, check: &str) -> StoreResult<String> {
    conn.execute(
        "INSERT INTO server_key_check (singleton, check_value) VALUES (1, ?1) \
         ON CONFLICT (singleton) DO NOTHING",
        params![check],
    )
    .map_err(backend)?;
    conn.query_row(
        "SELECT check_value FROM server_key_check WHERE singleton = 1",
        [],
        |row| row.get(0),
    )
    .map_err(backend)
}
