//! An object is visible only once whole: not while its bytes are arriving, not after the
//! client hung up half-way; and a download in progress keeps the version it started with.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

fn slow_put<'a>(key: &'a str, body: &'a [u8]) -> Raw<'a> {
    Raw {
        method: "PUT",
        target: key,
        headers: vec![],
        body: body.to_vec(),
        sign_as: Some(("admin", "secret-of-admin")),
        payload: Some("UNSIGNED-PAYLOAD"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_is_invisible_while_its_upload_is_in_flight() {
    let server = Server::start().await;
    let c = server.admin();
    let body = bytes(3 * 1024 * 1024, 11);
    let target = format!("/{BUCKET}/slow");
    let raw = slow_put(&target, &body);
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(&request_head(server.addr, &raw))
        .await
        .unwrap();
    let (first, rest) = body.split_at(2 * 1024 * 1024 + 100);
    stream.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(keys(&c, "").await.is_empty(), "not listed half-way");
    let err = c
        .head_object()
        .bucket(BUCKET)
        .key("slow")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&err), 404);
    stream.write_all(rest).await.unwrap();
    let (code, answer) = read_answer(&mut stream).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(keys(&c, "").await, ["slow"]);
    assert_eq!(get(&c, "slow").await, body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_hanging_up_half_way_leaves_nothing() {
    let server = Server::start().await;
    let body = bytes(3 * 1024 * 1024, 12);
    let target = format!("/{BUCKET}/cut");
    let raw = slow_put(&target, &body);
    {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(&request_head(server.addr, &raw))
            .await
            .unwrap();
        stream.write_all(&body[..1_500_000]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..50 {
        if server.tmp_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.tmp_count(), 0, "the temp file is removed");
    assert_eq!(server.blob_count(), 0);
    assert!(keys(&server.admin(), "").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_keeps_its_version_through_an_overwrite() {
    let server = Server::start().await;
    let c = server.admin();
    let old = bytes(6 * 1024 * 1024, 13);
    put(&c, "v", old.clone()).await;
    // Read the start of the old version, overwrite, read the rest.
    let target = format!("/{BUCKET}/v");
    let raw = Raw {
        method: "GET",
        target: &target,
        headers: vec![],
        body: Vec::new(),
        sign_as: Some(("admin", "secret-of-admin")),
        payload: None,
    };
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(&request_head(server.addr, &raw))
        .await
        .unwrap();
    let mut start = vec![0; 64 * 1024];
    stream.read_exact(&mut start).await.unwrap();
    put(&c, "v", b"new version".to_vec()).await;
    assert_eq!(get(&c, "v").await, b"new version");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    start.extend_from_slice(&rest);
    let text = String::from_utf8_lossy(&start[..200]).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let at = start.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(start.len() - at, old.len());
    assert!(start[at..] == old[..], "the old version, whole");
    // The old blob goes once its reader is done.
    for _ in 0..50 {
        if server.blob_count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.blob_count(), 1);
}
