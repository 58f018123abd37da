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
        .register("alice", "Alice@Example.com", "pw-alice")
        .unwrap();
    assert_eq!(reg.token.len(), 40);
    assert!(
        reg.token
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(reg.email, "alice@example.com");
    assert_eq!(
        anon.login("alice", "pw-alice").unwrap().token,
        reg.token,
        "login returns the same token"
    );
    let alice = client(&server, Some(&reg.token));
    let who = alice.whoami().unwrap();
    assert_eq!(who.username.as_deref(), Some("alice"));
    // A request that carries a token still registers (d6tpipe re-registers from a profile).
    assert!(alice.register("bob", "bob@example.com", "pw-bob").is_ok());
}

#[test]
fn wrong_registrations_and_logins() {
    let server = TestServer::start();
    let anon = client(&server, None);
    anon.register("alice", "alice@example.com", "pw").unwrap();
    let dup_name = expect_err(
        anon.register("alice", "other@example.com", "pw"),
        ErrorKind::Invalid,
        "This field must be unique",
    );
    assert_eq!(dup_name.field(), Some("username"));
    let dup_mail = expect_err(
        anon.register("alice2", "ALICE@example.com", "pw"),
        ErrorKind::Invalid,
        "This field must be unique",
    );
    assert_eq!(dup_mail.field(), Some("email"));
    let public = expect_err(
        anon.register("public", "p@example.com", "pw"),
        ErrorKind::Invalid,
        "Username",
    );
    assert!(!public.message().contains("unique"));
    expect_err(
        anon.register("bad name", "b@example.com", "pw"),
        ErrorKind::Invalid,
        "valid username",
    );
    expect_err(
        anon.register("carol", "not-an-email", "pw"),
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
        anon.login("carol", "pw"),
        ErrorKind::Unauthenticated,
        "Unable to log in",
    );
    expect_err(
        anon.login("alice2", "pw"),
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
                .register("owner", "owner@example.com", "pw")
                .unwrap()
                .token,
        ),
    );
    let b_token = anon
        .register("friend", "friend@example.com", "pw")
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
                .register("owner", "owner@example.com", "pw2")
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
    let old = anon.register("rot", "rot@example.com", "pw").unwrap().token;
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
    assert_eq!(anon.login("rot", "pw").unwrap().token, new);
    expect_err(
        anon.rotate_token(),
        ErrorKind::Unauthenticated,
        "credentials were not provided",
    );
}
