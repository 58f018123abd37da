//! Accounts over the wire (protocol §4.1–4.4): register, login, the error texts the d6tpipe
//! client matches on, whoami, token rotation and unregistering.

use dpipe_testkit::server::TestServer;
use serde_json::json;

use crate::raw_http::{D6t, account};

#[test]
fn register_login_whoami_and_their_error_texts() {
    let server = TestServer::start();
    let anon = D6t::anonymous(server.addr);

    let registered = anon.post("accounts", &account("alice"));
    registered.expect(201);
    let body = registered.json();
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 40);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        (body["username"].as_str(), body["email"].as_str()),
        (Some("alice"), Some("alice@example.com"))
    );
    assert!(body.get("password").is_none());

    // Login returns the same persistent token (tests-main.py:L131-132).
    let login = anon.post(
        "accounts/token",
        &json!({"username": "alice", "password": "pw-123456"}),
    );
    assert_eq!(login.expect(200).json(), json!({"token": token}));
    anon.post(
        "accounts/token",
        &json!({"username": "alice", "password": "wrong"}),
    )
    .expect_error(400, "Unable to log in with provided credentials.");
    anon.post(
        "accounts/token",
        &json!({"username": "nobody", "password": "pw"}),
    )
    .expect_error(400, "Unable to log in");

    let alice = D6t {
        addr: server.addr,
        token: Some(token.clone()),
    };
    let me = alice.get("").expect(200).json();
    assert_eq!(me["username"], "alice");
    anon.get("")
        .expect_error(401, "Authentication credentials were not provided.");

    // Duplicates, also from a client that already holds a token (tests-main.py:L126-129).
    alice
        .post("accounts", &account("alice"))
        .expect_error(400, "This field must be unique");
    let same_email =
        json!({"username": "alice2", "email": "alice@example.com", "password": "pw-123456"});
    alice
        .post("accounts", &same_email)
        .expect_error(400, "This field must be unique");
    // A stale token does not stand in the way of registering.
    let stale = D6t {
        addr: server.addr,
        token: Some("0".repeat(40)),
    };
    stale.post("accounts", &account("carol")).expect(201);

    let public = anon.post("accounts", &account("public"));
    public.expect_error(400, "Username");
    assert!(!public.text().contains("This field must be unique"));
    anon.post("accounts", &json!({"username": "dave"}))
        .expect_error(400, "This field is required.");
}

#[test]
fn rotation_and_unregistering() {
    let server = TestServer::start();
    let bob = D6t::register(server.addr, "bob");
    let eve = D6t::register(server.addr, "eve");

    eve.delete("accounts/bob")
        .expect_error(403, "can only unregister yourself");
    eve.delete("accounts/nobody").expect_error(404, "Not found");
    D6t::anonymous(server.addr)
        .delete("accounts/bob")
        .expect(401);

    let rotated = bob
        .post("accounts/token/rotate", &json!({}))
        .expect(200)
        .json();
    let new_token = rotated["token"].as_str().unwrap().to_string();
    assert_ne!(Some(&new_token), bob.token.as_ref());
    bob.get("").expect_error(401, "Invalid token.");
    let bob = D6t {
        addr: server.addr,
        token: Some(new_token),
    };
    bob.get("").expect(200);

    bob.post(
        "pipes",
        &json!({"name": "bobs", "protocol": "s3", "location": "bucket-b"}),
    )
    .expect(201);
    let gone = bob.delete("accounts/bob");
    gone.expect(204);
    assert!(gone.body.is_empty());
    bob.get("").expect_error(401, "Invalid token.");
    // The pipe name is free again after an unregister + register cycle.
    let bob = D6t::register(server.addr, "bob");
    bob.post(
        "pipes",
        &json!({"name": "bobs", "protocol": "s3", "location": "bucket-b"}),
    )
    .expect(201);
}
