//! PutObject, GetObject, HeadObject, DeleteObject and DeleteObjects.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::checks::{
    body_checks, body_stream, conditions, decode_metadata, encode_metadata, writable_key,
};
use super::timestamp;
use crate::store::ObjectStore;
use crate::store::objects::NewObject;

pub(super) async fn put(
    store: &ObjectStore,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let input = req.input;
    writable_key(&input.key)?;
    let checks = body_checks!(req, input);
    let new = NewObject {
        bucket: input.bucket,
        key: input.key,
        content_type: input.content_type,
        metadata: encode_metadata(input.metadata),
        if_absent: input
            .if_none_match
            .as_ref()
            .is_some_and(ETagCondition::is_any),
    };
    if input.if_match.is_some() {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "If-Match on PutObject is not supported",
        ));
    }
    let size_hint = input.content_length.and_then(|n| u64::try_from(n).ok());
    let sums = checks.hasher();
    let stored = store
        .put(new, body_stream(input.body), size_hint, sums, || {
            checks.expected()
        })
        .await?;
    let c = stored.checksums;
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(ETag::Strong(stored.etag)),
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_crc64nvme: c.checksum_crc64nvme,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        ..Default::default()
    }))
}

fn no_parts(part_number: Option<PartNumber>) -> S3Result<()> {
    match part_number {
        None => Ok(()),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "partNumber is not supported: use a Range",
        )),
    }
}

pub(super) async fn get(
    store: &ObjectStore,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    no_parts(input.part_number)?;
    let conditions = conditions!(input);
    let download = store
        .get(&input.bucket, &input.key, input.range, move |row| {
            conditions.check(row)
        })
        .await?;
    let row = download.row.clone();
    let (length, content_range) = match &download.range {
        Some(r) => (
            r.end - r.start,
            Some(format!("bytes {}-{}/{}", r.start, r.end - 1, row.size)),
        ),
        None => (row.size, None),
    };
    let body = StreamingBlob::wrap(download.into_stream());
    Ok(S3Response::new(GetObjectOutput {
        body: Some(body),
        accept_ranges: Some("bytes".to_owned()),
        content_length: Some(length as i64),
        content_range,
        content_type: row.content_type,
        e_tag: Some(ETag::Strong(row.etag)),
        last_modified: Some(timestamp(row.modified_ms)),
        metadata: decode_metadata(row.metadata.as_deref()),
        ..Default::default()
    }))
}

pub(super) async fn head(
    store: &ObjectStore,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    no_parts(input.part_number)?;
    let conditions = conditions!(input);
    let row = store
        .head(&input.bucket, &input.key, move |row| conditions.check(row))
        .await?;
    Ok(S3Response::new(HeadObjectOutput {
        accept_ranges: Some("bytes".to_owned()),
        content_length: Some(row.size as i64),
        content_type: row.content_type,
        e_tag: Some(ETag::Strong(row.etag)),
        last_modified: Some(timestamp(row.modified_ms)),
        metadata: decode_metadata(row.metadata.as_deref()),
        ..Default::default()
    }))
}

pub(super) async fn delete(
    store: &ObjectStore,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    // 204 whether or not the key existed, as S3 answers.
    store.delete(&input.bucket, vec![input.key]).await?;
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub(super) async fn delete_many(
    store: &ObjectStore,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    if input.delete.objects.len() > 1000 {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "DeleteObjects takes at most 1000 keys",
        ));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    let keys: Vec<String> = input.delete.objects.into_iter().map(|o| o.key).collect();
    store.delete(&input.bucket, keys.clone()).await?;
    let deleted = (!quiet).then(|| {
        keys.into_iter()
            .map(|key| DeletedObject {
                key: Some(key),
                ..Default::default()
            })
            .collect()
    });
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted,
        ..Default::default()
    }))
}
