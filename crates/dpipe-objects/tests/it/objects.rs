//! Whole objects: put, get, head, delete; metadata; ranges; wrong calls.

use aws_sdk_s3::primitives::ByteStream;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_head_delete_round_trip() {
    let server = Server::start().await;
    let c = server.admin();
    let data = bytes(300_000, 1);
    let etag = put(&c, "dir/a.bin", data.clone()).await;
    assert_eq!(
        etag,
        format!("\"{}\"", md5_hex(&data)),
        "single-part ETag = quoted MD5"
    );
    assert_eq!(get(&c, "dir/a.bin").await, data);

    let head = c
        .head_object()
        .bucket(BUCKET)
        .key("dir/a.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(300_000));
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert!(head.last_modified().is_some());

    c.delete_object()
        .bucket(BUCKET)
        .key("dir/a.bin")
        .send()
        .await
        .unwrap();
    let err = c
        .head_object()
        .bucket(BUCKET)
        .key("dir/a.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 404);
    let err = c
        .get_object()
        .bucket(BUCKET)
        .key("dir/a.bin")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchKey");
    assert_eq!(server.blob_count(), 0, "the deleted object's blob is gone");
    assert_eq!(server.tmp_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_content_type_come_back() {
    let server = Server::start().await;
    let c = server.admin();
    c.put_object()
        .bucket(BUCKET)
        .key("m.csv")
        .content_type("text/csv")
        .metadata("sha256", "abc123")
        .metadata("origin", "dpipe")
        .body(ByteStream::from_static(b"a,b\n1,2\n"))
        .send()
        .await
        .unwrap();
    let head = c
        .head_object()
        .bucket(BUCKET)
        .key("m.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/csv"));
    let meta = head.metadata().unwrap();
    assert_eq!(meta.get("sha256").map(String::as_str), Some("abc123"));
    assert_eq!(meta.get("origin").map(String::as_str), Some("dpipe"));
    let got = c
        .get_object()
        .bucket(BUCKET)
        .key("m.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("text/csv"));
    assert_eq!(
        got.metadata().unwrap().get("sha256").map(String::as_str),
        Some("abc123")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_replaces_the_bytes_and_frees_the_old_blob() {
    let server = Server::start().await;
    let c = server.admin();
    put(&c, "k", b"first version".to_vec()).await;
    let etag = put(&c, "k", b"second".to_vec()).await;
    assert_eq!(get(&c, "k").await, b"second");
    assert_eq!(server.blob_count(), 1);
    let listed = c.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(listed.contents().len(), 1);
    assert_eq!(listed.contents()[0].e_tag(), Some(etag.as_str()));
    assert_eq!(listed.contents()[0].size(), Some(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_objects_and_missing_keys() {
    let server = Server::start().await;
    let c = server.admin();
    let etag = put(&c, "empty", Vec::new()).await;
    assert_eq!(etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
    assert_eq!(get(&c, "empty").await, b"");
    // Deleting a missing key is a success (204), as on S3.
    c.delete_object()
        .bucket(BUCKET)
        .key("never-there")
        .send()
        .await
        .unwrap();
    // A "directory" is not an object: 404, not 500.
    put(&c, "dir/file", b"x".to_vec()).await;
    for key in ["dir", "dir/"] {
        let err = c
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(status(&err), 404, "HEAD {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranged_gets() {
    let server = Server::start().await;
    let c = server.admin();
    let data = bytes(3 * 1024 * 1024 + 17, 2);
    put(&c, "r", data.clone()).await;
    let n = data.len();
    let cases = [
        ("bytes=0-0", 0..1),
        ("bytes=100-199", 100..200),
        ("bytes=1048570-2097200", 1_048_570..2_097_201),
        (&*format!("bytes={}-", n - 10), n - 10..n),
        ("bytes=-5", n - 5..n),
        (&*format!("bytes=10-{}", n + 1000), 10..n),
    ];
    for (range, want) in cases {
        let out = c
            .get_object()
            .bucket(BUCKET)
            .key("r")
            .range(range)
            .send()
            .await
            .unwrap();
        let expected_range = format!("bytes {}-{}/{}", want.start, want.end - 1, n);
        assert_eq!(
            out.content_range(),
            Some(expected_range.as_str()),
            "{range}"
        );
        assert_eq!(out.content_length(), Some((want.end - want.start) as i64));
        let body = out.body.collect().await.unwrap().into_bytes();
        assert_eq!(&body[..], &data[want.clone()], "{range}");
    }
    let err = c
        .get_object()
        .bucket(BUCKET)
        .key("r")
        .range(format!("bytes={n}-"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 416);
    assert_eq!(code(err), "InvalidRange");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_no_such_bucket() {
    let server = Server::start().await;
    let other = Key {
        bucket: "elsewhere".into(),
        ..Key::admin("other")
    };
    let c = server.client_for(&other);
    let err = c
        .put_object()
        .bucket("elsewhere")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchBucket");
    let err = c
        .get_object()
        .bucket("elsewhere")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchBucket");
    let err = c
        .list_objects_v2()
        .bucket("elsewhere")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchBucket");
    let err = c
        .head_bucket()
        .bucket("elsewhere")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 404);
    server
        .admin()
        .head_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(server.blob_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_gets() {
    let server = Server::start().await;
    let c = server.admin();
    let etag = put(&c, "c", b"conditional".to_vec()).await;
    let err = c
        .get_object()
        .bucket(BUCKET)
        .key("c")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 304);
    let err = c
        .get_object()
        .bucket(BUCKET)
        .key("c")
        .if_match("\"0123\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 412);
    c.get_object()
        .bucket(BUCKET)
        .key("c")
        .if_match(&etag)
        .send()
        .await
        .unwrap();
    // If-None-Match: * on a put refuses to overwrite.
    let err = c
        .put_object()
        .bucket(BUCKET)
        .key("c")
        .if_none_match("*")
        .body(ByteStream::from_static(b"other"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "PreconditionFailed");
    assert_eq!(get(&c, "c").await, b"conditional");
    assert_eq!(server.blob_count(), 1, "the refused body left no blob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_objects_answers_per_key() {
    let server = Server::start().await;
    let c = server.admin();
    for k in ["a", "b", "c"] {
        put(&c, k, k.as_bytes().to_vec()).await;
    }
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let ids = ["a", "c", "missing"]
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect();
    let out = c
        .delete_objects()
        .bucket(BUCKET)
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    assert_eq!(deleted, ["a", "c", "missing"]);
    assert!(out.errors().is_empty());
    assert_eq!(keys(&c, "").await, ["b"]);
    assert_eq!(server.blob_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_and_overwrites_leave_one_blob_per_key() {
    let server = Server::start().await;
    let c = server.admin();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            // 8 keys, each written 8 times at once: the commits group, the losers' blobs go.
            let key = format!("same/{}", i % 8);
            put(&c, &key, bytes(10_000 + i, i as u64)).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let listed = c.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(listed.contents().len(), 8);
    for o in listed.contents() {
        let body = get(&c, o.key().unwrap()).await;
        assert_eq!(o.e_tag().unwrap(), format!("\"{}\"", md5_hex(&body)));
    }
    assert_eq!(server.blob_count(), 8);
    assert_eq!(server.tmp_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_delete_objects_is_malformed() {
    let server = Server::start().await;
    let (status, answer) = send_raw(
        server.addr,
        Raw {
            method: "POST",
            target: &format!("/{BUCKET}?delete"),
            headers: vec![],
            body: b"<Delete><Quiet>true</Quiet></Delete>".to_vec(),
            sign_as: Some(("admin", "secret-of-admin")),
            payload: None,
        },
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("MalformedXML"), "{answer}");
}
