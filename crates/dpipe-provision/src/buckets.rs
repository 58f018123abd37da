//! The bucket of a remote: make sure it exists, delete it (emptying it first when asked).
//! Existence is checked by listing (`s3:ListBucket`), which the admin policy grants anyway,
//! rather than `HeadBucket`, which some S3 look-alikes authorize as a separate action.

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
};

use crate::error::{Error, ErrorKind, Result, aws, kind_of};
use crate::names::check_bucket;
use crate::session::{AdminSession, DEFAULT_REGION};
use crate::users::Removal;

/// The most keys one `DeleteObjects` call takes.
const DELETE_BATCH: i32 = 1000;

/// Lists up to `max` keys of `bucket`; `None` when the bucket does not exist.
async fn first_keys(session: &AdminSession, bucket: &str, max: i32) -> Result<Option<Vec<String>>> {
    let listed = session
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .max_keys(max)
        .send()
        .await;
    match listed.map_err(|e| aws("ListObjectsV2", bucket, e)) {
        Ok(page) => Ok(Some(
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
                .collect(),
        )),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Makes sure `bucket` exists in the session's region; `true` when this call created it.
pub(crate) async fn ensure_bucket(session: &AdminSession, bucket: &str) -> Result<bool> {
    if first_keys(session, bucket, 1).await?.is_some() {
        return Ok(false);
    }
    let mut create = session.s3().create_bucket().bucket(bucket);
    if session.region() != DEFAULT_REGION {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(session.region()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(true),
        Err(err) => {
            let err = aws("CreateBucket", bucket, err);
            match err.code() {
                // Created concurrently by this account: it is not ours to roll back.
                Some("BucketAlreadyOwnedByYou") => Ok(false),
                Some("BucketAlreadyExists") => Err(err.with_note(
                    "bucket names are global across all AWS accounts; choose another remote name",
                )),
                _ => Err(err),
            }
        }
    }
}

/// Deletes `bucket` (`dpipe-…` only). With `force`, deletes its objects first; without,
/// refuses a bucket that holds objects. A bucket that does not exist is a success
/// ([`Removal::AlreadyAbsent`]).
pub async fn delete_bucket(session: &AdminSession, bucket: &str, force: bool) -> Result<Removal> {
    check_bucket(bucket)?;
    loop {
        let Some(keys) = first_keys(session, bucket, DELETE_BATCH).await? else {
            return Ok(Removal::AlreadyAbsent);
        };
        if keys.is_empty() {
            break;
        }
        if !force {
            return Err(not_empty(bucket));
        }
        delete_objects(session, bucket, keys).await?;
    }
    match session.s3().delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(Removal::Removed),
        Err(err) => match aws("DeleteBucket", bucket, err) {
            err if err.kind() == ErrorKind::NotFound => Ok(Removal::AlreadyAbsent),
            // Objects arrived since the listing, or old versions of a versioned bucket.
            err if err.kind() == ErrorKind::NotEmpty => {
                Err(err.with_note(&not_empty(bucket).to_string()))
            }
            err => Err(err),
        },
    }
}

/// Deletes `keys` (at most [`DELETE_BATCH`]) from `bucket` in one call.
async fn delete_objects(session: &AdminSession, bucket: &str, keys: Vec<String>) -> Result<()> {
    let objects = keys
        .into_iter()
        .map(|key| ObjectIdentifier::builder().key(key).build())
        .collect::<Result<Vec<_>, _>>()
        .and_then(|objects| {
            Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
        })
        .map_err(|e| Error::new(ErrorKind::Internal, format!("building DeleteObjects: {e}")))?;
    let deleted = session
        .s3()
        .delete_objects()
        .bucket(bucket)
        .delete(objects)
        .send()
        .await
        .map_err(|e| aws("DeleteObjects", bucket, e))?;
    if let Some(first) = deleted.errors().first() {
        return Err(Error::new(
            kind_of(first.code(), 0),
            format!(
                "AWS DeleteObjects on {bucket}: {} objects were not deleted, the first one ({}) \
                 with {}: {}",
                deleted.errors().len(),
                first.key().unwrap_or("?"),
                first.code().unwrap_or("no code"),
                first.message().unwrap_or("no message"),
            ),
        ));
    }
    Ok(())
}

fn not_empty(bucket: &str) -> Error {
    Error::new(
        ErrorKind::NotEmpty,
        format!("bucket {bucket} is not empty; delete it with force to delete its objects too"),
    )
}
