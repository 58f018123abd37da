//! One log line per request, with the operation, key, status and access key id, control
//! characters escaped, and no secret, session token or signature.

use std::time::Duration;

use crate::support::*;

async fn lines_with(needle: &str) -> Vec<String> {
    for _ in 0..100 {
        let found: Vec<String> = logs()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect();
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Vec::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_is_logged_without_secrets() {
    let server = Server::start().await;
    let key = Key::new("logged-key", "", true).with_token("session-token-value");
    let c = server.client_for(&key);
    put(&c, "log/line\nbreak", b"12345".to_vec()).await;
    let lines = lines_with("logged-key").await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    for want in [
        "PutObject",
        "PUT",
        "status=200",
        "bytes_in=5",
        "managed",
        "log/line\\nbreak",
    ] {
        assert!(line.contains(want), "{want:?} in {line}");
    }
    let _ = c
        .get_object()
        .bucket(BUCKET)
        .key("missing-key-for-log\u{1b}[31m")
        .send()
        .await;
    let lines = lines_with("missing-key-for-log").await;
    assert!(
        lines[0].contains("status=404") && lines[0].contains("GetObject"),
        "{lines:?}"
    );
    assert!(
        lines[0].contains("missing-key-for-log\\u{1b}[31m"),
        "escaped: {lines:?}"
    );

    // A presigned URL's query (a credential) is never logged.
    let presigned = c
        .get_object()
        .bucket(BUCKET)
        .key("log/presigned")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(60)).unwrap(),
        )
        .await
        .unwrap();
    let target = presigned
        .uri()
        .split_once(&server.endpoint)
        .unwrap()
        .1
        .to_owned();
    let (status, _) = send_raw(
        server.addr,
        Raw {
            method: "GET",
            target: &target,
            headers: vec![],
            body: Vec::new(),
            sign_as: None,
            payload: None,
        },
    )
    .await;
    assert_eq!(status, 404, "signed by the URL, then NoSuchKey");
    assert!(!lines_with("log/presigned").await.is_empty());

    // A request refused before the access check is logged with the path's bucket and key.
    let forged = client(&server.endpoint, "logged-key", "wrong-secret", None);
    let _ = forged
        .get_object()
        .bucket(BUCKET)
        .key("forged-key-for-log")
        .send()
        .await;
    let lines = lines_with("forged-key-for-log").await;
    assert!(
        lines[0].contains("status=403") && lines[0].contains("managed"),
        "{lines:?}"
    );

    let all = logs();
    for secret in [
        "secret-of-",
        "session-token-value",
        "Signature=",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ] {
        assert!(!all.contains(secret), "{secret:?} leaked into the log");
    }
}
