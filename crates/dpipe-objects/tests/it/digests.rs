//! Bodies checked against the digests sent with them: Content-MD5, x-amz-checksum-*
//! headers, the checksum trailer of an aws-chunked body (what boto3 1.36+ sends), and a
//! signed payload hash. A mismatch is BadDigest and nothing is stored.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use base64::Engine as _;
use md5::Digest as _;
use s3s::crypto::Checksum as _;

use crate::support::*;

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn crc32c(data: &[u8]) -> String {
    b64(&s3s::crypto::Crc32c::checksum(data))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_checksums_are_checked_and_accepted() {
    let server = Server::start().await;
    let c = server.admin();
    let data = bytes(2 * 1024 * 1024 + 5, 3);
    for algorithm in [
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("sum/{algorithm:?}");
        let out = c
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .checksum_algorithm(algorithm.clone())
            .body(ByteStream::from(data.clone()))
            .send()
            .await
            .unwrap();
        assert!(out.e_tag().is_some());
        assert_eq!(get(&c, &key).await, data, "{algorithm:?}");
    }
    let out = c
        .put_object()
        .bucket(BUCKET)
        .key("sum/explicit")
        .checksum_crc32_c(crc32c(&data))
        .content_md5(b64(&md5::Md5::digest(&data)))
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.checksum_crc32_c(), Some(crc32c(&data).as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_digest_is_bad_digest_and_stores_nothing() {
    let server = Server::start().await;
    let c = server.admin();
    let data = b"the bytes that were sent".to_vec();
    let other = b"some other bytes entirely".to_vec();
    let err = c
        .put_object()
        .bucket(BUCKET)
        .key("md5")
        .content_md5(b64(&md5::Md5::digest(&other)))
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "BadDigest");
    let err = c
        .put_object()
        .bucket(BUCKET)
        .key("crc")
        .checksum_crc32_c(crc32c(&other))
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "BadDigest");
    let err = c
        .put_object()
        .bucket(BUCKET)
        .key("bad-md5")
        .content_md5("not-base64-of-16-bytes")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "InvalidDigest");
    // A part too.
    let id = c
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    let err = c
        .upload_part()
        .bucket(BUCKET)
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .checksum_crc32_c(crc32c(&other))
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "BadDigest");
    assert!(keys(&c, "").await.is_empty());
    assert_eq!(server.blob_count(), 0);
    assert_eq!(server.tmp_count(), 0);
}

/// An aws-chunked body with an unsigned payload and a CRC32C trailer, as boto3 1.36+ and
/// the AWS SDKs send it.
fn chunked_with_trailer(data: &[u8], trailer_crc: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for chunk in data.chunks(64 * 1024) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("0\r\nx-amz-checksum-crc32c:{trailer_crc}\r\n\r\n").as_bytes());
    body
}

async fn put_chunked(server: &Server, key: &str, data: &[u8], crc: &str) -> (u16, String) {
    send_raw(
        server.addr,
        Raw {
            method: "PUT",
            target: &format!("/{BUCKET}/{key}"),
            headers: vec![
                ("content-encoding".into(), "aws-chunked".into()),
                (
                    "x-amz-decoded-content-length".into(),
                    data.len().to_string(),
                ),
                ("x-amz-trailer".into(), "x-amz-checksum-crc32c".into()),
            ],
            body: chunked_with_trailer(data, crc),
            sign_as: Some(("admin", "secret-of-admin")),
            payload: Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_payload_with_a_checksum_trailer() {
    let server = Server::start().await;
    let c = server.admin();
    let data = bytes(200_000, 9);
    let (status, answer) = put_chunked(&server, "trailer/good", &data, &crc32c(&data)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(get(&c, "trailer/good").await, data);
    let listed = c.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(
        listed.contents()[0].e_tag(),
        Some(format!("\"{}\"", md5_hex(&data)).as_str())
    );

    let (status, answer) = put_chunked(&server, "trailer/bad", &data, &crc32c(b"other")).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("<Code>BadDigest</Code>"), "{answer}");
    assert_eq!(keys(&c, "").await, ["trailer/good"]);
    assert_eq!(server.blob_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_payload_hash_that_does_not_match_stores_nothing() {
    let server = Server::start().await;
    let c = server.admin();
    let wrong = hex::encode(sha2::Sha256::digest(b"not the body"));
    let (status, answer) = send_raw(
        server.addr,
        Raw {
            method: "PUT",
            target: &format!("/{BUCKET}/signed"),
            headers: vec![],
            body: b"the body".to_vec(),
            sign_as: Some(("admin", "secret-of-admin")),
            payload: Some(&wrong),
        },
    )
    .await;
    assert!(status == 400 || status == 403, "{answer}");
    assert!(keys(&c, "").await.is_empty());
    assert_eq!(server.blob_count(), 0);
    // The same request with the right hash works (the signer is right).
    let (status, answer) = send_raw(
        server.addr,
        Raw {
            method: "PUT",
            target: &format!("/{BUCKET}/signed"),
            headers: vec![],
            body: b"the body".to_vec(),
            sign_as: Some(("admin", "secret-of-admin")),
            payload: None,
        },
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(get(&c, "signed").await, b"the body");
}
