//! Managed pipes (d6tpipe's `d6tfree`): a pipe created with a name only lives in the managed
//! bucket under `<owner>/<pipe>/`, is shown as `s3`, and its credentials are minted per caller,
//! pipe and role — never past the grant that allows them.

use chrono::{DateTime, TimeDelta, Utc};
use dpipe_client::{AuditQuery, ErrorKind};
use dpipe_core::role::Access;
use dpipe_core::wire::UpdateMode;
use serde_json::{Map, Value, json};

use super::{expect_err, snapshot};
use crate::harness::Harness;

/// The managed bucket every harness's registry uses.
pub const MANAGED_BUCKET: &str = "dpipe";

/// A name alone, or `d6tfree`, makes a managed pipe; children nest under its folder.
pub fn managed_pipe_create_and_views(h: &dyn Harness) {
    let ann = h.user("ann");
    let demo = ann.create_pipe(&json!({"name": "demo"})).unwrap();
    assert_eq!(demo.protocol, "s3");
    assert_eq!(demo.location, MANAGED_BUCKET);
    assert_eq!(demo.options["remotepath"], "s3://dpipe/ann/demo/");
    let free = ann
        .create_pipe(&json!({"name": "free", "protocol": "d6tfree", "options": {"dir": "in"}}))
        .unwrap();
    assert_eq!(free.options["remotepath"], "s3://dpipe/ann/free/in/");
    let kid = ann
        .create_pipe(&json!({"name": "demo-kid", "parent": "demo", "options": {"dir": "kid"}}))
        .unwrap();
    assert_eq!(kid.protocol, "s3");
    assert_eq!(kid.options["remotepath"], "s3://dpipe/ann/demo/kid/");
    // Another owner's pipe of a similar name gets a folder of its own.
    let bob = h.user("bob");
    let other = bob.create_pipe(&json!({"name": "demo-2"})).unwrap();
    assert_eq!(other.options["remotepath"], "s3://dpipe/bob/demo-2/");
    // Updating a managed pipe keeps it managed (d6tpipe's empty PATCH included).
    let patched = ann
        .update_pipe("demo", &json!({"schema": {"k": 1}}), UpdateMode::Partial)
        .unwrap();
    assert_eq!(patched.options["remotepath"], "s3://dpipe/ann/demo/");
}

/// What a managed pipe cannot be given, each refused without changing anything.
pub fn managed_pipe_wrong_calls_change_nothing(h: &dyn Harness) {
    let ann = h.user("ann");
    ann.create_pipe(&json!({"name": "demo"})).unwrap();
    let before = snapshot(&*ann);
    let wrong = [
        (json!({"name": "x", "location": "some-bucket"}), "location"),
        (
            json!({"name": "x", "credentials": {"aws_access_key_id": "k", "aws_secret_access_key": "s"}}),
            "credentials",
        ),
        (
            json!({"name": "x", "settings": {"endpoint": "http://h"}}),
            "settings",
        ),
        (json!({"name": "demo"}), "unique"),
    ];
    for (body, needle) in wrong {
        let err = ann.create_pipe(&body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{body}: {err}");
        assert!(
            err.to_string().contains(needle) || err.field() == Some(needle),
            "{body}: {err}"
        );
    }
    expect_err(
        ann.update_pipe(
            "demo",
            &json!({"location": "elsewhere"}),
            UpdateMode::Partial,
        ),
        ErrorKind::Invalid,
        "location",
    );
    assert_eq!(snapshot(&*ann), before);
}

/// Read and write credentials differ, carry a session token and only what boto3 takes; a
/// fetch reuses the caller's live key, `renew` mints a new one that later fetches return.
pub fn managed_credentials_per_role_and_renewal(h: &dyn Harness) {
    let ann = h.user("ann");
    ann.create_pipe(&json!({"name": "demo"})).unwrap();
    let read = ann.credentials("demo", Access::Read).unwrap();
    let write = ann.credentials("demo", Access::Write).unwrap();
    for creds in [&read, &write] {
        for key in [
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "region_name",
        ] {
            assert!(
                creds
                    .get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|v| !v.is_empty()),
                "{key} missing in {:?}",
                creds.keys().collect::<Vec<_>>()
            );
        }
        let allowed = [
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "region_name",
            "endpoint_url",
        ];
        assert!(
            creds.keys().all(|k| allowed.contains(&k.as_str())),
            "{creds:?}"
        );
    }
    assert_ne!(key_id(&read), key_id(&write));
    assert_ne!(
        read["aws_secret_access_key"],
        write["aws_secret_access_key"]
    );
    assert_eq!(ann.credentials("demo", Access::Read).unwrap(), read);
    let renewed = ann.renew_credentials("demo", Access::Read).unwrap();
    assert_ne!(key_id(&renewed), key_id(&read));
    assert_eq!(
        key_id(&ann.credentials("demo", Access::Read).unwrap()),
        key_id(&renewed)
    );
    // Another caller gets keys of their own.
    let bob = h.user("bob");
    ann.grant("demo", &json!({"username": "bob", "role": "read"}))
        .unwrap();
    let bobs = bob.credentials("demo", Access::Read).unwrap();
    assert_ne!(key_id(&bobs), key_id(&renewed));
    expect_err(
        bob.credentials("demo", Access::Write),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        h.user("carol").credentials("demo", Access::Read),
        ErrorKind::Forbidden,
        "permission",
    );
}

/// Every handout is in the owner's audit trail with its key id and expiry (never a secret),
/// and credentials never outlive the grant behind them.
pub fn managed_credentials_audited_and_capped_by_the_grant(h: &dyn Harness) {
    let ann = h.user("ann");
    ann.create_pipe(&json!({"name": "demo"})).unwrap();
    let last_day = h.today();
    // 20:00 on the grant's last day: a 12-hour key would outlive the grant by 8 hours.
    h.advance(TimeDelta::hours(20));
    let bob = h.user("bob");
    ann.grant(
        "demo",
        &json!({"username": "bob", "role": "read", "expiration_date": last_day.to_string()}),
    )
    .unwrap();
    let bobs = bob.credentials("demo", Access::Read).unwrap();
    let anns = ann.credentials("demo", Access::Write).unwrap();
    let trail = ann.audit("demo", &AuditQuery::default()).unwrap();
    let event_of = |creds: &Map<String, Value>| {
        trail
            .iter()
            .find(|e| e.key_id.as_deref() == Some(key_id(creds)))
            .unwrap_or_else(|| panic!("no audit event for {}: {trail:?}", key_id(creds)))
            .clone()
    };
    let ends = |at: &Option<String>| {
        DateTime::parse_from_rfc3339(at.as_deref().expect("an expiry"))
            .unwrap()
            .with_timezone(&Utc)
    };
    let midnight = last_day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let bob_event = event_of(&bobs);
    assert_eq!(
        (bob_event.who.as_str(), bob_event.action.as_str()),
        ("bob", "credentials.read")
    );
    assert_eq!(
        ends(&bob_event.expires_at),
        midnight + TimeDelta::days(1),
        "a key ends with the grant's last day"
    );
    let ann_event = event_of(&anns);
    assert_eq!(ann_event.action, "credentials.write");
    assert_eq!(
        ends(&ann_event.expires_at),
        midnight + TimeDelta::hours(32),
        "the owner's key lives the full 12 hours"
    );
    let text = serde_json::to_string(&trail).unwrap();
    for secret in [&bobs["aws_secret_access_key"], &anns["aws_session_token"]] {
        assert!(!text.contains(secret.as_str().unwrap()));
    }
}

/// The access key id of released credentials.
pub fn key_id(credentials: &Map<String, Value>) -> &str {
    credentials["aws_access_key_id"]
        .as_str()
        .expect("an access key id")
}
