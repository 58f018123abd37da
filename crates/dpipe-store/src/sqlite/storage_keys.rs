//! SQL for the `storage_keys` table: keys minted for the built-in object store.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::backend;
use crate::StoreResult;
use crate::records::{NewStorageKey, StorageKeyRecord};

const COLUMNS: &str = "id, key_id, user_id, pipe_id, access, expires_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<StorageKeyRecord> {
    Ok(StorageKeyRecord {
        id: row.get(0)?,
        key_id: row.get(1)?,
        user_id: row.get(2)?,
        pipe_id: row.get(3)?,
        access: row.get(4)?,
        expires_at: row.get(5)?,
    })
}

/// Records a minted key, and forgets the keys that expired before `forget_before` (they can
/// never work again), in one transaction.
pub(super) fn insert(
    conn: &mut Connection,
    key: &NewStorageKey,
    forget_before: &str,
) -> StoreResult<StorageKeyRecord> {
    let tx = conn.transaction().map_err(backend)?;
    tx.execute(
        "DELETE FROM storage_keys WHERE expires_at < ?1",
        params![forget_before],
    )
    .map_err(backend)?;
    let record = tx
        .query_row(
            &format!(
                "INSERT INTO storage_keys (key_id, user_id, pipe_id, access, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 RETURNING {COLUMNS}"
            ),
            params![
                key.key_id,
                key.user_id,
                key.pipe_id,
                key.access,
                key.created_at,
                key.expires_at
            ],
            from_row,
        )
        .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(record)
}

/// The key with access key id `key_id`.
pub(super) fn find(conn: &Connection, key_id: &str) -> StoreResult<Option<StorageKeyRecord>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM storage_keys WHERE key_id = ?1"),
        params![key_id],
        from_row,
    )
    .optional()
    .map_err(backend)
}

/// The key of (pipe, user, access) that lives longest.
pub(super) fn newest(
    conn: &Connection,
    pipe_id: i64,
    user_id: Option<i64>,
    access: &str,
) -> StoreResult<Option<StorageKeyRecord>> {
    conn.query_row(
        &format!(
            "SELECT {COLUMNS} FROM storage_keys
             WHERE pipe_id = ?1 AND user_id IS ?2 AND access = ?3
             ORDER BY expires_at DESC, id DESC LIMIT 1"
        ),
        params![pipe_id, user_id, access],
        from_row,
    )
    .optional()
    .map_err(backend)
}
