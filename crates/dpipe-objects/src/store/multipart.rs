//! Multipart uploads. Each part is a blob of its own; completing an upload writes the
//! object's row as the ordered list of its parts' blobs (no byte is copied) and frees the
//! parts left out; aborting frees them all. Uploads left alone are aborted when the store
//! opens (see [`super::StoreOptions`]).

use std::collections::HashSet;

use bytes::Bytes;
use futures::Stream;
use md5::{Digest as _, Md5};
use rusqlite::{Connection, OptionalExtension, params};
use s3s::checksum::ChecksumHasher;
use s3s::dto::Checksum;

use super::ObjectStore;
use super::blobs::{BlobId, Segment};
use super::index::{ObjectRow, now_ms};
use super::objects::{NewObject, upsert};
use super::write::Expected;
use crate::error::{Error, ErrorKind, Result};

/// A stored part.
#[derive(Debug, Clone)]
pub(crate) struct PartRow {
    pub(crate) number: i32,
    blob: BlobId,
    pub(crate) size: u64,
    /// Hex MD5 of the part, unquoted.
    pub(crate) etag: String,
    pub(crate) modified_ms: i64,
}

/// What an upload was started with.
struct UploadRow {
    content_type: Option<String>,
    metadata: Option<String>,
}

fn no_such_upload() -> Error {
    Error::new(
        ErrorKind::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may \
         have been aborted or completed.",
    )
}

/// The upload `id` of `key` in `bucket`, or `NoSuchUpload`.
fn upload(conn: &Connection, id: &str, bucket: &str, key: &str) -> Result<UploadRow> {
    conn.prepare_cached(
        "SELECT content_type, metadata FROM uploads WHERE id = ?1 AND bucket = ?2 AND key = ?3",
    )
    .and_then(|mut s| {
        s.query_row(params![id, bucket, key.as_bytes()], |r| {
            Ok(UploadRow {
                content_type: r.get(0)?,
                metadata: r.get(1)?,
            })
        })
        .optional()
    })
    .map_err(|e| Error::db("look up an upload", e))?
    .ok_or_else(no_such_upload)
}

/// The parts of upload `id` numbered above `after`, in order, at most `limit`.
fn parts(conn: &Connection, id: &str, after: i32, limit: usize) -> Result<Vec<PartRow>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT number, blob, size, etag, modified_ms FROM parts
             WHERE upload = ?1 AND number > ?2 ORDER BY number LIMIT ?3",
        )
        .map_err(|e| Error::db("read the parts", e))?;
    let rows = stmt
        .query_map(params![id, after, limit as i64], |r| {
            let blob: String = r.get(1)?;
            Ok(PartRow {
                number: r.get(0)?,
                blob: BlobId::parse(&blob).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        1,
                        rusqlite::types::Type::Text,
                        "bad blob id".into(),
                    )
                })?,
                size: r.get(2)?,
                etag: r.get(3)?,
                modified_ms: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| Error::db("read the parts", e))?;
    Ok(rows)
}

/// Deletes upload `id` and its parts' rows; their blobs go to `released`.
fn drop_upload(conn: &Connection, id: &str, released: &mut Vec<BlobId>) -> Result<()> {
    released.extend(parts(conn, id, 0, usize::MAX >> 1)?.iter().map(|p| p.blob));
    conn.execute("DELETE FROM parts WHERE upload = ?1", [id])
        .and_then(|_| conn.execute("DELETE FROM uploads WHERE id = ?1", [id]))
        .map_err(|e| Error::db("delete an upload", e))?;
    Ok(())
}

impl ObjectStore {
    /// Starts an upload of `new.key`; its id.
    pub(crate) async fn create_upload(&self, new: NewObject) -> Result<String> {
        self.check_bucket(&new.bucket)?;
        let id = BlobId::random().hex();
        let upload_id = id.clone();
        self.commit(move |conn, _| {
            conn.execute(
                "INSERT INTO uploads (id, bucket, key, created_ms, content_type, metadata)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    upload_id,
                    new.bucket,
                    new.key.as_bytes(),
                    now_ms(),
                    new.content_type,
                    new.metadata
                ],
            )
            .map_err(|e| Error::db("start an upload", e))
        })
        .await?;
        Ok(id)
    }

    /// Stores part `number` of upload `id` (replacing a part of the same number); its hex
    /// MD5 and checksums.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn put_part(
        &self,
        (bucket, key, id): (String, String, String),
        number: i32,
        body: impl Stream<Item = Result<Bytes>> + Send,
        size_hint: Option<u64>,
        sums: ChecksumHasher,
        expected: impl FnOnce() -> Result<Expected>,
    ) -> Result<(String, Checksum)> {
        self.check_bucket(&bucket)?;
        if !(1..=10_000).contains(&number) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            ));
        }
        // Refuse a missing upload before receiving its bytes.
        let (b, k, i) = (bucket.clone(), key.clone(), id.clone());
        self.blocking(move |inner| {
            inner
                .readers
                .with(|conn| upload(conn, &i, &b, &k).map(drop))
        })
        .await?;
        self.write_blob(body, size_hint, sums, expected, move |inner, written, tx| {
            let etag = hex::encode(written.md5);
            let checksums = written.checksums;
            let part_etag = etag.clone();
            inner.writer.submit(
                vec![written.id],
                move |conn, released| {
                    // The upload may have been completed or aborted meanwhile.
                    upload(conn, &id, &bucket, &key)?;
                    let old: Option<String> = conn
                        .query_row(
                            "SELECT blob FROM parts WHERE upload = ?1 AND number = ?2",
                            params![id, number],
                            |r| r.get(0),
                        )
                        .optional()
                        .map_err(|e| Error::db("replace a part", e))?;
                    released.extend(old.as_deref().and_then(BlobId::parse));
                    conn.execute(
                        "INSERT OR REPLACE INTO parts (upload, number, blob, size, etag, modified_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![id, number, written.id.hex(), written.size, part_etag, now_ms()],
                    )
                    .map_err(|e| Error::db("store a part", e))?;
                    Ok(())
                },
                move |out| {
                    let _ = tx.send(out.map(|()| (etag, checksums)));
                },
            );
        })
        .await
    }

    /// Completes upload `id` with `chosen` parts (number, ETag as sent if any), in
    /// ascending order; the object's row.
    pub(crate) async fn complete_upload(
        &self,
        (bucket, key, id): (String, String, String),
        chosen: Vec<(i32, Option<String>)>,
    ) -> Result<ObjectRow> {
        self.check_bucket(&bucket)?;
        if chosen.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "You must specify at least one part",
            ));
        }
        if chosen.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(Error::new(
                ErrorKind::InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part \
                 number.",
            ));
        }
        self.commit(move |conn, released| {
            let started = upload(conn, &id, &bucket, &key)?;
            let stored = parts(conn, &id, 0, usize::MAX >> 1)?;
            let mut segments = Vec::with_capacity(chosen.len());
            let mut digests = Md5::new();
            let mut size = 0u64;
            for (number, etag) in &chosen {
                let part = stored
                    .iter()
                    .find(|p| p.number == *number)
                    .filter(|p| etag.as_ref().is_none_or(|e| *e == p.etag))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidPart,
                            format!(
                                "One or more of the specified parts could not be found. The part \
                                 may not have been uploaded, or the specified entity tag may not \
                                 match the part's entity tag (part {number})."
                            ),
                        )
                    })?;
                let md5 = hex::decode(&part.etag)
                    .map_err(|_| Error::new(ErrorKind::Corrupt, "a part has a malformed ETag"))?;
                digests.update(&md5);
                size += part.size;
                segments.push(Segment {
                    blob: part.blob,
                    size: part.size,
                });
            }
            let row = ObjectRow {
                key: key.clone(),
                size,
                etag: format!("{}-{}", hex::encode(digests.finalize()), chosen.len()),
                modified_ms: now_ms(),
                content_type: started.content_type,
                metadata: started.metadata,
                segments,
            };
            upsert(conn, &bucket, &row, false, released)?;
            // The parts left out are freed; the chosen ones now belong to the object.
            let mut freed = Vec::new();
            drop_upload(conn, &id, &mut freed)?;
            let kept: HashSet<BlobId> = row.segments.iter().map(|s| s.blob).collect();
            released.extend(freed.into_iter().filter(|b| !kept.contains(b)));
            Ok(row)
        })
        .await
    }

    /// Aborts upload `id`, freeing its parts.
    pub(crate) async fn abort_upload(
        &self,
        (bucket, key, id): (String, String, String),
    ) -> Result<()> {
        self.check_bucket(&bucket)?;
        self.commit(move |conn, released| {
            upload(conn, &id, &bucket, &key)?;
            drop_upload(conn, &id, released)
        })
        .await
    }

    /// The parts of upload `id` numbered above `after`, at most `max` (and whether more).
    pub(crate) async fn list_parts(
        &self,
        (bucket, key, id): (String, String, String),
        after: i32,
        max: usize,
    ) -> Result<(Vec<PartRow>, bool)> {
        self.check_bucket(&bucket)?;
        self.blocking(move |inner| {
            inner.readers.with(|conn| {
                upload(conn, &id, &bucket, &key)?;
                let mut rows = parts(conn, &id, after, max + 1)?;
                let truncated = rows.len() > max;
                rows.truncate(max);
                Ok((rows, truncated))
            })
        })
        .await
    }
}
