//! The one-row record of which credentials key seals stored values now (see
//! [`Store::sealing_key`](crate::Store::sealing_key)).

use super::errors::backend;
use super::{Connection, column};
use crate::StoreResult;

pub(super) fn get(conn: &mut Connection) -> StoreResult<Option<String>> {
    let rows = conn
        .query_cached("SELECT key_id FROM sealing_key WHERE singleton = 1", &[])
        .map_err(backend)?;
    rows.first().map(|row| column(row, 0)).transpose()
}

pub(super) fn set(conn: &mut Connection, key_id: &str) -> StoreResult<()> {
    conn.client
        .execute(
            "INSERT INTO sealing_key (singleton, key_id) VALUES (1, $1) \
             ON CONFLICT (singleton) DO UPDATE SET key_id = EXCLUDED.key_id",
            &[&key_id],
        )
        .map_err(backend)?;
    Ok(())
}

pub(super) fn claim_server_key_check(conn: &mut Connection, check: &str) -> StoreResult<String> {
    conn.client
        .execute(
            "INSERT INTO server_key_check (singleton, check_value) VALUES (1, $1) \
             ON CONFLICT (singleton) DO NOTHING",
            &[&check],
        )
        .map_err(backend)?;
    let row = conn
        .client
        .query_one(
            "SELECT check_value FROM server_key_check WHERE singleton = 1",
            &[],
        )
        .map_err(backend)?;
    column(&row, 0)
}
