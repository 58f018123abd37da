//! Object-level calls made with a provisioned user's keys, reduced to "worked" or the AWS
//! error code, so tests can say what each user may do.

use std::fmt::Debug;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use dpipe_provision::{AccessKeyPair, AdminSession};

use dpipe_testkit::moto;

/// `Ok` or the AWS error code of the call.
pub type Outcome<T = ()> = Result<T, String>;

fn code<E: ProvideErrorMetadata + Debug, R: Debug>(err: SdkError<E, R>) -> String {
    err.code()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("no code ({err:?})"))
}

/// An S3 client acting with `keys`.
pub async fn as_user(keys: &AccessKeyPair) -> AdminSession {
    moto::session(keys).await
}

pub async fn put(session: &AdminSession, bucket: &str, key: &str, body: &str) -> Outcome {
    let body = ByteStream::from(body.as_bytes().to_vec());
    session
        .s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body)
        .send()
        .await
        .map(drop)
        .map_err(code)
}

pub async fn get(session: &AdminSession, bucket: &str, key: &str) -> Outcome<String> {
    let out = session
        .s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(code)?;
    let bytes = out
        .body
        .collect()
        .await
        .expect("read object body")
        .into_bytes();
    Ok(String::from_utf8(bytes.to_vec()).unwrap())
}

pub async fn delete(session: &AdminSession, bucket: &str, key: &str) -> Outcome {
    session
        .s3()
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(drop)
        .map_err(code)
}

pub async fn list(session: &AdminSession, bucket: &str) -> Outcome<Vec<String>> {
    let out = session
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .map_err(code)?;
    Ok(out
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_owned())
        .collect())
}

/// Asserts that `outcome` is S3's `AccessDenied`.
#[track_caller]
pub fn assert_denied<T: Debug>(outcome: Outcome<T>) {
    assert_eq!(outcome.unwrap_err(), "AccessDenied");
}
