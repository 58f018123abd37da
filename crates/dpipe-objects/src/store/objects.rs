//! Whole objects: put (a body into one blob, one row), get (ranged, streamed across the
//! object's segments), head, delete.

use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use rusqlite::{Connection, OptionalExtension, params};
use s3s::checksum::ChecksumHasher;
use s3s::dto::Checksum;

use super::ObjectStore;
use super::blobs::{BlobId, Segment};
use super::index::{OBJECT_COLUMNS, ObjectRow, decode_segments, encode_segments, now_ms};
use super::reads::{Download, ReadCursor};
use super::write::Expected;
use crate::error::{Error, ErrorKind, Result};

/// An object about to be written.
#[derive(Debug, Clone)]
pub(crate) struct NewObject {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) content_type: Option<String>,
    /// `x-amz-meta-*` as a JSON object.
    pub(crate) metadata: Option<String>,
    /// `If-None-Match: *`: refuse to overwrite.
    pub(crate) if_absent: bool,
}

/// What a put stored.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) etag: String,
    pub(crate) checksums: Checksum,
}

pub(crate) fn no_such_key() -> Error {
    Error::new(ErrorKind::NoSuchKey, "The specified key does not exist.")
}

/// The row of `key` in `bucket`.
pub(crate) fn lookup(conn: &Connection, bucket: &str, key: &str) -> Result<Option<ObjectRow>> {
    let sql = format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE bucket = ?1 AND key = ?2");
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row(params![bucket, key.as_bytes()], ObjectRow::from_row)
                .optional()
        })
        .map_err(|e| Error::db("look up an object", e))
}

/// Writes `row` (replacing any object of the same key, whose blobs go to `released`).
pub(crate) fn upsert(
    conn: &Connection,
    bucket: &str,
    row: &ObjectRow,
    if_absent: bool,
    released: &mut Vec<BlobId>,
) -> Result<()> {
    let db = |e| Error::db("write an object", e);
    let old: Option<String> = conn
        .prepare_cached("SELECT segments FROM objects WHERE bucket = ?1 AND key = ?2")
        .and_then(|mut s| {
            s.query_row(params![bucket, row.key.as_bytes()], |r| r.get(0))
                .optional()
        })
        .map_err(db)?;
    if let Some(old) = old {
        if if_absent {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
        released.extend(segment_ids(&old)?);
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO objects
         (bucket, key, size, etag, modified_ms, content_type, metadata, segments)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            bucket,
            row.key.as_bytes(),
            row.size,
            row.etag,
            row.modified_ms,
            row.content_type,
            row.metadata,
            encode_segments(&row.segments),
        ])
    })
    .map_err(db)?;
    Ok(())
}

fn segment_ids(text: &str) -> Result<impl Iterator<Item = BlobId>> {
    let segments = decode_segments(text)
        .ok_or_else(|| Error::new(ErrorKind::Corrupt, "an object has a malformed blob list"))?;
    Ok(segments.into_iter().map(|s| s.blob))
}

/// Deletes `key` (its blobs go to `released`); whether it existed.
pub(crate) fn remove(
    conn: &Connection,
    bucket: &str,
    key: &str,
    released: &mut Vec<BlobId>,
) -> Result<bool> {
    let old: Option<String> = conn
        .prepare_cached("DELETE FROM objects WHERE bucket = ?1 AND key = ?2 RETURNING segments")
        .and_then(|mut s| {
            s.query_row(params![bucket, key.as_bytes()], |r| r.get(0))
                .optional()
        })
        .map_err(|e| Error::db("delete an object", e))?;
    match old {
        Some(old) => {
            released.extend(segment_ids(&old)?);
            Ok(true)
        }
        None => Ok(false),
    }
}

impl ObjectStore {
    /// Stores `body` as `new.key`, checked against `expected()` (see
    /// [`ObjectStore::write_blob`]); the object is visible once this returns.
    pub(crate) async fn put(
        &self,
        new: NewObject,
        body: impl Stream<Item = Result<Bytes>> + Send,
        size_hint: Option<u64>,
        sums: ChecksumHasher,
        expected: impl FnOnce() -> Result<Expected>,
    ) -> Result<Stored> {
        self.check_bucket(&new.bucket)?;
        self.write_blob(
            body,
            size_hint,
            sums,
            expected,
            move |inner, written, tx| {
                let etag = hex::encode(written.md5);
                let row = ObjectRow {
                    key: new.key,
                    size: written.size,
                    etag: etag.clone(),
                    modified_ms: now_ms(),
                    content_type: new.content_type,
                    metadata: new.metadata,
                    segments: vec![Segment {
                        blob: written.id,
                        size: written.size,
                    }],
                };
                let checksums = written.checksums;
                let bucket = new.bucket;
                inner.writer.submit(
                    vec![written.id],
                    move |conn, released| upsert(conn, &bucket, &row, new.if_absent, released),
                    move |out| {
                        let _ = tx.send(out.map(|()| Stored { etag, checksums }));
                    },
                );
            },
        )
        .await
    }

    /// The row of `key`, checked by `check` (conditional headers).
    pub(crate) async fn head(
        &self,
        bucket: &str,
        key: &str,
        check: impl FnOnce(&ObjectRow) -> Result<()> + Send + 'static,
    ) -> Result<ObjectRow> {
        self.check_bucket(bucket)?;
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |inner| {
            let row = inner
                .readers
                .with(|conn| lookup(conn, &bucket, &key))?
                .ok_or_else(no_such_key)?;
            check(&row)?;
            Ok(row)
        })
        .await
    }

    /// Opens `key` for reading (`range`: S3's `Range`), its blobs pinned until the download
    /// is dropped, and reads the first block in the same trip to the blocking pool.
    pub(crate) async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<s3s::dto::Range>,
        check: impl FnOnce(&ObjectRow) -> Result<()> + Send + 'static,
    ) -> Result<Download> {
        self.check_bucket(bucket)?;
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.blocking(move |inner| {
            let (row, pinned) = {
                let mut pins = inner.blobs.lock_pins();
                let row = inner
                    .readers
                    .with(|conn| lookup(conn, &bucket, &key))?
                    .ok_or_else(no_such_key)?;
                let pinned = inner.blobs.pin(&mut pins, &row.segments);
                (row, pinned)
            };
            check(&row)?;
            let range = match range {
                Some(range) => Some(range.check(row.size).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidRange,
                        "The requested range is not satisfiable",
                    )
                })?),
                None => None,
            };
            let (start, len) = range
                .as_ref()
                .map_or((0, row.size), |r| (r.start, r.end - r.start));
            let mut cursor = ReadCursor::new(
                Arc::clone(&inner.blobs),
                row.segments.clone(),
                start,
                len,
                pinned,
            );
            let first = if len > 0 {
                cursor.next_block()?
            } else {
                Bytes::new()
            };
            Ok(Download::new(row, range, cursor, first))
        })
        .await
    }

    /// Deletes `keys` in one commit; for each, whether it existed.
    pub(crate) async fn delete(&self, bucket: &str, keys: Vec<String>) -> Result<Vec<bool>> {
        self.check_bucket(bucket)?;
        let bucket = bucket.to_owned();
        self.commit(move |conn, released| {
            keys.iter()
                .map(|key| remove(conn, &bucket, key, released))
                .collect()
        })
        .await
    }
}
