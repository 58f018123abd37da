//! Accounts over HTTP (protocol §4.1–4.4): registration, login, tokens, unregistering.

use dpipe_client::{ErrorKind, HttpApi, RepoApi};
use dpipe_testkit::server::TestServer;
use dpipe_testkit::suite::{child_pipe, expect_err, s3_pipe};
use serde_json::json;

fn client(server: &TestServer, token: Option<&str>) -> HttpApi {
    HttpApi::new(&server.url, token.map(String::from)).unwrap()
}

#[test]
fn register_login_and_whoami() {
    let server = TestServer::start();
    let anon = client(&server, None);
    let reg = anon
        .register("alice", "Alice@Example.com", "pw-alice-long")
        .unwrap();
    assert_eq!(reg.token.len(), 40);
    assert!(
        reg.token
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(reg.email, "alice@example.com");
    assert_eq!(
        anon.login("alice", "pw-alice-long").unwrap().token,
        reg.token,
        "login returns the same token"
    );
    let alice = client(&server, Some(&reg.token));
    let who = alice.whoami().unwrap();
    assert_eq!(who.username.as_deref(), Some("alice"));
    // A request that carries a token still registers (d6tpipe re-registers from a profile).
    assert!(
        alice
            .register("bob", "bob@example.com", "pw-bob-long")
            .is_ok()
    );
}

#[test]
fn wrong_registrations_and_logins() {
    let server = TestServer::start();
    let anon = client(&server, None);
    anon.register("alice", "alice@example.com", "long-enough-pw")
        .unwrap();
    let dup_name = expect_err(
        anon.register("alice", "other@example.com", "long-enough-pw"),
        ErrorKind::Invalid,
        "This field must be unique",
    );
    assert_eq!(dup_name.field(), Some("username"));
    let dup_mail = expect_err(
        anon.register("alice2", "ALICE@example.com", "long-enough-pw"),
        ErrorKind::Invalid,
        "This field must be unique",
    );
    assert_eq!(dup_mail.field(), Some("email"));
    let public = expect_err(
        anon.register("public", "p@example.com", "long-enough-pw"),
        ErrorKind::Invalid,
        "Username",
    );
    assert!(!public.message().contains("unique"));
    expect_err(
        anon.register("bad name", "b@example.com", "long-enough-pw"),
        ErrorKind::Invalid,
        "valid username",
    );
    expect_err(
        anon.register("carol", "not-an-email", "long-enough-pw"),
        ErrorKind::Invalid,
        "valid email",
    );
    expect_err(
        anon.register("carol", "c@example.com", ""),
        ErrorKind::Invalid,
        "blank",
    );
    // The server answers a wrong login with d6tpipe's 400; the client calls it a refusal.
    expect_err(
        anon.login("alice", "wrong"),
        ErrorKind::Unauthenticated,
        "Unable to log in",
    );
    expect_err(
        anon.login("nobody", "pw"),
        ErrorKind::Unauthenticated,
        "Unable to log in",
    );
    // None of the refused registrations exists now.
    expect_err(
        anon.login("carol", "long-enough-pw"),
        ErrorKind::Unauthenticated,
        "Unable to log in",
    );
    expect_err(
        anon.login("alice2", "long-enough-pw"),
        ErrorKind::Unauthenticated,
        "Unable to log in",
    );
    let bogus = client(&server, Some("0000000000000000000000000000000000000000"));
    expect_err(bogus.whoami(), ErrorKind::Unauthenticated, "Invalid token");
    expect_err(
        bogus.list_pipes(),
        ErrorKind::Unauthenticated,
        "Invalid token",
    );
    expect_err(
        anon.whoami(),
        ErrorKind::Unauthenticated,
        "credentials were not provided",
    );
}

#[test]
fn unregister_cascades_and_frees_names() {
    let server = TestServer::start();
    let anon = client(&server, None);
    let a = client(
        &server,
        Some(
            &anon
                .register("owner", "owner@example.com", "long-enough-pw")
                .unwrap()
                .token,
        ),
    );
    let b_token = anon
        .register("friend", "friend@example.com", "long-enough-pw")
        .unwrap()
        .token;
    let b = client(&server, Some(&b_token));
    a.create_pipe(&s3_pipe("shared")).unwrap();
    a.create_pipe(&child_pipe("shared-kid", "shared", "k"))
        .unwrap();
    a.create_remote(&json!({"name": "box", "protocol": "fs", "location": "/srv"}))
        .unwrap();
    b.create_pipe(&s3_pipe("friends")).unwrap();
    b.grant("friends", &json!({"username": "owner", "role": "read"}))
        .unwrap();
    a.grant("shared", &json!({"username": "friend", "role": "write"}))
        .unwrap();
    expect_err(
        b.unregister("owner"),
        ErrorKind::Forbidden,
        "can only unregister yourself",
    );
    expect_err(b.unregister("ghost"), ErrorKind::NotFound, "Not found");
    assert_eq!(
        b.list_pipes().unwrap().len(),
        3,
        "a refused unregister changes nothing"
    );
    a.unregister("owner").unwrap();
    expect_err(a.whoami(), ErrorKind::Unauthenticated, "Invalid token");
    let names: Vec<String> = b
        .list_pipes()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["friends"]);
    assert!(
        b.list_grants("friends").unwrap().is_empty(),
        "grants to the user went too"
    );
    let again = client(
        &server,
        Some(
            &anon
                .register("owner", "owner@example.com", "pw2-long-enough")
                .unwrap()
                .token,
        ),
    );
    again.create_pipe(&s3_pipe("shared")).unwrap();
    again
        .create_remote(&json!({"name": "box", "protocol": "fs", "location": "/srv"}))
        .unwrap();
    expect_err(b.get_pipe("shared"), ErrorKind::Forbidden, "permission");
}

#[test]
fn token_rotation_invalidates_the_old_token() {
    let server = TestServer::start();
    let anon = client(&server, None);
    let old = anon
        .register("rot", "rot@example.com", "long-enough-pw")
        .unwrap()
        .token;
    let user = client(&server, Some(&old));
    let new = user.rotate_token().unwrap().token;
    assert_ne!(old, new);
    expect_err(user.whoami(), ErrorKind::Unauthenticated, "Invalid token");
    assert_eq!(
        client(&server, Some(&new))
            .whoami()
            .unwrap()
            .username
            .as_deref(),
        Some("rot")
    );
    assert_eq!(anon.login("rot", "long-enough-pw").unwrap().token, new);
    expect_err(
        anon.rotate_token(),
        ErrorKind::Unauthenticated,
        "credentials were not provided",
    );
}

/// NIST SP 800-63B: at least 8 characters. The username is judged first, so a taken or
/// reserved name is still named as such; the refusal is a DRF field error on `password`, and
/// the same registry refuses in-process (local mode's face) as over HTTP.
#[test]
fn passwords_shorter_than_eight_characters_are_refused() {
    let server = TestServer::start();
    let anon = client(&server, None);
    for short in [
        "1234567",
        "pw",
        "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
    ] {
        let err = expect_err(
            anon.register("shorty", "shorty@example.com", short),
            ErrorKind::Invalid,
            "at least 8 characters",
        );
        assert_eq!(err.field(), Some("password"), "{err}");
    }
    // Counted in characters, not bytes: eight accented letters are long enough.
    anon.register("accent", "accent@example.com", &"\u{e9}".repeat(8))
        .unwrap();
    anon.register("shorty", "shorty@example.com", "12345678")
        .unwrap();
    expect_err(
        anon.register("shorty", "other@example.com", "x"),
        ErrorKind::Invalid,
        "This field must be unique",
    );
    expect_err(
        anon.register("public", "p@example.com", "x"),
        ErrorKind::Invalid,
        "Username",
    );
    expect_err(
        anon.register("bad name", "b@example.com", "x"),
        ErrorKind::Invalid,
        "valid username",
    );

    let (status, body) = raw_register(&server, "rawshort", "short");
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        json!({"password": [PASSWORD_TOO_SHORT]})
    );

    let local = dpipe_testkit::harness::LocalHarness::new();
    let err = local
        .registry()
        .register(&json!({"username": "solo", "email": "solo@example.com", "password": "short"}))
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.field(), err.message()),
        (
            dpipe_core::ErrorKind::Invalid,
            Some("password"),
            PASSWORD_TOO_SHORT
        )
    );
    local
        .registry()
        .register(
            &json!({"username": "solo", "email": "solo@example.com", "password": "long-enough"}),
        )
        .unwrap();
}

/// Django's wording for a too-short password.
const PASSWORD_TOO_SHORT: &str =
    "This password is too short. It must contain at least 8 characters.";

/// `POST /v1/api/accounts/` over a raw socket: the status and the body text.
fn raw_register(server: &TestServer, username: &str, password: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let body = json!({"username": username, "email": format!("{username}@example.com"), "password": password}).to_string();
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /v1/api/accounts/ HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}
