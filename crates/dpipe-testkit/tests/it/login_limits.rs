//! Failed logins are throttled per (username, source address) with growing delays, and per
//! source address (the registry's `login_limit`), judged by the server's clock: 429 with the
//! wait in seconds and `Retry-After`, even for the right password, until the wait is over; a
//! successful login forgets the pair's failures; other users, and the same user from another
//! address, are unaffected.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};

use chrono::TimeDelta;
use dpipe_client::{ErrorKind, HttpApi};
use dpipe_testkit::harness::{Harness, LocalHarness};
use dpipe_testkit::server::TestServer;
use dpipe_testkit::suite::expect_err;
use serde_json::json;

const RIGHT: &str = "right-password";

fn anonymous(server: &TestServer) -> HttpApi {
    HttpApi::new(&server.url, None).unwrap()
}

fn fail(api: &HttpApi, username: &str) {
    expect_err(
        api.login(username, "wrong-password"),
        ErrorKind::Unauthenticated,
        "Unable to log in",
    );
}

fn refused(api: &HttpApi, username: &str, wait: &str) {
    let err = expect_err(
        api.login(username, RIGHT),
        ErrorKind::TooManyRequests,
        "Too many failed logins",
    );
    assert_eq!(
        err.message(),
        format!("Too many failed logins; try again in {wait}.")
    );
}

#[test]
fn failures_beyond_five_wait_growing_delays_not_a_lockout() {
    let server = TestServer::start();
    let api = anonymous(&server);
    api.register("victim", "victim@example.com", RIGHT).unwrap();
    api.register("bystander", "by@example.com", RIGHT).unwrap();
    for _ in 0..5 {
        fail(&api, "victim");
    }
    refused(&api, "victim", "1 second");
    refused(&api, "victim", "1 second");
    api.login("bystander", RIGHT).unwrap();
    let mut wait = 1;
    for _ in 0..12 {
        server.clock.advance(TimeDelta::seconds(wait));
        fail(&api, "victim");
        wait = (wait * 2).min(900);
        refused(&api, "victim", &format!("{wait} seconds"));
    }
    assert_eq!(wait, 900, "the delay is capped at 15 minutes");
    server.clock.advance(TimeDelta::seconds(899));
    refused(&api, "victim", "1 second");
    server.clock.advance(TimeDelta::seconds(1));
    api.login("victim", RIGHT).unwrap();
    // The success forgot the failures: five free ones again.
    for _ in 0..5 {
        fail(&api, "victim");
    }
    refused(&api, "victim", "1 second");
}

#[test]
fn a_successful_login_forgets_the_failures() {
    let server = TestServer::start();
    let api = anonymous(&server);
    api.register("forgetful", "f@example.com", RIGHT).unwrap();
    for _ in 0..4 {
        fail(&api, "forgetful");
    }
    api.login("forgetful", RIGHT).unwrap();
    for _ in 0..4 {
        fail(&api, "forgetful");
    }
    api.login("forgetful", RIGHT).unwrap();
    for _ in 0..5 {
        fail(&api, "forgetful");
    }
    refused(&api, "forgetful", "1 second");
}

/// The test server sees every request from 127.0.0.1, so other addresses are shown on the
/// registry itself, the code the server calls with the client's address.
#[test]
fn a_stranger_does_not_slow_the_owner_from_another_address() {
    let local = LocalHarness::new();
    let registry = local.registry();
    registry
        .register(&json!({"username": "owner", "email": "owner@example.com", "password": RIGHT}))
        .unwrap();
    let stranger: IpAddr = "192.0.2.1".parse().unwrap();
    let home: IpAddr = "198.51.100.7".parse().unwrap();
    let login = |password: &str, source: IpAddr| {
        registry.login(
            &json!({"username": "owner", "password": password}),
            Some(source),
        )
    };
    for _ in 0..5 {
        let refused = login("guess", stranger).unwrap_err();
        assert_eq!(refused.retry_after, None);
    }
    for _ in 0..3 {
        let throttled = login(RIGHT, stranger).unwrap_err();
        assert_eq!(throttled.retry_after, Some(1));
        assert_eq!(
            throttled.error.kind(),
            dpipe_core::ErrorKind::TooManyRequests
        );
    }
    login(RIGHT, home).unwrap();
    assert_eq!(
        login(RIGHT, stranger).unwrap_err().retry_after,
        Some(1),
        "the owner's success does not lift the stranger's wait"
    );
    local.advance(TimeDelta::seconds(1));
    login(RIGHT, stranger).unwrap();
}

#[test]
fn twenty_failures_lock_the_source_address() {
    let server = TestServer::start();
    let api = anonymous(&server);
    api.register("innocent", "i@example.com", RIGHT).unwrap();
    for n in 0..20 {
        server.clock.advance(TimeDelta::seconds(1));
        fail(&api, &format!("guess{n}"));
    }
    // Every request of this test comes from 127.0.0.1; the first failure leaves in 881 s.
    refused(&api, "innocent", "881 seconds");
    server.clock.advance(TimeDelta::seconds(881));
    api.login("innocent", RIGHT).unwrap();
}

#[test]
fn the_429_answer_is_ascii_json_with_retry_after() {
    let server = TestServer::start();
    let api = anonymous(&server);
    api.register("plain", "plain@example.com", RIGHT).unwrap();
    for _ in 0..5 {
        fail(&api, "plain");
    }
    server.clock.advance(TimeDelta::seconds(1));
    fail(&api, "plain");
    let (head, body) = post(
        server.addr,
        "/v1/api/accounts/token/",
        r#"{"username": "plain", "password": "right-password"}"#,
    );
    assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("\r\nretry-after: 2\r\n"), "{head}");
    assert!(body.is_ascii(), "{body:?}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        json!({"detail": "Too many failed logins; try again in 2 seconds."})
    );
    assert!(!String::from_utf8_lossy(&body).contains(RIGHT));
    // A plain wrong password is a 400 without Retry-After.
    let (head, _) = post(
        server.addr,
        "/v1/api/accounts/token/",
        r#"{"username": "nobody", "password": "x"}"#,
    );
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert!(!head.to_ascii_lowercase().contains("retry-after"), "{head}");
}

/// One raw `POST` over TCP: the answer's head (text) and body (bytes).
fn post(addr: SocketAddr, path: &str, body: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer");
    (
        String::from_utf8(answer[..split].to_vec()).unwrap(),
        answer[split + 4..].to_vec(),
    )
}
