//! SQL for the `users` table, including the cascade of unregistering.

use postgres::Row;
use postgres::types::ToSql;

use super::errors::{backend, is_foreign_key_violation, unique_or_backend};
use super::{Connection, column};
use crate::records::{NewUser, UserRecord};
use crate::sqlite::now;
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "id, username, email, password_hash, token_hash, token_seed";

/// The unique constraints of `users` and the request fields they are about.
const UNIQUE: &[(&str, &str)] = &[
    ("users_username_unique", "username"),
    ("users_email_unique", "email"),
    ("users_token_hash_unique", "token"),
];

fn from_row(row: &Row) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: column(row, 0)?,
        username: column(row, 1)?,
        email: column(row, 2)?,
        password_hash: column(row, 3)?,
        token_hash: column(row, 4)?,
        token_seed: column(row, 5)?,
    })
}

pub(super) fn insert(conn: &mut Connection, user: &NewUser) -> StoreResult<UserRecord> {
    let row = conn
        .client
        .query_one(
            &format!(
                "INSERT INTO users (username, email, password_hash, token_hash, token_seed, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
            ),
            &[&user.username, &user.email, &user.password_hash, &user.token_hash, &user.token_seed, &now()],
        )
        .map_err(|e| unique_or_backend(e, UNIQUE))?;
    from_row(&row)
}

/// The user whose `column` equals `value` (`column` is one of this module's callers'
/// constants, never input).
pub(super) fn find(
    conn: &mut Connection,
    column: &str,
    value: &(dyn ToSql + Sync),
) -> StoreResult<Option<UserRecord>> {
    let rows = conn
        .query_cached(
            &format!("SELECT {COLUMNS} FROM users WHERE {column} = $1"),
            &[value],
        )
        .map_err(backend)?;
    rows.first().map(from_row).transpose()
}

pub(super) fn set_token(
    conn: &mut Connection,
    id: i64,
    token_hash: &str,
    token_seed: &str,
) -> StoreResult<()> {
    conn.client
        .execute(
            "UPDATE users SET token_hash = $2, token_seed = $3 WHERE id = $1",
            &[&id, &token_hash, &token_seed],
        )
        .map_err(|e| unique_or_backend(e, UNIQUE))?;
    Ok(())
}

pub(super) fn delete(conn: &mut Connection, id: i64) -> StoreResult<()> {
    let in_use = |e: postgres::Error| {
        if is_foreign_key_violation(&e) {
            StoreError::InUse(vec!["pipes of other users".into()])
        } else {
            backend(e)
        }
    };
    let mut tx = conn.client.transaction().map_err(backend)?;
    // Pipes go first (their children and grants cascade), so no pipe still references one
    // of the user's remotes when those go.
    tx.execute("DELETE FROM pipes WHERE owner_id = $1", &[&id])
        .map_err(backend)?;
    tx.execute("DELETE FROM remotes WHERE owner_id = $1", &[&id])
        .map_err(in_use)?;
    tx.execute("DELETE FROM users WHERE id = $1", &[&id])
        .map_err(in_use)?;
    tx.commit().map_err(backend)
}
