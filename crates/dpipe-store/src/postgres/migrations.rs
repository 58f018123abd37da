//! Schema migrations for PostgreSQL, applied in order and recorded in `dpipe_schema_version`
//! (one row per applied step), all in one transaction under an advisory lock, so that several
//! server instances starting together on one database migrate it once, and a database written
//! by a newer dpipe is refused rather than misread.

use postgres::Client;

use super::errors::backend;
use crate::{StoreError, StoreResult};

/// Every migration, oldest first; the position + 1 is the schema version it produces.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_sealing_key.sql"),
    include_str!("migrations/0003_throttles.sql"),
];

/// The first key of the advisory lock migrations hold (the second is the schema's hash, so
/// schemas of one database migrate independently). Spells "dpip".
const MIGRATION_LOCK: i32 = 0x6470_6970;

/// Brings the database (the first schema on the search path) to the newest schema.
pub(super) fn migrate(client: &mut Client) -> StoreResult<()> {
    let mut tx = client.transaction().map_err(backend)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
        &[&MIGRATION_LOCK],
    )
    .map_err(backend)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS dpipe_schema_version (
             version     INTEGER PRIMARY KEY,
             applied_at  TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
         )",
    )
    .map_err(backend)?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM dpipe_schema_version",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(backend)?;
    let current = usize::try_from(current).unwrap_or_default();
    if current > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {current}, newer than this dpipe knows ({}); upgrade dpipe",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.batch_execute(sql).map_err(backend)?;
        let version = i32::try_from(index + 1).expect("fewer than 2^31 migrations");
        tx.execute(
            "INSERT INTO dpipe_schema_version (version) VALUES ($1)",
            &[&version],
        )
        .map_err(backend)?;
    }
    tx.commit().map_err(backend)
}
