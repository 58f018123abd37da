//! The bucket of a remote: make sure it exists, delete it (emptying it first when asked); and
//! the bucket of managed pipes on external storage ([`ensure_managed_bucket`]).
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
    create_bucket(
        session,
        bucket,
        "bucket names are global across all AWS accounts; choose another remote name",
    )
    .await
}

/// Creates `bucket` in the session's region; `true` when this call created it, `false` when
/// this account already owned it. `taken` is the advice added when another account owns it.
async fn create_bucket(session: &AdminSession, bucket: &str, taken: &str) -> Result<bool> {
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
                Some("BucketAlreadyExists") => Err(err.with_note(taken)),
                _ => Err(err),
            }
        }
    }
}

/// What [`ensure_managed_bucket`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketCheck {
    /// The bucket was there already.
    Existed,
    /// The bucket was missing and has just been created.
    Created,
}

/// Makes sure the bucket of managed pipes exists on external storage, for a server to call
/// at start: it lists at most one key (authorized as `s3:ListBucket`, like `HeadBucket` on AWS,
/// without the separate action some S3 look-alikes want for `HEAD`), and when the bucket is
/// missing creates it in the session's region if `create` allows (`s3:CreateBucket`).
/// Errors say what is missing: the bucket (when `create` is false), or the permission.
pub async fn ensure_managed_bucket(
    session: &AdminSession,
    bucket: &str,
    create: bool,
) -> Result<BucketCheck> {
    check_any_bucket(bucket)?;
    let need = |action: &str| {
        format!(
            "the server's S3 credentials need {action} on the managed bucket {bucket} (arn:aws:s3:::{bucket})"
        )
    };
    let found = first_keys(session, bucket, 1)
        .await
        .map_err(|err| match err.kind() {
            ErrorKind::AccessDenied => err.with_note(&need("s3:ListBucket")),
            _ => err,
        })?;
    if found.is_some() {
        return Ok(BucketCheck::Existed);
    }
    if !create {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "the managed bucket {bucket} does not exist{}; create it, or let the server                  create it",
                session
                    .endpoint_url()
                    .map(|url| format!(" at {url}"))
                    .unwrap_or_default()
            ),
        ));
    }
    let taken = "bucket names are global across all AWS accounts; choose another managed bucket";
    match create_bucket(session, bucket, taken).await {
        Ok(true) => Ok(BucketCheck::Created),
        Ok(false) => Ok(BucketCheck::Existed),
        Err(err) if err.kind() == ErrorKind::AccessDenied => {
            Err(err.with_note(&need("s3:CreateBucket")))
        }
        Err(err) => Err(err),
    }
}

/// A name S3 could take for a bucket (legacy us-east-1 names included): 3 to 255 letters,
/// digits, `.`, `_` or `-`. S3 has the last word; this only keeps a stray `/` or `?` out of
/// the request path.
fn check_any_bucket(bucket: &str) -> Result<()> {
    let fine = (3..=255).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if fine {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Invalid,
            format!(
                "invalid bucket name {bucket:?}: use 3 to 63 lowercase letters, digits, dots and                  hyphens"
            ),
        ))
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
