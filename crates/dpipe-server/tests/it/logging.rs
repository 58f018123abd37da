//! The request log of a real server process (`init_logging`, `RUST_LOG=info`): one line per
//! request with method, path without query, status, latency and user — and no token,
//! password or credential anywhere in the log.

use std::time::Duration;

use serde_json::json;

use crate::child::ChildServer;
use crate::raw_http::{Call, D6t};

#[test]
fn one_line_per_request_and_no_secrets() {
    let temp = tempfile::tempdir().unwrap();
    let mut server = ChildServer::start(&temp.path().join("data"));
    let user = D6t::register(server.addr, "logger");
    let token = user.token.clone().unwrap();
    let creds =
        json!({"aws_access_key_id": "AKIALOGGED", "aws_secret_access_key": "secret-logged"});
    let pipe =
        json!({"name": "logged", "protocol": "s3", "location": "bucket-l", "credentials": creds});
    user.post("pipes", &pipe).expect(201);
    user.get("pipes/logged/credentials?renew=True&role=read")
        .expect(200);
    user.post(
        "accounts/token",
        &json!({"username": "logger", "password": "wrong-password"}),
    )
    .expect(400);
    Call::new("GET", "/v1/api/nothing/?secret=query-secret")
        .send(server.addr)
        .expect(404);
    D6t {
        addr: server.addr,
        token: Some("f".repeat(40)),
    }
    .get("pipes")
    .expect(401);
    server.terminate();
    assert!(server.wait(Duration::from_secs(10)).success());

    let log = server.log();
    let requests: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(" request "))
        .collect();
    assert_eq!(requests.len(), 6, "one line per request:\n{log}");
    let expected = [
        "method=POST path=/v1/api/accounts/ status=201",
        "method=POST path=/v1/api/pipes/ status=201",
        "method=GET path=/v1/api/pipes/logged/credentials/ status=200",
        "method=POST path=/v1/api/accounts/token/ status=400",
        "method=GET path=/v1/api/nothing/ status=404",
        "method=GET path=/v1/api/pipes/ status=401",
    ];
    for (line, expected) in requests.iter().zip(expected) {
        assert!(line.contains(expected), "{line:?} lacks {expected:?}");
        assert!(line.contains("latency_ms="), "{line}");
    }
    assert!(requests[0].ends_with("user=-"), "{}", requests[0]);
    assert!(requests[1].ends_with("user=logger"), "{}", requests[1]);
    assert!(requests[2].ends_with("user=logger"), "{}", requests[2]);
    for secret in [
        token.as_str(),
        "pw-123456",
        "wrong-password",
        "AKIALOGGED",
        "secret-logged",
        "query-secret",
        "renew",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
}
