//! CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload and
//! ListParts. Parts of any size are accepted (S3's 5 MiB minimum is not enforced: it only
//! exists to bound AWS's own bookkeeping).

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::checks::{body_checks, body_stream, encode_metadata, writable_key};
use super::timestamp;
use crate::store::ObjectStore;
use crate::store::objects::NewObject;

pub(super) async fn create(
    store: &ObjectStore,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let input = req.input;
    writable_key(&input.key)?;
    let new = NewObject {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        content_type: input.content_type,
        metadata: encode_metadata(input.metadata),
        if_absent: false,
    };
    let id = store.create_upload(new).await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(id),
        checksum_algorithm: input.checksum_algorithm,
        ..Default::default()
    }))
}

pub(super) async fn upload_part(
    store: &ObjectStore,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let input = req.input;
    let checks = body_checks!(req, input);
    let size_hint = input.content_length.and_then(|n| u64::try_from(n).ok());
    let sums = checks.hasher();
    let (etag, c) = store
        .put_part(
            (input.bucket, input.key, input.upload_id),
            input.part_number,
            body_stream(input.body),
            size_hint,
            sums,
            || checks.expected(),
        )
        .await?;
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(ETag::Strong(etag)),
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_crc64nvme: c.checksum_crc64nvme,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        ..Default::default()
    }))
}

pub(super) async fn complete(
    store: &ObjectStore,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let input = req.input;
    let parts = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    let chosen = parts
        .into_iter()
        .map(|p| {
            let number = p.part_number.ok_or_else(|| {
                S3Error::with_message(S3ErrorCode::MalformedXML, "a part has no PartNumber")
            })?;
            Ok((number, p.e_tag.map(ETag::into_value)))
        })
        .collect::<S3Result<Vec<_>>>()?;
    let row = store
        .complete_upload(
            (input.bucket.clone(), input.key.clone(), input.upload_id),
            chosen,
        )
        .await?;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        e_tag: Some(ETag::Strong(row.etag)),
        ..Default::default()
    }))
}

pub(super) async fn abort(
    store: &ObjectStore,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    store
        .abort_upload((input.bucket, input.key, input.upload_id))
        .await?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

pub(super) async fn list_parts(
    store: &ObjectStore,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let input = req.input;
    let max = match input.max_parts {
        None => 1000,
        Some(n) if n < 0 => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "max-parts must be a non-negative integer",
            ));
        }
        Some(n) => (n as usize).min(1000),
    };
    let after = input.part_number_marker.unwrap_or(0);
    let (parts, truncated) = store
        .list_parts(
            (
                input.bucket.clone(),
                input.key.clone(),
                input.upload_id.clone(),
            ),
            after,
            max,
        )
        .await?;
    let next = parts.last().map(|p| p.number);
    let parts = parts
        .into_iter()
        .map(|p| Part {
            part_number: Some(p.number),
            size: Some(p.size as i64),
            e_tag: Some(ETag::Strong(p.etag)),
            last_modified: Some(timestamp(p.modified_ms)),
            ..Default::default()
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        part_number_marker: Some(after),
        next_part_number_marker: next.filter(|_| truncated),
        max_parts: Some(max as i32),
        is_truncated: Some(truncated),
        parts: Some(parts),
        ..Default::default()
    }))
}
