//! SQL for the `remotes` table.

use postgres::Row;
use postgres::types::ToSql;

use super::errors::{backend, unique_or_backend};
use super::{Connection, column, json_column, object_column, object_text};
use crate::records::{NewRemote, RemoteRecord};
use crate::sqlite::now;
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "id, name, owner_id, protocol, location, credentials, settings, schema";

fn from_row(row: &Row) -> StoreResult<RemoteRecord> {
    Ok(RemoteRecord {
        id: column(row, 0)?,
        name: column(row, 1)?,
        owner_id: column(row, 2)?,
        protocol: column(row, 3)?,
        location: column(row, 4)?,
        credentials: column(row, 5)?,
        settings: object_column(column(row, 6)?)?,
        schema: json_column(column(row, 7)?)?,
    })
}

pub(super) fn insert(conn: &mut Connection, remote: &NewRemote) -> StoreResult<RemoteRecord> {
    let row = conn
        .client
        .query_one(
            &format!(
                "INSERT INTO remotes (name, owner_id, protocol, location, credentials, settings, schema, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING {COLUMNS}"
            ),
            &[
                &remote.name,
                &remote.owner_id,
                &remote.protocol,
                &remote.location,
                &remote.credentials,
                &object_text(&remote.settings),
                &remote.schema.to_string(),
                &now(),
            ],
        )
        .map_err(|e| unique_or_backend(e, &[("remotes_name_unique", "name")]))?;
    from_row(&row)
}

pub(super) fn update(conn: &mut Connection, remote: &RemoteRecord) -> StoreResult<RemoteRecord> {
    let row = conn
        .client
        .query_opt(
            &format!(
                "UPDATE remotes SET protocol = $2, location = $3, credentials = $4, settings = $5, schema = $6, updated_at = $7
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[
                &remote.id,
                &remote.protocol,
                &remote.location,
                &remote.credentials,
                &object_text(&remote.settings),
                &remote.schema.to_string(),
                &now(),
            ],
        )
        .map_err(backend)?
        .ok_or_else(|| StoreError::Backend("updated remote vanished".into()))?;
    from_row(&row)
}

/// The remote whose `column` equals `value` (`column` is a constant of the caller).
pub(super) fn find(
    conn: &mut Connection,
    column: &str,
    value: &(dyn ToSql + Sync),
) -> StoreResult<Option<RemoteRecord>> {
    let rows = conn
        .query_cached(
            &format!("SELECT {COLUMNS} FROM remotes WHERE {column} = $1"),
            &[value],
        )
        .map_err(backend)?;
    rows.first().map(from_row).transpose()
}

pub(super) fn of_owner(conn: &mut Connection, owner_id: i64) -> StoreResult<Vec<RemoteRecord>> {
    conn.query_cached(
        &format!("SELECT {COLUMNS} FROM remotes WHERE owner_id = $1 ORDER BY name"),
        &[&owner_id],
    )
    .map_err(backend)?
    .iter()
    .map(from_row)
    .collect()
}

/// Deletes a remote unless pipes use it. The remote's row is locked first, so no pipe can
/// start using it between the check and the delete (a new pipe's foreign key waits for it).
pub(super) fn delete(conn: &mut Connection, id: i64) -> StoreResult<()> {
    let mut tx = conn.client.transaction().map_err(backend)?;
    tx.execute("SELECT 1 FROM remotes WHERE id = $1 FOR UPDATE", &[&id])
        .map_err(backend)?;
    let users: Vec<String> = tx
        .query(
            "SELECT name FROM pipes WHERE remote_id = $1 ORDER BY name",
            &[&id],
        )
        .map_err(backend)?
        .iter()
        .map(|row| column(row, 0))
        .collect::<StoreResult<_>>()?;
    if !users.is_empty() {
        return Err(StoreError::InUse(users));
    }
    tx.execute("DELETE FROM remotes WHERE id = $1", &[&id])
        .map_err(backend)?;
    tx.commit().map_err(backend)
}
