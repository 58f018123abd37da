//! Rewriting every stored credentials value in one transaction (key rotation).

use rusqlite::{Connection, params};

use super::backend;
use crate::{CredentialsRewrite, StoreError, StoreResult};

/// The tables holding credentials, with the record kind the registry knows them by.
const HOLDERS: [(&str, &str); 2] = [("remotes", "remote"), ("pipes", "pipe")];

pub(super) fn rewrite(
    conn: &mut Connection,
    rewrite: &mut CredentialsRewrite<'_>,
) -> StoreResult<usize> {
    let tx = conn.transaction().map_err(backend)?;
    let mut count = 0;
    for (table, kind) in HOLDERS {
        let rows: Vec<(i64, String, String)> = {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT id, name, credentials FROM {table} WHERE credentials IS NOT NULL"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)?
        };
        for (id, name, stored) in rows {
            let Some(new) = rewrite(kind, &name, &stored).map_err(StoreError::Backend)? else {
                continue;
            };
            tx.execute(
                &format!("UPDATE {table} SET credentials = ?2 WHERE id = ?1"),
                params![id, new],
            )
            .map_err(backend)?;
            count += 1;
        }
    }
    tx.commit().map_err(backend)?;
    Ok(count)
}
