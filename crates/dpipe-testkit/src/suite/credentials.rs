//! The credentials endpoint: the half matching the requested access, from the root of the
//! chain, shaped for boto3, and its wrong calls.

use dpipe_client::ErrorKind;
use dpipe_core::role::Access;
use serde_json::{Value, json};

use super::{child_pipe, expect_err, s3_pipe};
use crate::harness::Harness;

/// Flat credentials serve both accesses; split ones give each access its own half, also to
/// children and through a remote.
pub fn credentials_flat_and_split(h: &dyn Harness) {
    let owner = h.user("owner");
    owner.create_pipe(&s3_pipe("flat")).unwrap();
    let read = owner.credentials("flat", Access::Read).unwrap();
    assert_eq!(read, owner.credentials("flat", Access::Write).unwrap());
    assert_eq!(
        Value::Object(read),
        json!({"aws_access_key_id": "AKIDFLAT", "aws_secret_access_key": "flat-secret"})
    );
    owner.create_pipe(&json!({"name": "split", "protocol": "sftp", "location": "127.0.0.1:2222",
        "credentials": {"read": {"username": "reader", "password": "r"}, "write": {"username": "writer", "password": "w"}}})).unwrap();
    owner
        .create_pipe(&child_pipe("split-kid", "split", "kid"))
        .unwrap();
    assert_eq!(
        owner.credentials("split-kid", Access::Read).unwrap()["username"],
        "reader"
    );
    assert_eq!(
        owner.credentials("split-kid", Access::Write).unwrap()["username"],
        "writer"
    );
    assert_eq!(
        owner.credentials("split", Access::Write).unwrap()["password"],
        "w"
    );
    owner.create_remote(&json!({"name": "store", "protocol": "s3", "location": "remote-bucket",
        "credentials": {"read": {"key": "RK", "secret": "rs"}, "write": {"key": "WK", "secret": "ws"}}})).unwrap();
    owner
        .create_pipe(&json!({"name": "via-remote", "remote": "store"}))
        .unwrap();
    assert_eq!(
        owner.credentials("via-remote", Access::Read).unwrap()["aws_access_key_id"],
        "RK"
    );
    assert_eq!(
        owner.credentials("via-remote", Access::Write).unwrap()["aws_secret_access_key"],
        "ws"
    );
    // renew hands out the freshest credentials there are: for stored keys, the same ones.
    assert_eq!(
        owner.renew_credentials("via-remote", Access::Read).unwrap()["aws_access_key_id"],
        "RK"
    );
}

/// S3 credentials carry only keys boto3 takes, plus the endpoint and region of custom S3.
pub fn credentials_s3_shape_and_endpoint(h: &dyn Harness) {
    let owner = h.user("owner");
    owner.create_remote(&json!({"name": "minio", "protocol": "s3", "location": "data",
        "settings": {"endpoint": "http://127.0.0.1:9000", "region": "eu-west-1", "dir": "base"},
        "credentials": {"aws_access_key_id": "K", "aws_secret_access_key": "S", "aws_session_token": "T"}})).unwrap();
    let pipe = owner
        .create_pipe(&json!({"name": "on-minio", "remote": "minio", "options": {"dir": "x"}}))
        .unwrap();
    assert_eq!(pipe.options["remotepath"], "s3://data/base/x/");
    assert_eq!(pipe.remote.as_deref(), Some("minio"));
    let creds = owner.credentials("on-minio", Access::Read).unwrap();
    assert_eq!(
        Value::Object(creds),
        json!({"aws_access_key_id": "K", "aws_secret_access_key": "S",
        "aws_session_token": "T", "endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"})
    );
    owner
        .create_pipe(
            &json!({"name": "aliases", "protocol": "s3", "location": "bkt",
        "credentials": {"key": "AK", "secret": "SK"}}),
        )
        .unwrap();
    assert_eq!(
        Value::Object(owner.credentials("aliases", Access::Read).unwrap()),
        json!({"aws_access_key_id": "AK", "aws_secret_access_key": "SK"})
    );
}

/// Missing pipes, strangers and write requests without write access are refused.
pub fn credentials_wrong_calls(h: &dyn Harness) {
    let owner = h.user("owner");
    let stranger = h.user("stranger");
    owner.create_pipe(&s3_pipe("secret")).unwrap();
    expect_err(
        owner.credentials("missing", Access::Read),
        ErrorKind::NotFound,
        "Not found",
    );
    expect_err(
        stranger.credentials("secret", Access::Read),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        stranger.credentials("secret", Access::Write),
        ErrorKind::Forbidden,
        "permission",
    );
}
