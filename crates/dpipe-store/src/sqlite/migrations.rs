//! Schema migrations, applied in order and recorded in SQLite's `user_version`, so a data
//! folder written by an older dpipe is upgraded in place and one written by a newer dpipe is
//! refused rather than misread.

use rusqlite::Connection;

use crate::{StoreError, StoreResult};

/// Every migration, oldest first; the position + 1 is the schema version it produces.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_initial.sql"),
    include_str!("migrations/0002_audit.sql"),
    include_str!("migrations/0003_storage_keys.sql"),
    include_str!("migrations/0004_email_links.sql"),
    include_str!("migrations/0005_grant_lookup.sql"),
    include_str!("migrations/0006_sealing_key.sql"),
    include_str!("migrations/0007_throttles.sql"),
    include_str!("migrations/0008_pipe_owner.sql"),
];

/// Brings the database to the newest schema, each step in its own transaction.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: usize = conn
        .query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
        .map_err(super::backend)? as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {current}, newer than this dpipe knows ({}); upgrade dpipe",
            MIGRATIONS.len()
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction().map_err(super::backend)?;
        tx.execute_batch(sql).map_err(super::backend)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)
            .map_err(super::backend)?;
        tx.commit().map_err(super::backend)?;
    }
    Ok(())
}
