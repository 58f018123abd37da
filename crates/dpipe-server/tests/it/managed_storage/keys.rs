//! Attacks on the key itself: expiry, forged or borrowed credentials, and grants or pipes
//! that changed since the key was minted.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use chrono::TimeDelta;
use dpipe_core::role::Access;
use dpipe_testkit::harness::Harness;
use serde_json::json;

use super::support::*;

/// Case 4: keys die at their expiry; a fetch then hands out a working key, and `renew`
/// mints a new key id without cutting the old one short.
#[test]
fn keys_expire_and_renewal_leaves_the_old_key_to_its_expiry() {
    let w = World::new();
    let read = w.keys(&w.ann, "demo", Access::Read);
    let write = w.keys(&w.ann, "demo", Access::Write);
    w.ok(&read, Op::Get("ann/demo/a.csv"));
    w.h.advance(TimeDelta::hours(1));
    let renewed = Keys::of(&w.ann.renew_credentials("demo", Access::Read).unwrap());
    assert_ne!(renewed.id, read.id);
    // Documented behaviour (issue 10, minting.rs): renewal mints a new key id and leaves the
    // old key alone; it keeps working until its own expiry (a revocation stops both).
    w.ok(&read, Op::Get("ann/demo/a.csv"));
    w.ok(&renewed, Op::Get("ann/demo/a.csv"));

    w.h.advance(TimeDelta::hours(11));
    let before = w.snapshot();
    for op in [Op::Get("ann/demo/a.csv"), Op::List(Some("ann/demo/"), None)] {
        w.refused(&read, op, "ExpiredToken");
        w.refused(&write, op, "ExpiredToken");
    }
    for op in [
        Op::Put("ann/demo/late.csv"),
        Op::Delete("ann/demo/a.csv"),
        Op::CreateUpload("ann/demo/late.csv"),
    ] {
        w.refused(&write, op, "ExpiredToken");
    }
    w.ok(&renewed, Op::Get("ann/demo/a.csv"));
    let fresh = w.keys(&w.ann, "demo", Access::Read);
    assert_ne!(fresh.id, read.id, "an expired key is not handed out again");
    w.ok(&fresh, Op::Get("ann/demo/a.csv"));
    w.h.advance(TimeDelta::hours(1));
    w.refused(&renewed, Op::Get("ann/demo/a.csv"), "ExpiredToken");
    assert_eq!(w.snapshot(), before);
}

/// Case 5: a wrong secret, a borrowed or missing session token, an unknown key id, no
/// signature at all, and presigned URLs (the token in the query) judged like the rest.
#[test]
fn forged_borrowed_or_missing_credentials_are_refused() {
    let w = World::new();
    let read = w.keys(&w.ann, "demo", Access::Read);
    let write = w.keys(&w.ann, "demo", Access::Write);
    let bobs = w.keys(&w.bob, "data", Access::Write);
    let presign = || PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let get = w
        .run(
            read.client()
                .get_object()
                .bucket(BUCKET)
                .key("ann/demo/a.csv")
                .presigned(presign()),
        )
        .unwrap();
    assert_eq!(w.presigned(&get).0, 200);
    let before = w.snapshot();

    let get_a = Op::Get("ann/demo/a.csv");
    let put_a = Op::Put("ann/demo/a.csv");
    let forged = [
        (
            read.with_secret("not-the-secret"),
            get_a,
            "SignatureDoesNotMatch",
        ),
        (
            write.with_secret(&read.secret),
            put_a,
            "SignatureDoesNotMatch",
        ),
        (
            bobs.with_secret(&write.secret),
            put_a,
            "SignatureDoesNotMatch",
        ),
        (
            read.with_token(write.token.as_deref()),
            get_a,
            "AccessDenied",
        ),
        (
            write.with_token(read.token.as_deref()),
            put_a,
            "AccessDenied",
        ),
        (
            write.with_token(bobs.token.as_deref()),
            put_a,
            "AccessDenied",
        ),
        (read.with_token(Some("")), get_a, "AccessDenied"),
        (read.with_token(None), get_a, "AccessDenied"),
        (write.with_token(None), put_a, "AccessDenied"),
        (
            read.with_id("DPKNOSUCHKEY00000000"),
            get_a,
            "InvalidAccessKeyId",
        ),
        (
            write.with_id("AKIAIOSFODNN7EXAMPLE"),
            put_a,
            "InvalidAccessKeyId",
        ),
    ];
    for (keys, op, code) in &forged {
        let failure = w.refused(keys, *op, code);
        if *code == "AccessDenied" {
            let why = failure.message.unwrap_or_default();
            assert!(why.contains("session token"), "{why}");
        }
    }

    let no_body = [("content-length".to_owned(), "0".to_owned())];
    for (method, target) in [
        ("GET", "/dpipe/ann/demo/a.csv"),
        ("HEAD", "/dpipe/ann/demo/a.csv"),
        ("PUT", "/dpipe/ann/demo/anonymous.csv"),
        ("DELETE", "/dpipe/ann/demo/a.csv"),
        ("GET", "/dpipe?list-type=2&prefix=ann%2Fdemo%2F"),
        ("GET", "/dpipe"),
        ("GET", "/"),
        ("PUT", "/newbucket"),
    ] {
        let (status, answer) = raw(&w.h.server.storage_url, method, target, &no_body);
        assert_eq!(status, 403, "anonymous {method} {target}: {answer}");
        if method != "HEAD" {
            assert!(
                answer.contains("<Code>AccessDenied</Code>"),
                "anonymous {method} {target}: {answer}"
            );
        }
    }

    let put = w
        .run(
            read.client()
                .put_object()
                .bucket(BUCKET)
                .key("ann/demo/presigned.csv")
                .presigned(presign()),
        )
        .unwrap();
    let elsewhere = w
        .run(
            read.client()
                .get_object()
                .bucket(BUCKET)
                .key("bob/data/y")
                .presigned(presign()),
        )
        .unwrap();
    for request in [&put, &elsewhere] {
        let (status, answer) = w.presigned(request);
        assert_eq!(status, 403, "{}: {answer}", request.uri());
        assert!(answer.contains("<Code>AccessDenied</Code>"), "{answer}");
    }
    assert_eq!(w.snapshot(), before);
}

/// Case 6: the grant and the pipe behind a key are judged at every request — revoked,
/// downgraded, expired, the pipe deleted, its name taken by another owner.
#[test]
fn grants_and_pipes_are_judged_at_every_request() {
    let w = World::new();
    let (ann, bob) = (&w.ann, &w.bob);
    let a_csv = Op::Get("ann/demo/a.csv");
    let grant = |user: &str, role: &str| {
        ann.grant("demo", &json!({"username": user, "role": role}))
            .unwrap();
    };

    // Revoked: bob's read key stops at its next request.
    grant("bob", "read");
    let bob_read = w.keys(bob, "demo", Access::Read);
    w.ok(&bob_read, a_csv);
    let before = w.snapshot();
    grant("bob", "revoke");
    w.refused(&bob_read, a_csv, "AccessDenied");
    w.refused(&bob_read, Op::List(Some("ann/demo/"), None), "AccessDenied");
    assert_eq!(w.snapshot(), before);

    // Write down to read: no more writes. Reads go on with a read key; the write key stops
    // reading too, since the role it was minted for is no longer held.
    grant("bob", "write");
    let bob_write = w.keys(bob, "demo", Access::Write);
    let bob_read = w.keys(bob, "demo", Access::Read);
    w.ok(&bob_write, Op::Put("ann/demo/bob.csv"));
    let before = w.snapshot();
    grant("bob", "read");
    for op in [
        Op::Put("ann/demo/bob2.csv"),
        Op::Put("ann/demo/bob.csv"),
        Op::Delete("ann/demo/bob.csv"),
        Op::DeleteMany(&["ann/demo/bob.csv"]),
        Op::CreateUpload("ann/demo/bob3.csv"),
        a_csv,
    ] {
        let failure = w.refused(&bob_write, op, "AccessDenied");
        let why = failure.message.unwrap_or_default();
        assert!(why.contains("revoked or has expired"), "{op:?}: {why}");
    }
    w.ok(&bob_read, a_csv);
    w.ok(&bob_read, Op::List(Some("ann/demo/"), None));
    assert_eq!(w.snapshot(), before);

    // Deleted: every key of the pipe is forgotten, the owner's and a grantee's. Re-created
    // under the same name by bob (the newest pipe, so SQLite most likely gives it the same
    // row id: a key that outlived its pipe would now name bob's): its folder is bob/shared/,
    // which the old keys do not reach, and bob's new key does not reach ann's old folder.
    ann.create_pipe(&json!({"name": "shared"})).unwrap();
    ann.grant("shared", &json!({"username": "bob", "role": "read"}))
        .unwrap();
    let ann_old = w.keys(ann, "shared", Access::Write);
    let bob_old = w.keys(bob, "shared", Access::Read);
    w.ok(&ann_old, Op::Put("ann/shared/x"));
    w.ok(&bob_old, Op::Get("ann/shared/x"));
    ann.delete_pipe("shared").unwrap();
    bob.create_pipe(&json!({"name": "shared"})).unwrap();
    let bob_new = w.keys(bob, "shared", Access::Write);
    assert_ne!(bob_new.id, bob_old.id);
    w.ok(&bob_new, Op::Put("bob/shared/z"));
    let before = w.snapshot();
    for keys in [&ann_old, &bob_old] {
        for op in [
            Op::Get("ann/shared/x"),
            Op::Get("bob/shared/z"),
            Op::Put("ann/shared/x"),
            Op::Put("bob/shared/evil"),
            Op::Delete("bob/shared/z"),
            Op::List(Some("ann/shared/"), None),
            Op::List(Some("bob/shared/"), None),
        ] {
            w.refused(keys, op, "InvalidAccessKeyId");
        }
    }
    w.refused(&bob_new, Op::Get("ann/shared/x"), "AccessDenied");
    w.refused(&bob_new, Op::Delete("ann/shared/x"), "AccessDenied");
    assert_eq!(w.snapshot(), before);

    // A grant's last day passes. 20:00: carl's key from a 5-day grant lives to 08:00
    // tomorrow; the grant is then cut to today, so a key fetched now ends at midnight.
    let carl = w.h.user("carl");
    let today = w.h.today();
    w.h.advance(TimeDelta::hours(20));
    let until = |day: chrono::NaiveDate| {
        ann.grant(
            "demo",
            &json!({"username": "carl", "role": "read", "expiration_date": day.to_string()}),
        )
        .unwrap();
    };
    until(today + chrono::Days::new(5));
    let long = w.keys(&carl, "demo", Access::Read);
    until(today);
    let capped = w.keys(&carl, "demo", Access::Read);
    assert_ne!(capped.id, long.id);
    w.ok(&long, a_csv);
    w.ok(&capped, a_csv);
    let before = w.snapshot();
    w.h.advance(TimeDelta::hours(5));
    // The long key is live but its grant is over; the capped key has expired with it.
    let failure = w.refused(&long, a_csv, "AccessDenied");
    let why = failure.message.unwrap_or_default();
    assert!(why.contains("revoked or has expired"), "{why}");
    w.refused(&capped, a_csv, "ExpiredToken");
    assert!(carl.credentials("demo", Access::Read).is_err());
    assert_eq!(w.snapshot(), before);
}
