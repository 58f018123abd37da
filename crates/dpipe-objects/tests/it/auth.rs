//! The gate at work: signatures, unknown and expired keys, session tokens, prefixes, roles,
//! refused operations — each refusal leaves the store as it was.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::support::*;

async fn try_put(c: &aws_sdk_s3::Client, key: &str) -> Result<(), String> {
    c.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from_static(b"payload"))
        .send()
        .await
        .map(drop)
        .map_err(code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_an_unknown_key_stores_nothing() {
    let server = Server::start().await;
    let wrong = client(&server.endpoint, "admin", "not-the-secret", None);
    assert_eq!(
        try_put(&wrong, "k").await,
        Err("SignatureDoesNotMatch".into())
    );
    let err = wrong
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "SignatureDoesNotMatch");
    let unknown = client(&server.endpoint, "nobody", "whatever", None);
    assert_eq!(
        try_put(&unknown, "k").await,
        Err("InvalidAccessKeyId".into())
    );
    assert!(keys(&server.admin(), "").await.is_empty());
    assert_eq!(server.blob_count(), 0);
    assert_eq!(server.tmp_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_refused_at_the_next_request() {
    let server = Server::start().await;
    let key = Key::new("temp", "", true);
    let c = server.client_for(&key);
    try_put(&c, "before").await.unwrap();
    key.expire();
    assert_eq!(try_put(&c, "after").await, Err("ExpiredToken".into()));
    let err = c
        .get_object()
        .bucket(BUCKET)
        .key("before")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "ExpiredToken");
    assert_eq!(keys(&server.admin(), "").await, ["before"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_token_must_belong_to_the_key() {
    let server = Server::start().await;
    let key = Key::new("session", "", true).with_token("the-token");
    server.gate.add(key.clone());
    let good = client(&server.endpoint, &key.id, &key.secret, Some("the-token"));
    try_put(&good, "ok").await.unwrap();
    let none = client(&server.endpoint, &key.id, &key.secret, None);
    assert_eq!(
        try_put(&none, "no-token").await,
        Err("InvalidAccessKeyId".into())
    );
    let other = client(
        &server.endpoint,
        &key.id,
        &key.secret,
        Some("another-token"),
    );
    assert_eq!(
        try_put(&other, "bad-token").await,
        Err("InvalidAccessKeyId".into())
    );
    assert_eq!(keys(&server.admin(), "").await, ["ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reaches_only_its_prefix_and_its_role() {
    let server = Server::start().await;
    let admin = server.admin();
    put(&admin, "ann/pipe/a.csv", b"a".to_vec()).await;
    put(&admin, "bob/pipe/b.csv", b"b".to_vec()).await;
    let reader = server.client_for(&Key::new("reader", "ann/pipe/", false));
    let writer = server.client_for(&Key::new("writer", "ann/pipe/", true));

    assert_eq!(get(&reader, "ann/pipe/a.csv").await, b"a");
    assert_eq!(keys(&reader, "ann/pipe/").await, ["ann/pipe/a.csv"]);
    let err = reader
        .get_object()
        .bucket(BUCKET)
        .key("bob/pipe/b.csv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "AccessDenied");
    for prefix in ["", "ann/", "bob/pipe/"] {
        let err = reader
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix(prefix)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(err), "AccessDenied", "listing {prefix:?}");
        let err = reader
            .list_objects()
            .bucket(BUCKET)
            .prefix(prefix)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(err), "AccessDenied", "v1 listing {prefix:?}");
    }
    // A read key cannot write or delete.
    assert_eq!(
        try_put(&reader, "ann/pipe/new.csv").await,
        Err("AccessDenied".into())
    );
    let err = reader
        .delete_object()
        .bucket(BUCKET)
        .key("ann/pipe/a.csv")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "AccessDenied");
    let err = reader
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("ann/pipe/m")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "AccessDenied");
    // A write key writes inside its prefix only.
    try_put(&writer, "ann/pipe/new.csv").await.unwrap();
    assert_eq!(
        try_put(&writer, "bob/pipe/evil.csv").await,
        Err("AccessDenied".into())
    );
    assert_eq!(
        try_put(&writer, "ann/pipe2/x").await,
        Err("AccessDenied".into())
    );
    // DeleteObjects is checked key by key: one key outside refuses the lot.
    let ids = ["ann/pipe/a.csv", "bob/pipe/b.csv"]
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect();
    let err = writer
        .delete_objects()
        .bucket(BUCKET)
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "AccessDenied");
    assert_eq!(
        keys(&admin, "").await,
        ["ann/pipe/a.csv", "ann/pipe/new.csv", "bob/pipe/b.csv"]
    );
    assert_eq!(server.blob_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_operations_and_unsupported_ones_are_refused() {
    let server = Server::start().await;
    let c = server.admin();
    let err = c
        .create_bucket()
        .bucket("new-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "AccessDenied");
    let err = c.delete_bucket().bucket(BUCKET).send().await.unwrap_err();
    assert_eq!(code(err), "AccessDenied");
    let err = c.list_buckets().send().await.unwrap_err();
    assert_eq!(code(err), "AccessDenied");
    put(&c, "src", b"x".to_vec()).await;
    let err = c
        .copy_object()
        .bucket(BUCKET)
        .key("dst")
        .copy_source(format!("{BUCKET}/src"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NotImplemented");
    let err = c.get_bucket_acl().bucket(BUCKET).send().await.unwrap_err();
    assert_eq!(code(err), "NotImplemented");
    let err = c
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NotImplemented");
    assert_eq!(keys(&c, "").await, ["src"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_are_refused() {
    let server = Server::start().await;
    for (method, target) in [
        ("GET", format!("/{BUCKET}?list-type=2")),
        ("PUT", format!("/{BUCKET}/anon")),
        ("GET", format!("/{BUCKET}/anon")),
        ("GET", "/".to_owned()),
    ] {
        let (status, answer) = send_raw(
            server.addr,
            Raw {
                method,
                target: &target,
                headers: vec![],
                body: if method == "PUT" {
                    b"x".to_vec()
                } else {
                    Vec::new()
                },
                sign_as: None,
                payload: None,
            },
        )
        .await;
        assert_eq!(status, 403, "{method} {target}: {answer}");
        assert!(answer.contains("AccessDenied"), "{answer}");
    }
    assert_eq!(server.blob_count(), 0);
}
