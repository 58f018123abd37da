//! SQL for the `grants` table, keyed by (pipe, grantee).

use chrono::NaiveDate;
use rusqlite::{Connection, Row, params};

use super::{backend, now};
use crate::records::{GrantRecord, Grantee, NewGrant};
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "id, pipe_id, grantee, user_id, email, role, expiration_date";

/// The grants that can give caller `?1` a role: public ones and the caller's own.
const REACHING: &str = "grantee = 'public' OR user_id = ?1";

fn from_row(row: &Row<'_>) -> rusqlite::Result<GrantRecord> {
    let key: String = row.get(2)?;
    let user_id: Option<i64> = row.get(3)?;
    let email: Option<String> = row.get(4)?;
    let grantee = match (key.as_str(), user_id, email) {
        ("public", _, _) => Grantee::Public,
        (_, Some(id), _) => Grantee::User(id),
        (_, None, Some(email)) => Grantee::Email(email),
        _ => {
            return Err(rusqlite::Error::InvalidColumnType(
                2,
                "grantee".into(),
                rusqlite::types::Type::Text,
            ));
        }
    };
    let expiration: Option<String> = row.get(6)?;
    let expiration_date = expiration
        .map(|text| NaiveDate::parse_from_str(&text, "%Y-%m-%d"))
        .transpose()
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?;
    Ok(GrantRecord {
        id: row.get(0)?,
        pipe_id: row.get(1)?,
        grantee,
        role: row.get(5)?,
        expiration_date,
    })
}

pub(super) fn upsert(conn: &Connection, grant: &NewGrant) -> StoreResult<GrantRecord> {
    let (user_id, email) = match &grant.grantee {
        Grantee::User(id) => (Some(*id), None),
        Grantee::Email(email) => (None, Some(email.as_str())),
        Grantee::Public => (None, None),
    };
    let expiration = grant
        .expiration_date
        .map(|d| d.format("%Y-%m-%d").to_string());
    conn.query_row(
        &format!(
            "INSERT INTO grants (pipe_id, grantee, user_id, email, role, expiration_date, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (pipe_id, grantee) DO UPDATE SET role = excluded.role, expiration_date = excluded.expiration_date
             RETURNING {COLUMNS}"
        ),
        params![grant.pipe_id, grant.grantee.key(), user_id, email, grant.role, expiration, now()],
        from_row,
    )
    .map_err(|e| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Backend("grant refers to a pipe or user that no longer exists".into())
        }
        other => backend(other),
    })
}

pub(super) fn delete(conn: &Connection, pipe_id: i64, grantee: &Grantee) -> StoreResult<bool> {
    let n = conn
        .execute(
            "DELETE FROM grants WHERE pipe_id = ?1 AND grantee = ?2",
            params![pipe_id, grantee.key()],
        )
        .map_err(backend)?;
    Ok(n > 0)
}

pub(super) fn on_pipe(conn: &Connection, pipe_id: i64) -> StoreResult<Vec<GrantRecord>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM grants WHERE pipe_id = ?1 ORDER BY id"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map([pipe_id], from_row).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(super) fn reaching(conn: &Connection, user_id: Option<i64>) -> StoreResult<Vec<GrantRecord>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM grants WHERE {REACHING} ORDER BY id"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map([user_id], from_row).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(super) fn invitations_to(conn: &Connection, email: &str) -> StoreResult<Vec<GrantRecord>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM grants WHERE grantee = 'email:' || ?1 ORDER BY id"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map([email], from_row).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(super) fn claim(
    conn: &Connection,
    user_id: i64,
    email: &str,
    pipe_id: Option<i64>,
) -> StoreResult<Vec<i64>> {
    // OR REPLACE: should the user already hold a grant on the pipe, the invitation replaces it
    // (the registry removes an invitation whenever it grants to its user, so this is a guard).
    let mut stmt = conn
        .prepare(
            "UPDATE OR REPLACE grants SET grantee = 'user:' || ?1, user_id = ?1
             WHERE grantee = 'email:' || ?2 AND (?3 IS NULL OR pipe_id = ?3)
             RETURNING pipe_id",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![user_id, email, pipe_id], |row| row.get(0))
        .map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

#[cfg(test)]
mod tests {
    use crate::SqliteStore;

    /// Every request about a pipe looks up the grants reaching its caller: that lookup must
    /// use indexes, not read the whole table (issue 12: 50,000 grants made it the bottleneck).
    #[test]
    fn grants_reaching_a_caller_are_found_by_index() {
        let store = SqliteStore::in_memory().unwrap();
        let conn = store.conn();
        let plan: Vec<String> = conn
            .prepare(&format!(
                "EXPLAIN QUERY PLAN SELECT {} FROM grants WHERE {} ORDER BY id",
                super::COLUMNS,
                super::REACHING
            ))
            .unwrap()
            .query_map([1], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN grants")),
            "{plan:?}"
        );
        assert!(
            plan.iter().any(|step| step.contains("grants_grantee")),
            "{plan:?}"
        );
    }
}
