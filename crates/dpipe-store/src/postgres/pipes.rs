//! SQL for the `pipes` table. Children, grants and minted keys go with their pipe through
//! foreign keys.

use postgres::Row;

use super::errors::{backend, unique_or_backend};
use super::{Connection, column, json_column, object_column, object_text};
use crate::pipe_queries::{self, PIPE_COLUMNS};
use crate::records::{NewPipe, PipeRecord};
use crate::sqlite::now;
use crate::{StoreError, StoreResult};

fn from_row(row: &Row) -> StoreResult<PipeRecord> {
    Ok(PipeRecord {
        id: column(row, 0)?,
        name: column(row, 1)?,
        owner_id: column(row, 2)?,
        parent_id: column(row, 3)?,
        remote_id: column(row, 4)?,
        protocol: column(row, 5)?,
        location: column(row, 6)?,
        credentials: column(row, 7)?,
        settings: object_column(column(row, 8)?)?,
        options: object_column(column(row, 9)?)?,
        schema: json_column(column(row, 10)?)?,
    })
}

fn from_rows(rows: Vec<Row>) -> StoreResult<Vec<PipeRecord>> {
    rows.iter().map(from_row).collect()
}

pub(super) fn insert(conn: &mut Connection, pipe: &NewPipe) -> StoreResult<PipeRecord> {
    let row = conn
        .client
        .query_one(
            &format!(
                "INSERT INTO pipes (name, owner_id, parent_id, remote_id, protocol, location, credentials, settings, options, schema, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {PIPE_COLUMNS}"
            ),
            &[
                &pipe.name,
                &pipe.owner_id,
                &pipe.parent_id,
                &pipe.remote_id,
                &pipe.protocol,
                &pipe.location,
                &pipe.credentials,
                &object_text(&pipe.settings),
                &object_text(&pipe.options),
                &pipe.schema.to_string(),
                &now(),
            ],
        )
        .map_err(|e| unique_or_backend(e, &[("pipes_name_unique", "name")]))?;
    from_row(&row)
}

pub(super) fn update(conn: &mut Connection, pipe: &PipeRecord) -> StoreResult<PipeRecord> {
    let row = conn
        .client
        .query_opt(
            &format!(
                "UPDATE pipes SET parent_id = $2, remote_id = $3, protocol = $4, location = $5, credentials = $6,
                                  settings = $7, options = $8, schema = $9, updated_at = $10
                 WHERE id = $1 RETURNING {PIPE_COLUMNS}"
            ),
            &[
                &pipe.id,
                &pipe.parent_id,
                &pipe.remote_id,
                &pipe.protocol,
                &pipe.location,
                &pipe.credentials,
                &object_text(&pipe.settings),
                &object_text(&pipe.options),
                &pipe.schema.to_string(),
                &now(),
            ],
        )
        .map_err(backend)?
        .ok_or_else(|| StoreError::Backend(format!("pipe {} vanished", pipe.id)))?;
    from_row(&row)
}

pub(super) fn find(conn: &mut Connection, name: &str) -> StoreResult<Option<PipeRecord>> {
    let rows = conn
        .query_cached(
            &format!("SELECT {PIPE_COLUMNS} FROM pipes WHERE name = $1"),
            &[&name],
        )
        .map_err(backend)?;
    rows.first().map(from_row).transpose()
}

pub(super) fn all(conn: &mut Connection) -> StoreResult<Vec<PipeRecord>> {
    from_rows(
        conn.query_cached(
            &format!("SELECT {PIPE_COLUMNS} FROM pipes ORDER BY name"),
            &[],
        )
        .map_err(backend)?,
    )
}

/// Pipe `id` and its ancestors ([`pipe_queries::pipe_chain`]).
pub(super) fn chain(conn: &mut Connection, id: i64) -> StoreResult<Vec<PipeRecord>> {
    from_rows(
        conn.query_cached(&pipe_queries::pipe_chain(), &[&id])
            .map_err(backend)?,
    )
}

/// The pipes that reach `user_id`, with their ancestors ([`pipe_queries::pipes_reaching`]).
pub(super) fn reaching(
    conn: &mut Connection,
    user_id: Option<i64>,
) -> StoreResult<Vec<PipeRecord>> {
    from_rows(
        conn.query_cached(&pipe_queries::pipes_reaching(), &[&user_id])
            .map_err(backend)?,
    )
}

pub(super) fn delete(conn: &mut Connection, id: i64) -> StoreResult<()> {
    conn.client
        .execute("DELETE FROM pipes WHERE id = $1", &[&id])
        .map_err(backend)?;
    Ok(())
}
