//! Failed logins are rate-limited per username and per source address (the registry's
//! `login_limit`), judged by the server's clock: 429 with the wait in seconds, even for the
//! right password, until the window passes; a successful login forgets the username's
//! failures; other users are unaffected.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use chrono::TimeDelta;
use dpipe_client::{ErrorKind, HttpApi};
use dpipe_testkit::server::TestServer;
use dpipe_testkit::suite::expect_err;

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

fn refused(api: &HttpApi, username: &str, seconds: u32) {
    let err = expect_err(
        api.login(username, RIGHT),
        ErrorKind::TooManyRequests,
        "Too many failed logins",
    );
    assert_eq!(
        err.message(),
        format!("Too many failed logins; try again in {seconds} seconds.")
    );
}

#[test]
fn five_failures_lock_the_username_until_the_window_passes() {
    let server = TestServer::start();
    let api = anonymous(&server);
    api.register("victim", "victim@example.com", RIGHT).unwrap();
    api.register("bystander", "by@example.com", RIGHT).unwrap();
    for _ in 0..5 {
        fail(&api, "victim");
    }
    refused(&api, "victim", 900);
    refused(&api, "victim", 900);
    api.login("bystander", RIGHT).unwrap();
    server.clock.advance(TimeDelta::minutes(14));
    refused(&api, "victim", 60);
    server.clock.advance(TimeDelta::seconds(59));
    refused(&api, "victim", 1);
    server.clock.advance(TimeDelta::seconds(1));
    api.login("victim", RIGHT).unwrap();
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
    refused(&api, "forgetful", 900);
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
    refused(&api, "innocent", 881);
    server.clock.advance(TimeDelta::seconds(881));
    api.login("innocent", RIGHT).unwrap();
}

#[test]
fn the_429_answer_is_ascii_json() {
    let server = TestServer::start();
    let api = anonymous(&server);
    api.register("plain", "plain@example.com", RIGHT).unwrap();
    for _ in 0..5 {
        fail(&api, "plain");
    }
    let (head, body) = post(
        server.addr,
        "/v1/api/accounts/token/",
        r#"{"username": "plain", "password": "right-password"}"#,
    );
    assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(body.is_ascii(), "{body:?}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"detail": "Too many failed logins; try again in 900 seconds."})
    );
    assert!(!String::from_utf8_lossy(&body).contains(RIGHT));
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
