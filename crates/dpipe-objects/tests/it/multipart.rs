//! Multipart uploads: complete (ETag `-N`, byte-identical, ranges across parts), abort,
//! list parts, and the wrong calls.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use md5::Digest as _;

use crate::support::*;

const PART: usize = 5 * 1024 * 1024;

async fn start(c: &aws_sdk_s3::Client, key: &str) -> String {
    c.create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .metadata("sha256", "full-file-hash")
        .content_type("application/octet-stream")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned()
}

async fn part(c: &aws_sdk_s3::Client, key: &str, id: &str, n: i32, data: &[u8]) -> String {
    c.upload_part()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(data.to_vec()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_owned()
}

fn completed(parts: &[(i32, &str)]) -> CompletedMultipartUpload {
    CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build())
                .collect(),
        ))
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_12_mib_upload_in_5_mib_parts() {
    let server = Server::start().await;
    let c = server.admin();
    let data = bytes(12 * 1024 * 1024 + 333, 7);
    let id = start(&c, "big.bin").await;
    let mut etags = Vec::new();
    for (i, chunk) in data.chunks(PART).enumerate() {
        etags.push(part(&c, "big.bin", &id, i as i32 + 1, chunk).await);
    }
    let listed = c
        .list_parts()
        .bucket(BUCKET)
        .key("big.bin")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 3);
    assert_eq!(
        listed.parts()[2].size(),
        Some((data.len() - 2 * PART) as i64)
    );
    // Not visible before completion.
    assert!(keys(&c, "").await.is_empty());

    let refs: Vec<(i32, &str)> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| (i as i32 + 1, e.as_str()))
        .collect();
    let done = c
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key("big.bin")
        .upload_id(&id)
        .multipart_upload(completed(&refs))
        .send()
        .await
        .unwrap();
    let mut digests = Vec::new();
    for chunk in data.chunks(PART) {
        digests.extend_from_slice(&md5::Md5::digest(chunk));
    }
    let want = format!("\"{}-3\"", md5_hex(&digests));
    assert_eq!(done.e_tag(), Some(want.as_str()));
    assert_eq!(get(&c, "big.bin").await, data, "byte-identical");
    let head = c
        .head_object()
        .bucket(BUCKET)
        .key("big.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(head.e_tag(), Some(want.as_str()));
    assert_eq!(
        head.metadata().unwrap().get("sha256").map(String::as_str),
        Some("full-file-hash")
    );
    let listed = c.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(listed.contents()[0].e_tag(), Some(want.as_str()));
    assert_eq!(listed.contents()[0].size(), Some(data.len() as i64));

    // Ranges inside one part and across part boundaries.
    for (a, b) in [
        (PART - 10, PART + 10),
        (0, 2 * PART + 5),
        (2 * PART, data.len() - 1),
        (7, 9),
    ] {
        let out = c
            .get_object()
            .bucket(BUCKET)
            .key("big.bin")
            .range(format!("bytes={a}-{b}"))
            .send()
            .await
            .unwrap();
        let body = out.body.collect().await.unwrap().into_bytes();
        assert_eq!(&body[..], &data[a..=b], "bytes={a}-{b}");
    }
    // No copy: the object is its parts' three blobs.
    assert_eq!(server.blob_count(), 3);
    let err = c
        .list_parts()
        .bucket(BUCKET)
        .key("big.bin")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchUpload", "a completed upload is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completing_with_some_parts_frees_the_others_and_abort_frees_all() {
    let server = Server::start().await;
    let c = server.admin();
    let id = start(&c, "k").await;
    let e1 = part(&c, "k", &id, 1, b"one-").await;
    let _e2 = part(&c, "k", &id, 2, b"two-").await;
    let e3 = part(&c, "k", &id, 3, b"three").await;
    // A part uploaded again replaces the first one.
    let e3b = part(&c, "k", &id, 3, b"THREE").await;
    assert_ne!(e3, e3b);
    assert_eq!(server.blob_count(), 3);
    c.complete_multipart_upload()
        .bucket(BUCKET)
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (3, &e3b)]))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&c, "k").await, b"one-THREE");
    assert_eq!(server.blob_count(), 2);

    let id = start(&c, "gone").await;
    part(&c, "gone", &id, 1, b"abc").await;
    part(&c, "gone", &id, 2, b"def").await;
    assert_eq!(server.blob_count(), 4);
    c.abort_multipart_upload()
        .bucket(BUCKET)
        .key("gone")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(server.blob_count(), 2);
    assert!(!keys(&c, "").await.contains(&"gone".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_multipart_calls() {
    let server = Server::start().await;
    let c = server.admin();
    let err = c
        .upload_part()
        .bucket(BUCKET)
        .key("k")
        .upload_id("no-such-upload")
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchUpload");
    let err = c
        .abort_multipart_upload()
        .bucket(BUCKET)
        .key("k")
        .upload_id("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchUpload");
    let err = c
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key("k")
        .upload_id("nope")
        .multipart_upload(completed(&[(1, "\"00\"")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchUpload");

    let id = start(&c, "k").await;
    let e1 = part(&c, "k", &id, 1, b"abc").await;
    let e2 = part(&c, "k", &id, 2, b"def").await;
    // The upload belongs to its key.
    let err = c
        .upload_part()
        .bucket(BUCKET)
        .key("other")
        .upload_id(&id)
        .part_number(3)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchUpload");
    let cases: [(&[(i32, &str)], &str); 4] = [
        (
            &[(1, &e1), (2, "\"0123456789abcdef0123456789abcdef\"")],
            "InvalidPart",
        ),
        (&[(1, &e1), (4, &e2)], "InvalidPart"),
        (&[(2, &e2), (1, &e1)], "InvalidPartOrder"),
        (&[(1, &e1), (1, &e1)], "InvalidPartOrder"),
    ];
    for (parts, want) in cases {
        let err = c
            .complete_multipart_upload()
            .bucket(BUCKET)
            .key("k")
            .upload_id(&id)
            .multipart_upload(completed(parts))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(err), want, "{parts:?}");
    }
    let err = c
        .upload_part()
        .bucket(BUCKET)
        .key("k")
        .upload_id(&id)
        .part_number(10_001)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "InvalidArgument");
    // Nothing changed: the upload still completes.
    c.complete_multipart_upload()
        .bucket(BUCKET)
        .key("k")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, &e1), (2, &e2)]))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&c, "k").await, b"abcdef");
    assert_eq!(server.blob_count(), 2);
}
