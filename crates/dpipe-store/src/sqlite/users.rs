//! SQL for the `users` table, including the cascade of unregistering.

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use super::{backend, now, unique_or_backend};
use crate::StoreResult;
use crate::records::{NewUser, UserRecord};

const COLUMNS: &str = "id, username, email, password_hash, token_hash, token_seed";

fn from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(0)?,
        username: row.get(1)?,
        email: row.get(2)?,
        password_hash: row.get(3)?,
        token_hash: row.get(4)?,
        token_seed: row.get(5)?,
    })
}

pub(super) fn insert(conn: &mut Connection, user: &NewUser) -> StoreResult<UserRecord> {
    let tx = conn.transaction().map_err(backend)?;
    tx.execute(
        "INSERT INTO users (username, email, password_hash, token_hash, token_seed, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![user.username, user.email, user.password_hash, user.token_hash, user.token_seed, now()],
    )
    .map_err(|e| unique_or_backend(e, &[("users.username", "username"), ("users.email", "email"), ("users.token_hash", "token")]))?;
    let id = tx.last_insert_rowid();
    let record = tx
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
            [id],
            from_row,
        )
        .map_err(backend)?;
    tx.commit().map_err(backend)?;
    Ok(record)
}

pub(super) fn find(
    conn: &Connection,
    column: &str,
    value: &dyn ToSql,
) -> StoreResult<Option<UserRecord>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE {column} = ?1"))
        .and_then(|mut stmt| stmt.query_row([value], from_row).optional())
        .map_err(backend)
}

pub(super) fn set_token(
    conn: &Connection,
    id: i64,
    token_hash: &str,
    token_seed: &str,
) -> StoreResult<()> {
    conn.execute(
        "UPDATE users SET token_hash = ?2, token_seed = ?3 WHERE id = ?1",
        params![id, token_hash, token_seed],
    )
    .map_err(|e| unique_or_backend(e, &[("users.token_hash", "token")]))?;
    Ok(())
}

pub(super) fn delete(conn: &mut Connection, id: i64) -> StoreResult<()> {
    let tx = conn.transaction().map_err(backend)?;
    // Pipes go first (their children and grants cascade), so no pipe still references one
    // of the user's remotes when those go.
    tx.execute("DELETE FROM pipes WHERE owner_id = ?1", [id])
        .map_err(backend)?;
    tx.execute("DELETE FROM remotes WHERE owner_id = ?1", [id])
        .map_err(|e| match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                crate::StoreError::InUse(vec!["pipes of other users".into()])
            }
            _ => backend(e),
        })?;
    tx.execute("DELETE FROM users WHERE id = ?1", [id])
        .map_err(backend)?;
    tx.commit().map_err(backend)
}
