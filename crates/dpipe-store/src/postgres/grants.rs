//! SQL for the `grants` table, keyed by (pipe, grantee).

use chrono::NaiveDate;
use postgres::Row;

use super::errors::{backend, is_foreign_key_violation, is_unique_violation};
use super::{Connection, column};
use crate::records::{GrantRecord, Grantee, NewGrant};
use crate::sqlite::now;
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "id, pipe_id, grantee, user_id, email, role, expiration_date";

/// How often [`claim`] retries when a grant to the user appeared while it ran.
const CLAIM_ATTEMPTS: usize = 3;

fn from_row(row: &Row) -> StoreResult<GrantRecord> {
    let key: &str = column(row, 2)?;
    let user_id: Option<i64> = column(row, 3)?;
    let email: Option<String> = column(row, 4)?;
    let grantee = match (key, user_id, email) {
        ("public", _, _) => Grantee::Public,
        (_, Some(id), _) => Grantee::User(id),
        (_, None, Some(email)) => Grantee::Email(email),
        _ => {
            return Err(StoreError::Backend(format!(
                "grant with a corrupt grantee {key:?}"
            )));
        }
    };
    let expiration: Option<&str> = column(row, 6)?;
    let expiration_date = expiration
        .map(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d"))
        .transpose()
        .map_err(|e| StoreError::Backend(format!("grant with a corrupt expiration date: {e}")))?;
    Ok(GrantRecord {
        id: column(row, 0)?,
        pipe_id: column(row, 1)?,
        grantee,
        role: column(row, 5)?,
        expiration_date,
    })
}

fn from_rows(rows: Vec<Row>) -> StoreResult<Vec<GrantRecord>> {
    rows.iter().map(from_row).collect()
}

/// One statement, so that two servers granting on one (pipe, grantee) at once leave one row.
pub(super) fn upsert(conn: &mut Connection, grant: &NewGrant) -> StoreResult<GrantRecord> {
    let (user_id, email) = match &grant.grantee {
        Grantee::User(id) => (Some(*id), None),
        Grantee::Email(email) => (None, Some(email.as_str())),
        Grantee::Public => (None, None),
    };
    let expiration = grant
        .expiration_date
        .map(|d| d.format("%Y-%m-%d").to_string());
    let row = conn
        .query_cached(
            &format!(
                "INSERT INTO grants (pipe_id, grantee, user_id, email, role, expiration_date, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (pipe_id, grantee) DO UPDATE SET role = excluded.role, expiration_date = excluded.expiration_date
                 RETURNING {COLUMNS}"
            ),
            &[&grant.pipe_id, &grant.grantee.key(), &user_id, &email, &grant.role, &expiration, &now()],
        )
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                StoreError::Backend("grant refers to a pipe or user that no longer exists".into())
            } else {
                backend(e)
            }
        })?;
    row.first()
        .map(from_row)
        .unwrap_or_else(|| Err(StoreError::Backend("the upserted grant vanished".into())))
}

pub(super) fn delete(conn: &mut Connection, pipe_id: i64, grantee: &Grantee) -> StoreResult<bool> {
    let n = conn
        .client
        .execute(
            "DELETE FROM grants WHERE pipe_id = $1 AND grantee = $2",
            &[&pipe_id, &grantee.key()],
        )
        .map_err(backend)?;
    Ok(n > 0)
}

pub(super) fn on_pipe(conn: &mut Connection, pipe_id: i64) -> StoreResult<Vec<GrantRecord>> {
    from_rows(
        conn.query_cached(
            &format!("SELECT {COLUMNS} FROM grants WHERE pipe_id = $1 ORDER BY id"),
            &[&pipe_id],
        )
        .map_err(backend)?,
    )
}

/// The grants that can give the caller a role: public ones and the caller's own.
pub(super) fn reaching(
    conn: &mut Connection,
    user_id: Option<i64>,
) -> StoreResult<Vec<GrantRecord>> {
    from_rows(
        conn.query_cached(
            &format!(
                "SELECT {COLUMNS} FROM grants WHERE grantee = 'public' OR user_id = $1 ORDER BY id"
            ),
            &[&user_id],
        )
        .map_err(backend)?,
    )
}

pub(super) fn invitations_to(conn: &mut Connection, email: &str) -> StoreResult<Vec<GrantRecord>> {
    from_rows(
        conn.query_cached(
            &format!("SELECT {COLUMNS} FROM grants WHERE grantee = 'email:' || $1 ORDER BY id"),
            &[&email],
        )
        .map_err(backend)?,
    )
}

/// Turns the invitations into grants to the user. Should the user already hold a grant on an
/// invitation's pipe, the invitation replaces it (as SQLite's `UPDATE OR REPLACE` does). A
/// grant to the user created by another server between the two statements makes the update
/// violate (pipe, grantee) uniqueness; the transaction is then retried.
pub(super) fn claim(
    conn: &mut Connection,
    user_id: i64,
    email: &str,
    pipe_id: Option<i64>,
) -> StoreResult<Vec<i64>> {
    let grantee = Grantee::User(user_id).key();
    let invitation = Grantee::Email(email.to_owned()).key();
    let mut attempt = 1;
    loop {
        let mut tx = conn.client.transaction().map_err(backend)?;
        let claimed = tx
            .execute(
                "DELETE FROM grants WHERE grantee = $1 AND pipe_id IN
                     (SELECT pipe_id FROM grants WHERE grantee = $2 AND ($3::BIGINT IS NULL OR pipe_id = $3))",
                &[&grantee, &invitation, &pipe_id],
            )
            .and_then(|_| {
                tx.query(
                    "UPDATE grants SET grantee = $1, user_id = $4
                     WHERE grantee = $2 AND ($3::BIGINT IS NULL OR pipe_id = $3)
                     RETURNING pipe_id",
                    &[&grantee, &invitation, &pipe_id, &user_id],
                )
            });
        match claimed {
            Ok(rows) => {
                let pipes = rows
                    .iter()
                    .map(|row| column(row, 0))
                    .collect::<StoreResult<_>>()?;
                tx.commit().map_err(backend)?;
                return Ok(pipes);
            }
            Err(e) if is_unique_violation(&e) && attempt < CLAIM_ATTEMPTS => attempt += 1,
            Err(e) => return Err(backend(e)),
        }
    }
}
