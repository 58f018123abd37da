//! SQL for the `remotes` table.

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use super::{backend, json_column, now, object_column, unique_or_backend};
use crate::records::{NewRemote, RemoteRecord};
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "id, name, owner_id, protocol, location, credentials, settings, schema";

fn from_row(row: &Row<'_>) -> rusqlite::Result<RemoteRecord> {
    Ok(RemoteRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        owner_id: row.get(2)?,
        protocol: row.get(3)?,
        location: row.get(4)?,
        credentials: row.get(5)?,
        settings: object_column(row.get(6)?)?,
        schema: json_column(row.get(7)?)?,
    })
}

pub(super) fn insert(conn: &Connection, remote: &NewRemote) -> StoreResult<RemoteRecord> {
    let stamp = now();
    conn.execute(
        "INSERT INTO remotes (name, owner_id, protocol, location, credentials, settings, schema, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            remote.name,
            remote.owner_id,
            remote.protocol,
            remote.location,
            remote.credentials,
            serde_json::Value::Object(remote.settings.clone()).to_string(),
            remote.schema.to_string(),
            stamp
        ],
    )
    .map_err(|e| unique_or_backend(e, &[("remotes.name", "name")]))?;
    let id = conn.last_insert_rowid();
    find(conn, "id", &id)?.ok_or_else(|| StoreError::Backend("inserted remote vanished".into()))
}

pub(super) fn update(conn: &Connection, remote: &RemoteRecord) -> StoreResult<RemoteRecord> {
    conn.execute(
        "UPDATE remotes SET protocol = ?2, location = ?3, credentials = ?4, settings = ?5, schema = ?6, updated_at = ?7
         WHERE id = ?1",
        params![
            remote.id,
            remote.protocol,
            remote.location,
            remote.credentials,
            serde_json::Value::Object(remote.settings.clone()).to_string(),
            remote.schema.to_string(),
            now()
        ],
    )
    .map_err(backend)?;
    find(conn, "id", &remote.id)?
        .ok_or_else(|| StoreError::Backend("updated remote vanished".into()))
}

pub(super) fn find(
    conn: &Connection,
    column: &str,
    value: &dyn ToSql,
) -> StoreResult<Option<RemoteRecord>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM remotes WHERE {column} = ?1"),
        [value],
        from_row,
    )
    .optional()
    .map_err(backend)
}

pub(super) fn of_owner(conn: &Connection, owner_id: i64) -> StoreResult<Vec<RemoteRecord>> {
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM remotes WHERE owner_id = ?1 ORDER BY name"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map([owner_id], from_row).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(super) fn delete(conn: &mut Connection, id: i64) -> StoreResult<()> {
    let tx = conn.transaction().map_err(backend)?;
    let users: Vec<String> = {
        let mut stmt = tx
            .prepare("SELECT name FROM pipes WHERE remote_id = ?1 ORDER BY name")
            .map_err(backend)?;
        let rows = stmt.query_map([id], |row| row.get(0)).map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    if !users.is_empty() {
        return Err(StoreError::InUse(users));
    }
    tx.execute("DELETE FROM remotes WHERE id = ?1", [id])
        .map_err(backend)?;
    tx.commit().map_err(backend)
}
