//! What the STS tests share: the managed bucket and its neighbours, the server's IAM user,
//! a role per scope, an issuer, and S3 calls with issued credentials.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use chrono::{TimeDelta, Utc};
use dpipe_core::managed::{IssuedSession, Scope, SessionIssuer, SessionRequest};
use dpipe_core::role::Access;
use dpipe_core::session_policy::{session_name, session_policy};
use dpipe_provision::{AccessKeyPair, SessionOptions, StsIssuer, StsMode};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use dpipe_testkit::moto::{self, REGION};

pub(super) const BUCKET: &str = "dpipe-managed";
pub(super) const PREFIX: &str = "ann/demo/";

/// What every test of this module shares: the managed bucket with a file in the pipe and one
/// in each neighbour, the server's IAM user, and one role per scope.
pub(super) struct Fixture {
    pub(super) admin: AccessKeyPair,
    pub(super) admin_arn: String,
    pub(super) read_role: String,
    pub(super) write_role: String,
}

pub(super) async fn fixture() -> &'static Fixture {
    static FIXTURE: OnceCell<Fixture> = OnceCell::const_new();
    FIXTURE.get_or_init(set_up).await
}

pub(super) async fn set_up() -> Fixture {
    let root = moto::root().await;
    root.s3()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    for key in ["ann/demo/seed.csv", "ann/demo-2/x", "bob/demo/x"] {
        root.s3()
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from_static(b"seed"))
            .send()
            .await
            .unwrap();
    }
    let (admin, admin_arn) = user(
        "sts-admin",
        json!([{"Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:GetFederationToken"], "Resource": "*"}]),
    )
    .await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": admin_arn}, "Action": "sts:AssumeRole"}]});
    let read_role = role("dpipe-managed-read", &trust, Access::Read).await;
    let write_role = role("dpipe-managed-write", &trust, Access::Write).await;
    Fixture {
        admin,
        admin_arn,
        read_role,
        write_role,
    }
}

/// A new IAM user `name` with an inline policy of `statements`: its keys and ARN.
pub(super) async fn user(name: &str, statements: Value) -> (AccessKeyPair, String) {
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    moto::user_with_policy(name, "test", &policy).await
}

/// A role `name` trusting `trust`, whose own policy stands in for the session policy of
/// `access` on the pipe (see the module doc). Returns its ARN.
pub(super) async fn role(name: &str, trust: &Value, access: Access) -> String {
    let iam = moto::root().await.iam().clone();
    let created = iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    iam.put_role_policy()
        .role_name(name)
        .policy_name("pipe")
        .policy_document(session_policy(&scope(access)).unwrap())
        .send()
        .await
        .unwrap();
    created.role().unwrap().arn().to_owned()
}

pub(super) fn scope(access: Access) -> Scope {
    Scope {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        access,
    }
}

pub(super) fn options(url: &str, keys: &AccessKeyPair) -> SessionOptions {
    SessionOptions {
        endpoint_url: Some(url.to_owned()),
        region: Some(REGION.to_owned()),
        credentials: Some(keys.clone()),
    }
}

pub(super) async fn issuer(keys: &AccessKeyPair, mode: StsMode) -> Arc<StsIssuer> {
    Arc::new(
        StsIssuer::load(options(&moto::moto().url, keys), mode)
            .await
            .unwrap(),
    )
}

/// What the registry sends for `access` on the pipe, wanting `seconds`.
pub(super) fn request(access: Access, seconds: u32) -> SessionRequest {
    SessionRequest {
        session_name: session_name("ann", "demo"),
        policy: session_policy(&scope(access)).unwrap(),
        seconds,
    }
}

/// Issues as the server does: from a blocking thread of a multi-thread runtime.
pub(super) async fn issue(
    issuer: &Arc<StsIssuer>,
    request: SessionRequest,
) -> dpipe_core::Result<IssuedSession> {
    let issuer = Arc::clone(issuer);
    tokio::task::spawn_blocking(move || issuer.issue(&request))
        .await
        .unwrap()
}

/// An S3 client acting with issued credentials, session token included.
pub(super) fn s3_with(issued: &IssuedSession) -> aws_sdk_s3::Client {
    let credentials = Credentials::new(
        &issued.access_key_id,
        &issued.secret_access_key,
        Some(issued.session_token.clone()),
        None,
        "test",
    );
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(&moto::moto().url)
        .credentials_provider(credentials)
        .force_path_style(true)
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// `Ok`, or the error code of the call.
pub(super) type Outcome<T = ()> = Result<T, String>;

pub(super) fn code<E: ProvideErrorMetadata + std::fmt::Debug>(err: E) -> String {
    err.code()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("no code ({err:?})"))
}

pub(super) async fn put(s3: &aws_sdk_s3::Client, key: &str) -> Outcome {
    let body = ByteStream::from(key.as_bytes().to_vec());
    let put = s3.put_object().bucket(BUCKET).key(key).body(body).send();
    put.await.map(drop).map_err(code)
}

pub(super) async fn get(s3: &aws_sdk_s3::Client, key: &str) -> Outcome<Vec<u8>> {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .map_err(code)?;
    Ok(out.body.collect().await.unwrap().into_bytes().to_vec())
}

pub(super) async fn delete(s3: &aws_sdk_s3::Client, key: &str) -> Outcome {
    let delete = s3.delete_object().bucket(BUCKET).key(key).send();
    delete.await.map(drop).map_err(code)
}

pub(super) async fn list(s3: &aws_sdk_s3::Client, prefix: &str) -> Outcome<Vec<String>> {
    let out = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .map_err(code)?;
    Ok(out
        .contents()
        .iter()
        .map(|o| o.key().unwrap().to_owned())
        .collect())
}

/// A one-part multipart upload of `key`, completed.
pub(super) async fn multipart(s3: &aws_sdk_s3::Client, key: &str) -> Outcome {
    let created = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .map_err(code)?;
    let id = created.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"one part"))
        .send()
        .await
        .map_err(code)?;
    let parts = s3.list_parts().bucket(BUCKET).key(key).upload_id(id).send();
    match parts.await {
        Ok(parts) => assert_eq!(parts.parts().len(), 1),
        // moto 5.2.5 names the answer's root `ListPartsResponse`, which the SDK cannot
        // parse; a 200 still says the call was allowed.
        Err(err) if err.raw_response().map(|r| r.status().as_u16()) == Some(200) => {}
        Err(err) => return Err(code(err)),
    }
    let done = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .set_e_tag(part.e_tag().map(str::to_owned))
                .build(),
        )
        .build();
    s3.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .multipart_upload(done)
        .send()
        .await
        .map(drop)
        .map_err(code)
}

/// A multipart upload of `key` started and aborted.
pub(super) async fn aborted_multipart(s3: &aws_sdk_s3::Client, key: &str) -> Outcome {
    let created = s3
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .map_err(code)?;
    s3.abort_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(created.upload_id().unwrap())
        .send()
        .await
        .map(drop)
        .map_err(code)
}

#[track_caller]
pub(super) fn assert_denied<T: std::fmt::Debug>(outcome: Outcome<T>) {
    assert_eq!(outcome.unwrap_err(), "AccessDenied");
}

/// moto's record of the `model` instances of STS (its `/moto-api/data.json`).
pub(super) fn moto_sts(model: &str) -> Vec<Value> {
    let url = &moto::moto().url;
    let mut stream = TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    write!(
        stream,
        "GET /moto-api/data.json HTTP/1.0\r\nHost: {}\r\n\r\n",
        url.trim_start_matches("http://")
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    let data: Value = serde_json::from_str(body).unwrap();
    data["sts"][model].as_array().cloned().unwrap_or_default()
}

/// What STS recorded of the role session of `access_key_id`: policy, session name, role.
pub(super) fn assumed_role(access_key_id: &str) -> Value {
    moto_sts("AssumedRole")
        .into_iter()
        .find(|role| role["access_key_id"] == access_key_id)
        .expect("moto knows the assumed role")
}

#[track_caller]
pub(super) fn assert_lifetime(issued: &IssuedSession, seconds: i64) {
    let left = issued.expires_at - Utc::now();
    assert!(
        left <= TimeDelta::seconds(seconds) && left > TimeDelta::seconds(seconds - 120),
        "expires in {left}, wanted {seconds} s"
    );
}
