//! Rewriting every stored credentials value in one transaction (key rotation). Both tables are
//! locked against writes first (reads go on), as SQLite's single writer would: a remote or
//! pipe another server creates or updates meanwhile waits for the rewrite, so none is missed
//! or overwritten. Pipes are locked before remotes, the order in which other transactions
//! (creating a pipe, deleting a user) take them, so the lock does not deadlock with them.

use super::errors::backend;
use super::{Connection, column};
use crate::{CredentialsRewrite, StoreError, StoreResult};

/// The tables holding credentials, with the record kind the registry knows them by.
const HOLDERS: [(&str, &str); 2] = [("remotes", "remote"), ("pipes", "pipe")];

pub(super) fn rewrite(
    conn: &mut Connection,
    rewrite: &mut CredentialsRewrite<'_>,
) -> StoreResult<usize> {
    let mut tx = conn.client.transaction().map_err(backend)?;
    tx.batch_execute("LOCK TABLE pipes, remotes IN EXCLUSIVE MODE")
        .map_err(backend)?;
    let mut count = 0;
    for (table, kind) in HOLDERS {
        let rows = tx
            .query(
                &format!(
                    "SELECT id, name, credentials FROM {table} WHERE credentials IS NOT NULL ORDER BY id"
                ),
                &[],
            )
            .map_err(backend)?;
        for row in rows {
            let (id, name, stored): (i64, &str, &str) =
                (column(&row, 0)?, column(&row, 1)?, column(&row, 2)?);
            let Some(new) = rewrite(kind, name, stored).map_err(StoreError::Backend)? else {
                continue;
            };
            tx.execute(
                &format!("UPDATE {table} SET credentials = $2 WHERE id = $1"),
                &[&id, &new],
            )
            .map_err(backend)?;
            count += 1;
        }
    }
    tx.commit().map_err(backend)?;
    Ok(count)
}
