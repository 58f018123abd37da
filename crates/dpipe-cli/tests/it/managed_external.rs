//! Managed pipes on external storage end to end: `dpipe serve --external-storage` against moto
//! with IAM enforcement on, the server calling STS with an IAM user's keys from its
//! environment, and the CLI as an owner and a reader; and the wrong calls of the external mode,
//! each refused at start.
//!
//! What moto 5.2.5 cannot show (see `dpipe-provision/tests/it/sts.rs` for the reading of its
//! source): it stores the session policy of an `AssumeRole` but checks requests against the
//! role's own policies only, so credentials handed to a reader could write on moto. The
//! narrowing is therefore proven in two halves: the repo API refuses write credentials to a
//! reader (exit 4), and moto's record of every `AssumeRole` carries exactly the session policy
//! `dpipe_core::session_policy` writes for that pipe and role (pinned by its golden files).

use std::io::{Read, Write};
use std::net::TcpStream;

use dpipe_core::managed::Scope;
use dpipe_core::role::Access;
use dpipe_core::session_policy::session_policy;
use dpipe_provision::AccessKeyPair;
use dpipe_testkit::moto::{self, closed_port};
use serde_json::{Value, json};

use crate::managed::{repo, transferred, write_dataset};
use crate::moto_proxy::MotoProxy;
use crate::serve_process::ServeProcess;
use crate::support::{Env, server_user};

const BUCKET: &str = "dpipe-managed";

/// A runtime for the AWS SDK calls that set moto up (the tests themselves are synchronous).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A new IAM user `name` with an inline policy of `statements`: its keys and ARN.
async fn user(name: &str, statements: Value) -> (AccessKeyPair, String) {
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    moto::user_with_policy(name, "dpipe-server", &policy).await
}

/// What the server's identity needs: assume the role, and find or create the managed bucket.
fn server_rights(bucket: &str) -> Value {
    json!([
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:CreateBucket"],
         "Resource": format!("arn:aws:s3:::{bucket}")},
    ])
}

/// A role `name` that `trusted` may assume and that may use all of `bucket`: on AWS the session
/// policy of each handout narrows it to one pipe's folder and role. moto never applies session
/// policies, so there the credentials reach the whole bucket — what the repo API hands out and
/// what STS recorded are checked instead (see the module doc). Returns its ARN.
async fn role(name: &str, trusted: &[&str], bucket: &str) -> String {
    let root = moto::root().await;
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}]});
    let created = root
        .iam()
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": format!("arn:aws:s3:::{bucket}")},
        {"Effect": "Allow",
         "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
         "Resource": format!("arn:aws:s3:::{bucket}/*")},
    ]});
    root.iam()
        .put_role_policy()
        .role_name(name)
        .policy_name("managed-bucket")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap();
    created.role().unwrap().arn().to_owned()
}

/// The flags of `dpipe serve` on external storage at moto with `role_arn`, `bucket`, `lifetime`.
fn external_flags<'a>(
    url: &'a str,
    role_arn: &'a str,
    bucket: &'a str,
    lifetime: &'a str,
) -> Vec<&'a str> {
    vec![
        "--external-storage",
        "--external-endpoint",
        url,
        "--external-region",
        "us-east-1",
        "--external-role-arn",
        role_arn,
        "--managed-bucket",
        bucket,
        "--key-lifetime",
        lifetime,
    ]
}

/// The server's environment: `keys` as its AWS identity.
fn identity(keys: &AccessKeyPair) -> [(&str, &str); 2] {
    [
        ("AWS_ACCESS_KEY_ID", keys.aws_access_key_id.as_str()),
        ("AWS_SECRET_ACCESS_KEY", keys.secret()),
    ]
}

/// moto's record of the `AssumedRole`s of STS (its `/moto-api/data.json`).
fn assumed_roles() -> Vec<Value> {
    let host = moto::moto().url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&host).unwrap();
    write!(
        stream,
        "GET /moto-api/data.json HTTP/1.0\r\nHost: {host}\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (_, body) = answer.split_once("\r\n\r\n").unwrap();
    let data: Value = serde_json::from_str(body).unwrap_or_else(|e| {
        panic!(
            "moto's data.json ({e}): {}",
            &answer[..answer.len().min(3000)]
        )
    });
    data["sts"]["AssumedRole"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// What STS recorded of the role session of `access_key_id`.
fn assumed_role(access_key_id: &str) -> Value {
    assumed_roles()
        .into_iter()
        .find(|r| r["access_key_id"] == access_key_id)
        .unwrap_or_else(|| panic!("moto knows no role session with key {access_key_id}"))
}

/// Checks `user`'s credentials for `demo` (`--write` when `access` is write): an STS session
/// for `endpoint` whose `AssumeRole` carried exactly the session policy of ann's pipe and
/// `access`.
#[track_caller]
fn check_sts_credentials(
    user: &Env,
    name: &str,
    access: Access,
    role_arn: &str,
    endpoint: &str,
) -> Value {
    let mut args = vec!["pipe", "credentials", "demo"];
    if access == Access::Write {
        args.push("--write");
    }
    let creds = user.json(&args);
    assert_eq!(creds["endpoint_url"], endpoint, "{creds}");
    let key_id = creds["aws_access_key_id"].as_str().expect("a key id");
    assert!(
        !creds["aws_session_token"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "an STS session token: {creds}"
    );
    let recorded = assumed_role(key_id);
    let scope = Scope {
        bucket: BUCKET.into(),
        prefix: "ann/demo/".into(),
        access,
    };
    assert_eq!(
        recorded["policy"].as_str(),
        Some(session_policy(&scope).unwrap().as_str()),
        "{name}'s {access:?} session"
    );
    assert_eq!(recorded["role_arn"], role_arn);
    assert_eq!(recorded["session_name"], format!("dpipe-{name}-demo"));
    creds
}

#[test]
fn managed_pipes_on_external_s3_are_shared_with_sts_credentials() {
    let rt = runtime();
    // moto, behind the proxy the dpipe client needs there (see `moto_proxy`).
    let proxy = MotoProxy::start(&moto::moto().url);
    let url = proxy.url.clone();
    let (admin, admin_arn) = rt.block_on(user("dpipe-server", server_rights(BUCKET)));
    let role_arn = rt.block_on(role("dpipe-managed", &[&admin_arn], BUCKET));
    assert!(!rt.block_on(moto::bucket_exists(BUCKET)));

    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start_with_env(
        data.path(),
        &external_flags(&url, &role_arn, BUCKET, "15m"),
        &identity(&admin),
    );
    assert_eq!(server.storage_url, None, "no built-in object store");
    assert!(
        rt.block_on(moto::bucket_exists(BUCKET)),
        "the server made the bucket"
    );
    assert!(server.log().contains(&admin_arn), "{}", server.log());
    // The check at start: a role session whose policy allows nothing.
    let start_check = assumed_roles()
        .into_iter()
        .find(|r| r["session_name"] == "dpipe-start-check")
        .expect("a check at start");
    assert!(start_check["policy"].as_str().unwrap().contains("\"Deny\""));

    let ann = server_user(&server.url, "ann");
    let view = ann.json(&["pipe", "create", "demo"]);
    assert_eq!(view["protocol"], "s3");
    assert_eq!(
        view["options"]["remotepath"],
        "s3://dpipe-managed/ann/demo/"
    );

    // What STS was asked, read before any object exists: moto's data API then fails on its
    // own S3 records (`MissingBucket` while it serializes uploaded keys).
    let bob = server_user(&server.url, "bob");
    ann.ok(&["perm", "grant", "demo", "--user", "bob", "--role", "read"]);
    let write = check_sts_credentials(&ann, "ann", Access::Write, &role_arn, &url);
    check_sts_credentials(&ann, "ann", Access::Read, &role_arn, &url);
    check_sts_credentials(&bob, "bob", Access::Read, &role_arn, &url);

    let files = write_dataset(&repo(&ann, "demo"));
    assert_eq!(transferred(&ann.json(&["push", "--pipe", "demo"])), 3);
    assert_eq!(transferred(&ann.json(&["push", "--pipe", "demo"])), 0);
    let listed = ann.json(&["scan", "remote", "--pipe", "demo"]);
    assert_eq!(
        listed["files"].as_array().map(Vec::len),
        Some(3),
        "{listed}"
    );

    // The reader pulls every byte, gets no write credentials, and cannot push.
    assert_eq!(transferred(&bob.json(&["pull", "--pipe", "demo"])), 3);
    for (path, bytes) in &files {
        assert_eq!(
            &std::fs::read(repo(&bob, "demo").join(path)).unwrap(),
            bytes,
            "{path}"
        );
    }
    bob.fails(&["pipe", "credentials", "demo", "--write"], 4, "permission");
    std::fs::write(repo(&bob, "demo").join("mine.csv"), "bob's").unwrap();
    bob.fails(&["push", "--pipe", "demo"], 4, "read");

    // Revoked: no new credentials for bob, at once. STS credentials issued before the
    // revocation cannot be recalled: they work until their expiry, at most --key-lifetime
    // (and never less than STS's 15 minutes).
    ann.ok(&["perm", "revoke", "demo", "--user", "bob"]);
    bob.fails(&["pipe", "credentials", "demo"], 4, "permission");
    bob.fails(&["pull", "--pipe", "demo"], 4, "permission");

    for secret in ["aws_secret_access_key", "aws_session_token"] {
        let value = write[secret].as_str().expect("a secret");
        assert!(!server.log().contains(value), "{secret} in the server log");
    }
}

#[test]
fn wrong_calls_of_external_storage_fail_at_start_and_leave_nothing() {
    let rt = runtime();
    let url = moto::moto().url.clone();
    let (admin, admin_arn) =
        rt.block_on(user("dpipe-server", server_rights("dpipe-managed-wrong-*")));
    let (no_sts, _) = rt.block_on(user(
        "no-sts",
        json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]),
    ));
    let (no_s3, no_s3_arn) = rt.block_on(user(
        "no-s3",
        json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]),
    ));
    let (no_create, no_create_arn) = rt.block_on(user(
        "no-create",
        json!([{"Effect": "Allow", "Action": ["sts:AssumeRole", "s3:ListBucket"],
                "Resource": "*"}]),
    ));
    let (untrusted, _) = rt.block_on(user("untrusted", server_rights("*")));
    let role_arn = rt.block_on(role(
        "dpipe-managed",
        &[&admin_arn, &no_s3_arn, &no_create_arn],
        "dpipe-managed-wrong-*",
    ));
    let nobody = AccessKeyPair::new("AKIANOBODY", "not-a-secret-moto-knows");
    let closed = format!("http://127.0.0.1:{}", closed_port());

    // Each wrong start exits 1 saying `says`, before the data folder or the bucket is made.
    let folder = tempfile::tempdir().unwrap();
    let mut tried = 0;
    let mut refused = |what: &str,
                       endpoint: &str,
                       role: &str,
                       lifetime: &str,
                       keys: &AccessKeyPair,
                       says: &[&str]| {
        tried += 1;
        let bucket = format!("dpipe-managed-wrong-{tried}");
        let data = folder.path().join(format!("data-{tried}"));
        let (code, stderr) = ServeProcess::refused(
            &data,
            &external_flags(endpoint, role, &bucket, lifetime),
            &identity(keys),
        );
        assert_eq!(code, 1, "{what}: {stderr}");
        for text in ["error: external managed storage: "].iter().chain(says) {
            assert!(stderr.contains(text), "{what}: no {text:?} in {stderr}");
        }
        assert!(
            !stderr.contains(keys.secret()),
            "{what}: a secret in {stderr}"
        );
        assert!(!stderr.contains("listening on"), "{what}: {stderr}");
        assert!(!data.exists(), "{what}: the data folder was made");
        let made = rt.block_on(moto::bucket_exists(&bucket));
        assert!(!made, "{what}: the bucket was made");
    };
    let unreachable = format!("cannot reach STS at {closed}");
    refused(
        "no moto",
        &closed,
        &role_arn,
        "15m",
        &admin,
        &[&unreachable],
    );
    let says = ["server's AWS identity", "InvalidClientTokenId"];
    refused("unknown keys", &url, &role_arn, "15m", &nobody, &says);
    let says = ["cannot get credentials", "AccessDenied", "sts:AssumeRole"];
    refused("no sts:AssumeRole", &url, &role_arn, "15m", &no_sts, &says);
    let says = ["cannot get credentials", "AccessDenied", &role_arn];
    refused("not trusted", &url, &role_arn, "15m", &untrusted, &says);
    let says = ["need s3:ListBucket"];
    refused("no s3:ListBucket", &url, &role_arn, "15m", &no_s3, &says);
    let says = ["need s3:CreateBucket"];
    refused(
        "no s3:CreateBucket",
        &url,
        &role_arn,
        "15m",
        &no_create,
        &says,
    );
    let says = ["invalid role ARN \"dpipe-role\""];
    refused(
        "malformed role ARN",
        &url,
        "dpipe-role",
        "15m",
        &admin,
        &says,
    );
    // STS would stretch 5 minutes to 15: refused rather than silently raised.
    let says = ["--key-lifetime 300 s is shorter than STS's minimum of 15 minutes"];
    refused("lifetime below 15m", &url, &role_arn, "5m", &admin, &says);

    // The admin's keys, right flags: it starts.
    let data = folder.path().join("data");
    let server = ServeProcess::start_with_env(
        &data,
        &external_flags(&url, &role_arn, "dpipe-managed-wrong-ok", "15m"),
        &identity(&admin),
    );
    assert!(rt.block_on(moto::bucket_exists("dpipe-managed-wrong-ok")));
    drop(server);
}
