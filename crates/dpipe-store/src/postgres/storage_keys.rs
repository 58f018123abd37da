//! SQL for the `storage_keys` table: keys minted for the built-in object store.

use postgres::Row;

use super::errors::backend;
use super::{Connection, column};
use crate::StoreResult;
use crate::records::{NewStorageKey, StorageKeyRecord};

const COLUMNS: &str = "id, key_id, user_id, pipe_id, access, expires_at";

fn from_row(row: &Row) -> StoreResult<StorageKeyRecord> {
    Ok(StorageKeyRecord {
        id: column(row, 0)?,
        key_id: column(row, 1)?,
        user_id: column(row, 2)?,
        pipe_id: column(row, 3)?,
        access: column(row, 4)?,
        expires_at: column(row, 5)?,
    })
}

/// Records a minted key, and forgets the keys that expired before `forget_before` (they can
/// never work again), in one transaction.
pub(super) fn insert(
    conn: &mut Connection,
    key: &NewStorageKey,
    forget_before: &str,
) -> StoreResult<StorageKeyRecord> {
    let mut tx = conn.client.transaction().map_err(backend)?;
    tx.execute(
        "DELETE FROM storage_keys WHERE expires_at < $1",
        &[&forget_before],
    )
    .map_err(backend)?;
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO storage_keys (key_id, user_id, pipe_id, access, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 RETURNING {COLUMNS}"
            ),
            &[
                &key.key_id,
                &key.user_id,
                &key.pipe_id,
                &key.access,
                &key.created_at,
                &key.expires_at,
            ],
        )
        .map_err(backend)?;
    let record = from_row(&row)?;
    tx.commit().map_err(backend)?;
    Ok(record)
}

/// The key with access key id `key_id`.
pub(super) fn find(conn: &mut Connection, key_id: &str) -> StoreResult<Option<StorageKeyRecord>> {
    let rows = conn
        .query_cached(
            &format!("SELECT {COLUMNS} FROM storage_keys WHERE key_id = $1"),
            &[&key_id],
        )
        .map_err(backend)?;
    rows.first().map(from_row).transpose()
}

/// The key of (pipe, user, access) that lives longest.
pub(super) fn newest(
    conn: &mut Connection,
    pipe_id: i64,
    user_id: Option<i64>,
    access: &str,
) -> StoreResult<Option<StorageKeyRecord>> {
    let rows = conn
        .query_cached(
            &format!(
                "SELECT {COLUMNS} FROM storage_keys
                 WHERE pipe_id = $1 AND user_id IS NOT DISTINCT FROM $2 AND access = $3
                 ORDER BY expires_at DESC, id DESC LIMIT 1"
            ),
            &[&pipe_id, &user_id, &access],
        )
        .map_err(backend)?;
    rows.first().map(from_row).transpose()
}
