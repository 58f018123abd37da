//! SQL for the `pipes` table. Children and grants go with their pipe through foreign keys.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{backend, json_column, now, object_column, unique_or_backend};
use crate::pipe_queries::{self, PIPE_COLUMNS};
use crate::records::{NewPipe, PipeRecord};
use crate::{StoreError, StoreResult};

fn from_row(row: &Row<'_>) -> rusqlite::Result<PipeRecord> {
    Ok(PipeRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        owner_id: row.get(2)?,
        parent_id: row.get(3)?,
        remote_id: row.get(4)?,
        protocol: row.get(5)?,
        location: row.get(6)?,
        credentials: row.get(7)?,
        settings: object_column(row.get(8)?)?,
        options: object_column(row.get(9)?)?,
        schema: json_column(row.get(10)?)?,
    })
}

fn object_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

pub(super) fn insert(conn: &Connection, pipe: &NewPipe) -> StoreResult<PipeRecord> {
    let stamp = now();
    conn.execute(
        "INSERT INTO pipes (name, owner_id, parent_id, remote_id, protocol, location, credentials, settings, options, schema, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        params![
            pipe.name,
            pipe.owner_id,
            pipe.parent_id,
            pipe.remote_id,
            pipe.protocol,
            pipe.location,
            pipe.credentials,
            object_text(&pipe.settings),
            object_text(&pipe.options),
            pipe.schema.to_string(),
            stamp
        ],
    )
    .map_err(|e| unique_or_backend(e, &[("pipes.name", "name")]))?;
    let id = conn.last_insert_rowid();
    find_by_id(conn, id)
}

pub(super) fn update(conn: &Connection, pipe: &PipeRecord) -> StoreResult<PipeRecord> {
    conn.execute(
        "UPDATE pipes SET parent_id = ?2, remote_id = ?3, protocol = ?4, location = ?5, credentials = ?6,
                          settings = ?7, options = ?8, schema = ?9, updated_at = ?10
         WHERE id = ?1",
        params![
            pipe.id,
            pipe.parent_id,
            pipe.remote_id,
            pipe.protocol,
            pipe.location,
            pipe.credentials,
            object_text(&pipe.settings),
            object_text(&pipe.options),
            pipe.schema.to_string(),
            now()
        ],
    )
    .map_err(backend)?;
    find_by_id(conn, pipe.id)
}

fn find_by_id(conn: &Connection, id: i64) -> StoreResult<PipeRecord> {
    conn.query_row(
        &format!("SELECT {PIPE_COLUMNS} FROM pipes WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
    .map_err(backend)?
    .ok_or_else(|| StoreError::Backend(format!("pipe {id} vanished")))
}

pub(super) fn find(conn: &Connection, name: &&str) -> StoreResult<Option<PipeRecord>> {
    conn.prepare_cached(&format!("SELECT {PIPE_COLUMNS} FROM pipes WHERE name = ?1"))
        .and_then(|mut stmt| stmt.query_row([name], from_row).optional())
        .map_err(backend)
}

pub(super) fn all(conn: &Connection) -> StoreResult<Vec<PipeRecord>> {
    let mut stmt = conn
        .prepare(&format!("SELECT {PIPE_COLUMNS} FROM pipes ORDER BY name"))
        .map_err(backend)?;
    let rows = stmt.query_map([], from_row).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

/// Pipe `id` and its ancestors ([`pipe_queries::pipe_chain`]).
pub(super) fn chain(conn: &Connection, id: i64) -> StoreResult<Vec<PipeRecord>> {
    let mut stmt = conn
        .prepare_cached(&pipe_queries::pipe_chain())
        .map_err(backend)?;
    let rows = stmt.query_map([id], from_row).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

/// The pipes that reach `user_id`, with their ancestors ([`pipe_queries::pipes_reaching`]).
pub(super) fn reaching(conn: &Connection, user_id: Option<i64>) -> StoreResult<Vec<PipeRecord>> {
    let mut stmt = conn
        .prepare_cached(&pipe_queries::pipes_reaching())
        .map_err(backend)?;
    let rows = stmt.query_map([user_id], from_row).map_err(backend)?;
    rows.collect::<Result<_, _>>().map_err(backend)
}

pub(super) fn delete(conn: &Connection, id: i64) -> StoreResult<()> {
    conn.execute("DELETE FROM pipes WHERE id = ?1", [id])
        .map_err(backend)?;
    Ok(())
}
