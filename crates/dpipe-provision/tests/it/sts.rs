//! `StsIssuer` and `ensure_managed_bucket`: STS credentials for the managed scope
//! `dpipe-managed/ann/demo/`, used with an S3 client, and wrong calls.
//!
//! What moto 5.2.5 enforces, read in its source (`moto/iam/access_control.py`, `moto/sts/`):
//! * `AssumeRole` keeps the session policy (`AssumedRole.policy`) but never applies it: a
//!   request with the session's keys is checked against the *role's* policies only
//!   (`AssumedRoleAccessKey.collect_policies`). The tests therefore give each role the session
//!   policy of its scope as its own policy — on AWS the role would allow the whole bucket and
//!   the session policy would narrow it to the same thing — and check, through moto's data
//!   API, that STS received exactly that policy from the issuer.
//! * `GetFederationToken` returns fixed example keys tied to no identity and drops the
//!   policy; with IAM enforcement on, every request with those keys is refused as an unknown
//!   key. Only issuing is tested for it.
//! * Conditions other than `StringEquals` are ignored, and none is evaluated on S3 requests:
//!   the `s3:prefix` condition of `s3:ListBucket` is not enforced, so refusals of listings
//!   outside the prefix (and of the bucket root) cannot be tested here; the golden files of
//!   `dpipe_core::session_policy` pin that part of the policy.

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
use dpipe_provision::{
    AccessKeyPair, BucketCheck, ErrorKind, SessionOptions, StsIssuer, StsMode,
    ensure_managed_bucket,
};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use dpipe_testkit::moto::{self, REGION, closed_port};

const BUCKET: &str = "dpipe-managed";
const PREFIX: &str = "ann/demo/";

/// What every test of this module shares: the managed bucket with a file in the pipe and one
/// in each neighbour, the server's IAM user, and one role per scope.
struct Fixture {
    admin: AccessKeyPair,
    admin_arn: String,
    read_role: String,
    write_role: String,
}

async fn fixture() -> &'static Fixture {
    static FIXTURE: OnceCell<Fixture> = OnceCell::const_new();
    FIXTURE.get_or_init(set_up).await
}

async fn set_up() -> Fixture {
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
async fn user(name: &str, statements: Value) -> (AccessKeyPair, String) {
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    moto::user_with_policy(name, "test", &policy).await
}

/// A role `name` trusting `trust`, whose own policy stands in for the session policy of
/// `access` on the pipe (see the module doc). Returns its ARN.
async fn role(name: &str, trust: &Value, access: Access) -> String {
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

fn scope(access: Access) -> Scope {
    Scope {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        access,
    }
}

fn options(url: &str, keys: &AccessKeyPair) -> SessionOptions {
    SessionOptions {
        endpoint_url: Some(url.to_owned()),
        region: Some(REGION.to_owned()),
        credentials: Some(keys.clone()),
    }
}

async fn issuer(keys: &AccessKeyPair, mode: StsMode) -> Arc<StsIssuer> {
    Arc::new(
        StsIssuer::load(options(&moto::moto().url, keys), mode)
            .await
            .unwrap(),
    )
}

/// What the registry sends for `access` on the pipe, wanting `seconds`.
fn request(access: Access, seconds: u32) -> SessionRequest {
    SessionRequest {
        session_name: session_name("ann", "demo"),
        policy: session_policy(&scope(access)).unwrap(),
        seconds,
    }
}

/// Issues as the server does: from a blocking thread of a multi-thread runtime.
async fn issue(
    issuer: &Arc<StsIssuer>,
    request: SessionRequest,
) -> dpipe_core::Result<IssuedSession> {
    let issuer = Arc::clone(issuer);
    tokio::task::spawn_blocking(move || issuer.issue(&request))
        .await
        .unwrap()
}

/// An S3 client acting with issued credentials, session token included.
fn s3_with(issued: &IssuedSession) -> aws_sdk_s3::Client {
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
type Outcome<T = ()> = Result<T, String>;

fn code<E: ProvideErrorMetadata + std::fmt::Debug>(err: E) -> String {
    err.code()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("no code ({err:?})"))
}

async fn put(s3: &aws_sdk_s3::Client, key: &str) -> Outcome {
    let body = ByteStream::from(key.as_bytes().to_vec());
    let put = s3.put_object().bucket(BUCKET).key(key).body(body).send();
    put.await.map(drop).map_err(code)
}

async fn get(s3: &aws_sdk_s3::Client, key: &str) -> Outcome<Vec<u8>> {
    let out = s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .map_err(code)?;
    Ok(out.body.collect().await.unwrap().into_bytes().to_vec())
}

async fn delete(s3: &aws_sdk_s3::Client, key: &str) -> Outcome {
    let delete = s3.delete_object().bucket(BUCKET).key(key).send();
    delete.await.map(drop).map_err(code)
}

async fn list(s3: &aws_sdk_s3::Client, prefix: &str) -> Outcome<Vec<String>> {
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
async fn multipart(s3: &aws_sdk_s3::Client, key: &str) -> Outcome {
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
async fn aborted_multipart(s3: &aws_sdk_s3::Client, key: &str) -> Outcome {
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
fn assert_denied<T: std::fmt::Debug>(outcome: Outcome<T>) {
    assert_eq!(outcome.unwrap_err(), "AccessDenied");
}

/// moto's record of the `model` instances of STS (its `/moto-api/data.json`).
fn moto_sts(model: &str) -> Vec<Value> {
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
fn assumed_role(access_key_id: &str) -> Value {
    moto_sts("AssumedRole")
        .into_iter()
        .find(|role| role["access_key_id"] == access_key_id)
        .expect("moto knows the assumed role")
}

#[track_caller]
fn assert_lifetime(issued: &IssuedSession, seconds: i64) {
    let left = issued.expires_at - Utc::now();
    assert!(
        left <= TimeDelta::seconds(seconds) && left > TimeDelta::seconds(seconds - 120),
        "expires in {left}, wanted {seconds} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_credentials_reach_the_pipe_only() {
    let fx = fixture().await;
    let issuer = issuer(&fx.admin, StsMode::assume_role(&fx.write_role)).await;
    // 12 hours wanted; the role's default maximum is one.
    let issued = issue(&issuer, request(Access::Write, 43_200))
        .await
        .unwrap();
    assert_lifetime(&issued, 3_600);
    assert!(!issued.session_token.is_empty());
    let debug = format!("{issued:?}");
    assert!(!debug.contains(&issued.secret_access_key) && !debug.contains(&issued.session_token));

    let received = assumed_role(&issued.access_key_id);
    assert_eq!(
        received["policy"].as_str().unwrap(),
        include_str!("../../../dpipe-core/src/session_policy/write.json")
    );
    assert_eq!(received["session_name"], "dpipe-ann-demo");
    assert_eq!(received["role_arn"], fx.write_role.as_str());

    let s3 = s3_with(&issued);
    put(&s3, "ann/demo/a.csv").await.unwrap();
    assert_eq!(get(&s3, "ann/demo/a.csv").await.unwrap(), b"ann/demo/a.csv");
    assert_eq!(get(&s3, "ann/demo/seed.csv").await.unwrap(), b"seed");
    let listed = list(&s3, PREFIX).await.unwrap();
    assert!(listed.contains(&"ann/demo/a.csv".to_owned()), "{listed:?}");
    multipart(&s3, "ann/demo/big.bin").await.unwrap();
    assert_eq!(get(&s3, "ann/demo/big.bin").await.unwrap(), b"one part");
    aborted_multipart(&s3, "ann/demo/gone.bin").await.unwrap();
    delete(&s3, "ann/demo/a.csv").await.unwrap();
    delete(&s3, "ann/demo/big.bin").await.unwrap();
    assert!(
        !list(&s3, PREFIX)
            .await
            .unwrap()
            .contains(&"ann/demo/a.csv".to_owned())
    );

    for outside in ["ann/demo-2/x", "bob/demo/x", "ann/demo"] {
        assert_denied(put(&s3, outside).await);
        assert_denied(get(&s3, outside).await);
        assert_denied(delete(&s3, outside).await);
        assert_denied(multipart(&s3, outside).await);
    }
    let root = moto::root().await;
    for kept in ["ann/demo-2/x", "bob/demo/x"] {
        let object = root.s3().get_object().bucket(BUCKET).key(kept).send();
        let body = object.await.unwrap().body.collect().await.unwrap();
        assert_eq!(body.into_bytes().as_ref(), b"seed", "{kept}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_credentials_list_and_get_the_pipe_only() {
    let fx = fixture().await;
    let issuer = issuer(&fx.admin, StsMode::assume_role(&fx.read_role)).await;
    // Shorter than STS's minimum: 15 minutes.
    let issued = issue(&issuer, request(Access::Read, 60)).await.unwrap();
    assert_lifetime(&issued, 900);
    let received = assumed_role(&issued.access_key_id);
    assert_eq!(
        received["policy"].as_str().unwrap(),
        include_str!("../../../dpipe-core/src/session_policy/read.json")
    );

    let s3 = s3_with(&issued);
    assert!(
        list(&s3, PREFIX)
            .await
            .unwrap()
            .contains(&"ann/demo/seed.csv".to_owned())
    );
    assert_eq!(get(&s3, "ann/demo/seed.csv").await.unwrap(), b"seed");
    assert_denied(put(&s3, "ann/demo/new.csv").await);
    assert_denied(delete(&s3, "ann/demo/seed.csv").await);
    assert_denied(multipart(&s3, "ann/demo/big.bin").await);
    for outside in ["ann/demo-2/x", "bob/demo/x"] {
        assert_denied(get(&s3, outside).await);
        assert_denied(put(&s3, outside).await);
        assert_denied(delete(&s3, outside).await);
    }
    assert_eq!(get(&s3, "ann/demo/seed.csv").await.unwrap(), b"seed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_write_credentials_differ() {
    let fx = fixture().await;
    let reader = issuer(&fx.admin, StsMode::assume_role(&fx.read_role)).await;
    let writer = issuer(&fx.admin, StsMode::assume_role(&fx.write_role)).await;
    let read = issue(&reader, request(Access::Read, 900)).await.unwrap();
    let write = issue(&writer, request(Access::Write, 900)).await.unwrap();
    let again = issue(&writer, request(Access::Write, 900)).await.unwrap();
    assert_ne!(read.access_key_id, write.access_key_id);
    assert_ne!(write.access_key_id, again.access_key_id);
    assert_ne!(write.secret_access_key, again.secret_access_key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federation_tokens_are_issued_with_the_pipe_s_name() {
    let fx = fixture().await;
    let issuer = issuer(&fx.admin, StsMode::FederationToken).await;
    // Longer than GetFederationToken allows: 36 hours.
    let issued = issue(&issuer, request(Access::Write, 200_000))
        .await
        .unwrap();
    assert_lifetime(&issued, 129_600);
    assert!(!issued.access_key_id.is_empty() && !issued.session_token.is_empty());
    let names: Vec<Value> = moto_sts("Token")
        .into_iter()
        .map(|t| t["name"].clone())
        .collect();
    assert!(names.contains(&json!("dpipe-ann-demo")), "{names:?}");
}

#[tokio::test]
async fn the_caller_is_known_at_start() {
    let fx = fixture().await;
    let issuer = StsIssuer::load(
        options(&moto::moto().url, &fx.admin),
        StsMode::FederationToken,
    )
    .await
    .unwrap();
    assert_eq!(issuer.caller_arn().await.unwrap(), fx.admin_arn);
    assert_eq!(issuer.max_session_seconds(), 129_600);
    let debug = format!("{issuer:?}");
    assert!(debug.contains(&moto::moto().url), "{debug}");
    assert!(!debug.contains(fx.admin.secret()), "{debug}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_does_not_trust_the_server_is_refused() {
    let fx = fixture().await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:user/somebody-else"},
        "Action": "sts:AssumeRole"}]});
    let untrusting = role("dpipe-managed-untrusting", &trust, Access::Read).await;
    let issuer = issuer(&fx.admin, StsMode::assume_role(&untrusting)).await;
    let err = issue(&issuer, request(Access::Read, 900))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), dpipe_core::ErrorKind::Internal);
    assert!(
        err.message()
            .starts_with("STS refused to issue credentials: AccessDenied"),
        "{err}"
    );
    assert!(err.message().contains(&untrusting), "{err}");
}

#[tokio::test]
async fn a_malformed_role_arn_is_refused_before_any_call() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let keys = AccessKeyPair::new("AKIAEXAMPLE", "example");
    for arn in ["dpipe-role", "arn:aws:iam::123456789012:user/ann"] {
        let err = StsIssuer::load(options(&url, &keys), StsMode::assume_role(arn))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{arn}: {err}");
        assert!(err.message().contains("invalid role ARN"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_without_the_right_to_call_sts_are_refused() {
    let fx = fixture().await;
    let (keys, _) = user(
        "sts-no-rights",
        json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
    )
    .await;
    for (mode, action) in [
        (StsMode::assume_role(&fx.write_role), "sts:AssumeRole"),
        (StsMode::FederationToken, "sts:GetFederationToken"),
    ] {
        let issuer = issuer(&keys, mode).await;
        let err = issue(&issuer, request(Access::Write, 900))
            .await
            .unwrap_err();
        assert!(
            err.message()
                .starts_with("STS refused to issue credentials: AccessDenied"),
            "{err}"
        );
        assert!(err.message().contains(action), "{err}");
        assert!(!err.message().contains(keys.secret()), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_are_refused() {
    let keys = AccessKeyPair::new("AKIANOBODY", "not-a-secret-moto-knows");
    let issuer = issuer(&keys, StsMode::FederationToken).await;
    let err = issue(&issuer, request(Access::Read, 900))
        .await
        .unwrap_err();
    assert!(
        err.message()
            .starts_with("STS refused to issue credentials: InvalidClientTokenId"),
        "{err}"
    );
    assert!(!err.message().contains(keys.secret()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sts_is_a_clear_error() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let keys = AccessKeyPair::new("AKIAEXAMPLE", "example-secret");
    let issuer = Arc::new(
        StsIssuer::load(options(&url, &keys), StsMode::FederationToken)
            .await
            .unwrap(),
    );
    let err = issue(&issuer, request(Access::Read, 900))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), dpipe_core::ErrorKind::Internal);
    assert!(
        err.message()
            .starts_with(&format!("cannot reach STS at {url}")),
        "{err}"
    );
    assert!(!err.message().contains("example-secret"), "{err}");
    let err = issuer.caller_arn().await.unwrap_err();
    assert!(err.message().starts_with("cannot reach STS at"), "{err}");
}

#[tokio::test]
async fn the_managed_bucket_is_found_or_created() {
    let root = moto::root().await;
    let bucket = "dpipe-managed-fresh";
    let err = ensure_managed_bucket(&root, bucket, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        err.message().contains(&format!(
            "managed bucket {bucket} does not exist at {}",
            moto::moto().url
        )),
        "{err}"
    );
    assert!(!moto::bucket_exists(bucket).await);
    assert_eq!(
        ensure_managed_bucket(&root, bucket, true).await.unwrap(),
        BucketCheck::Created
    );
    assert!(moto::bucket_exists(bucket).await);
    for create in [true, false] {
        assert_eq!(
            ensure_managed_bucket(&root, bucket, create).await.unwrap(),
            BucketCheck::Existed
        );
    }

    for bad in ["", "ab", "a/b", "b?x", "b*"] {
        let err = ensure_managed_bucket(&root, bad, true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}: {err}");
    }
}

#[tokio::test]
async fn the_bucket_check_names_the_missing_permission() {
    let (keys, _) = user(
        "sts-list-only",
        json!([{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]),
    )
    .await;
    let session = moto::session(&keys).await;
    let err = ensure_managed_bucket(&session, "dpipe-managed-not-made", true)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(err.message().contains("need s3:CreateBucket"), "{err}");
    assert!(!moto::bucket_exists("dpipe-managed-not-made").await);

    let (keys, _) = user(
        "sts-no-s3",
        json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]),
    )
    .await;
    let session = moto::session(&keys).await;
    fixture().await;
    let err = ensure_managed_bucket(&session, BUCKET, false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AccessDenied, "{err}");
    assert!(err.message().contains("need s3:ListBucket"), "{err}");
}
