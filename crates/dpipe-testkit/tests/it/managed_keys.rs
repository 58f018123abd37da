//! The registry's judgement of each request to the built-in object store, with keys minted
//! through the credentials endpoint: the key's pipe, prefix, role, expiry and the grant behind
//! it, judged at every request.

use chrono::TimeDelta;
use dpipe_core::role::Access;
use dpipe_registry::{StorageRefusal, StorageRequest, StorageTarget};
use dpipe_testkit::harness::{Harness, LocalHarness};
use dpipe_testkit::suite::managed::key_id;
use serde_json::{Map, Value, json};

/// A request with `creds` to `target` in the managed bucket.
fn request<'a>(
    creds: &'a Map<String, Value>,
    target: StorageTarget<'a>,
    write: bool,
) -> StorageRequest<'a> {
    StorageRequest {
        access_key: key_id(creds),
        session_token: creds["aws_session_token"].as_str(),
        bucket: "dpipe",
        target,
        write,
    }
}

fn denied(result: Result<(), StorageRefusal>, why: &str) {
    match result {
        Err(StorageRefusal::Denied(text)) => assert!(text.contains(why), "{text}"),
        other => panic!("expected a refusal saying {why:?}, got {other:?}"),
    }
}

#[test]
fn a_key_reaches_its_pipe_folder_with_its_role_only() {
    let h = LocalHarness::new();
    let registry = h.registry();
    let ann = h.user("ann");
    ann.create_pipe(&json!({"name": "demo"})).unwrap();
    let read = ann.credentials("demo", Access::Read).unwrap();
    let write = ann.credentials("demo", Access::Write).unwrap();
    assert_eq!(
        registry.storage_secret(key_id(&read)).unwrap(),
        read["aws_secret_access_key"]
    );
    let ok = |creds, target, write| registry.authorize_storage(&request(creds, target, write));
    ok(&read, StorageTarget::Object("ann/demo/a.csv"), false).unwrap();
    ok(&read, StorageTarget::Listing("ann/demo/"), false).unwrap();
    ok(&read, StorageTarget::Bucket, false).unwrap();
    ok(&write, StorageTarget::Object("ann/demo/sub/a.csv"), true).unwrap();
    denied(
        ok(&read, StorageTarget::Object("ann/demo/a.csv"), true),
        "read-only",
    );
    for key in [
        "ann/demo-2/a.csv",
        "ann/demo/../bob/a.csv",
        "ann/demo/%2e%2e/x",
        "/ann/demo/a.csv",
        "ann/demo//a.csv",
        "ann/demo/a\\b",
        "ann/x",
    ] {
        let result = ok(&write, StorageTarget::Object(key), true);
        if key.contains("%2e") {
            // A percent sign is an ordinary character of a key: this one stays inside.
            result.unwrap();
        } else {
            denied(result, "reaches only s3://dpipe/ann/demo/");
        }
    }
    for prefix in ["", "ann/", "ann/demo", "bob/demo/"] {
        denied(
            ok(&read, StorageTarget::Listing(prefix), false),
            "reaches only",
        );
    }
    let mut other_bucket = request(&read, StorageTarget::Object("ann/demo/a.csv"), false);
    other_bucket.bucket = "elsewhere";
    denied(registry.authorize_storage(&other_bucket), "reaches only");
}

#[test]
fn a_key_needs_its_session_token_and_a_real_id() {
    let h = LocalHarness::new();
    let registry = h.registry();
    let ann = h.user("ann");
    ann.create_pipe(&json!({"name": "demo"})).unwrap();
    let read = ann.credentials("demo", Access::Read).unwrap();
    let write = ann.credentials("demo", Access::Write).unwrap();
    let target = StorageTarget::Object("ann/demo/a.csv");
    for token in [None, Some(""), write["aws_session_token"].as_str()] {
        let mut req = request(&read, target, false);
        req.session_token = token;
        denied(registry.authorize_storage(&req), "session token");
    }
    let mut unknown = request(&read, target, false);
    unknown.access_key = "DPKNOSUCHKEY00000000";
    assert_eq!(
        registry.authorize_storage(&unknown),
        Err(StorageRefusal::UnknownKey)
    );
    assert_eq!(
        registry.storage_secret("DPKNOSUCHKEY00000000"),
        Err(StorageRefusal::UnknownKey)
    );
}

#[test]
fn keys_expire_and_renewal_gives_a_working_one() {
    let h = LocalHarness::new();
    let registry = h.registry();
    let ann = h.user("ann");
    ann.create_pipe(&json!({"name": "demo"})).unwrap();
    let read = ann.credentials("demo", Access::Read).unwrap();
    let target = StorageTarget::Object("ann/demo/a.csv");
    h.advance(TimeDelta::hours(11) + TimeDelta::minutes(59));
    registry
        .authorize_storage(&request(&read, target, false))
        .unwrap();
    h.advance(TimeDelta::minutes(1));
    assert_eq!(
        registry.authorize_storage(&request(&read, target, false)),
        Err(StorageRefusal::Expired)
    );
    assert_eq!(
        registry.storage_secret(key_id(&read)),
        Err(StorageRefusal::Expired)
    );
    // The expired key is not handed out again.
    let fresh = ann.credentials("demo", Access::Read).unwrap();
    assert_ne!(key_id(&fresh), key_id(&read));
    registry
        .authorize_storage(&request(&fresh, target, false))
        .unwrap();
}

#[test]
fn revoking_the_grant_or_deleting_the_pipe_stops_the_key_at_once() {
    let h = LocalHarness::new();
    let registry = h.registry();
    let ann = h.user("ann");
    let bob = h.user("bob");
    ann.create_pipe(&json!({"name": "demo"})).unwrap();
    ann.grant("demo", &json!({"username": "bob", "role": "write"}))
        .unwrap();
    let bobs = bob.credentials("demo", Access::Write).unwrap();
    let target = StorageTarget::Object("ann/demo/a.csv");
    registry
        .authorize_storage(&request(&bobs, target, true))
        .unwrap();
    // Down to read: the write key stops writing, and also reading (its role is gone).
    ann.grant("demo", &json!({"username": "bob", "role": "read"}))
        .unwrap();
    denied(
        registry.authorize_storage(&request(&bobs, target, true)),
        "revoked",
    );
    let bob_read = bob.credentials("demo", Access::Read).unwrap();
    registry
        .authorize_storage(&request(&bob_read, target, false))
        .unwrap();
    ann.grant("demo", &json!({"username": "bob", "role": "revoke"}))
        .unwrap();
    denied(
        registry.authorize_storage(&request(&bob_read, target, false)),
        "revoked",
    );
    // The owner's key dies with the pipe; a new pipe of the same name by another owner lives
    // elsewhere and is not reached by it.
    let anns = ann.credentials("demo", Access::Write).unwrap();
    ann.delete_pipe("demo").unwrap();
    assert_eq!(
        registry.authorize_storage(&request(&anns, target, true)),
        Err(StorageRefusal::UnknownKey)
    );
    bob.create_pipe(&json!({"name": "demo"})).unwrap();
    assert_eq!(
        registry.authorize_storage(&request(
            &anns,
            StorageTarget::Object("bob/demo/a.csv"),
            true
        )),
        Err(StorageRefusal::UnknownKey)
    );
}

#[test]
fn a_grant_on_a_parent_reaches_the_child_folder_only_through_the_child_key() {
    let h = LocalHarness::new();
    let registry = h.registry();
    let ann = h.user("ann");
    let bob = h.user("bob");
    ann.create_pipe(&json!({"name": "demo"})).unwrap();
    ann.create_pipe(&json!({"name": "demo-eu", "parent": "demo", "options": {"dir": "eu"}}))
        .unwrap();
    ann.grant("demo-eu", &json!({"username": "bob", "role": "read"}))
        .unwrap();
    let kid = bob.credentials("demo-eu", Access::Read).unwrap();
    registry
        .authorize_storage(&request(
            &kid,
            StorageTarget::Object("ann/demo/eu/a.csv"),
            false,
        ))
        .unwrap();
    denied(
        registry.authorize_storage(&request(
            &kid,
            StorageTarget::Object("ann/demo/a.csv"),
            false,
        )),
        "reaches only s3://dpipe/ann/demo/eu/",
    );
    assert!(bob.credentials("demo", Access::Read).is_err());
}
