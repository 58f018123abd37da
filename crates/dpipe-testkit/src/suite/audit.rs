//! The audit trail of a pipe: exactly the credential fetches, grant and settings changes made
//! on it and its descendants, allowed or refused, newest first; for its owner only; and never
//! a secret in it.

use chrono::TimeDelta;
use dpipe_client::{AuditQuery, ErrorKind};
use dpipe_core::role::Access;
use dpipe_core::wire::{AuditView, UpdateMode};
use serde_json::{Value, json};

use super::{child_pipe, expect_err};
use crate::harness::{Harness, start_date};

/// Credential values planted to prove they never reach the trail.
const CANARIES: [&str; 6] = [
    "AKIDAUDITCANARY",
    "audit-secret-canary",
    "AKIDREPLACEDCANARY",
    "replaced-secret-canary",
    "remote-user-canary",
    "remote-password-canary",
];

/// A root S3 pipe whose credentials are the first two canaries.
fn watched_pipe(name: &str) -> Value {
    json!({"name": name, "protocol": "s3", "location": "audit-bucket",
        "credentials": {"aws_access_key_id": CANARIES[0], "aws_secret_access_key": CANARIES[1]}})
}

/// (who, action, outcome, reason) of each event.
fn summary(events: &[AuditView]) -> Vec<(&str, &str, &str, Option<&str>)> {
    events
        .iter()
        .map(|e| {
            (
                e.who.as_str(),
                e.action.as_str(),
                e.outcome.as_str(),
                e.reason.as_deref(),
            )
        })
        .collect()
}

/// Two read fetches by a grantee, a refused write fetch by the same grantee and a write fetch
/// by the owner are exactly the credential events listed, newest first; fetches on another
/// pipe are not.
pub fn audit_lists_exactly_the_credential_fetches(h: &dyn Harness) {
    let owner = h.user("owner");
    let reader = h.user("reader");
    owner.create_pipe(&watched_pipe("watched")).unwrap();
    owner.create_pipe(&watched_pipe("elsewhere")).unwrap();
    owner
        .grant("watched", &json!({"username": "reader", "role": "read"}))
        .unwrap();
    reader.credentials("watched", Access::Read).unwrap();
    reader.renew_credentials("watched", Access::Read).unwrap();
    expect_err(
        reader.credentials("watched", Access::Write),
        ErrorKind::Forbidden,
        "permission",
    );
    owner.credentials("watched", Access::Write).unwrap();
    owner.credentials("elsewhere", Access::Read).unwrap();

    let events = owner.audit("watched", &AuditQuery::default()).unwrap();
    assert_eq!(
        summary(&events),
        [
            ("owner", "credentials.write", "allowed", None),
            ("reader", "credentials.write", "refused", Some("forbidden")),
            ("reader", "credentials.read", "allowed", None),
            ("reader", "credentials.read", "allowed", None),
            ("owner", "grant.set", "allowed", None),
            ("owner", "pipe.create", "allowed", None),
        ]
    );
    let grant = &events[4];
    assert_eq!(
        (grant.grantee.as_deref(), grant.role.as_deref()),
        (Some("reader"), Some("read"))
    );
    let when = format!("{}T00:00:00.000Z", start_date().format("%Y-%m-%d"));
    assert!(events.iter().all(|e| e.pipe == "watched" && e.at == when));
    assert_eq!(
        summary(&owner.audit("elsewhere", &AuditQuery::default()).unwrap()),
        [
            ("owner", "credentials.read", "allowed", None),
            ("owner", "pipe.create", "allowed", None),
        ]
    );
}

/// Only the owner (of the pipe or an ancestor) lists a trail, which covers the descendants;
/// refused changes by others are in it; a name reused after a delete starts a fresh trail.
pub fn audit_is_for_owners_and_covers_descendants(h: &dyn Harness) {
    let owner = h.user("owner");
    let admin = h.user("admin");
    let stranger = h.user("stranger");
    owner.create_pipe(&watched_pipe("tree")).unwrap();
    owner
        .create_pipe(&child_pipe("tree-kid", "tree", "kid"))
        .unwrap();
    owner
        .grant("tree", &json!({"username": "admin", "role": "admin"}))
        .unwrap();
    for (who, kind, needle) in [
        (&admin, ErrorKind::Forbidden, "permission"),
        (&stranger, ErrorKind::Forbidden, "permission"),
    ] {
        expect_err(who.audit("tree", &AuditQuery::default()), kind, needle);
        expect_err(who.audit("tree-kid", &AuditQuery::default()), kind, needle);
    }
    expect_err(
        owner.audit("missing", &AuditQuery::default()),
        ErrorKind::NotFound,
        "Not found",
    );
    if let Some(anonymous) = h.anonymous() {
        expect_err(
            anonymous.audit("tree", &AuditQuery::default()),
            ErrorKind::Unauthenticated,
            "credentials were not provided",
        );
    }
    admin
        .update_pipe(
            "tree-kid",
            &json!({"options": {"dir": "moved"}}),
            UpdateMode::Partial,
        )
        .unwrap();
    expect_err(
        stranger.grant("tree", &json!({"username": "stranger", "role": "write"})),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        stranger.delete_pipe("tree-kid"),
        ErrorKind::Forbidden,
        "permission",
    );
    let events = owner.audit("tree", &AuditQuery::default()).unwrap();
    let with_pipe: Vec<(&str, &str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.who.as_str(),
                e.action.as_str(),
                e.pipe.as_str(),
                e.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        with_pipe,
        [
            ("stranger", "pipe.delete", "tree-kid", "refused"),
            ("stranger", "grant.set", "tree", "refused"),
            ("admin", "pipe.update", "tree-kid", "allowed"),
            ("owner", "grant.set", "tree", "allowed"),
            ("owner", "pipe.create", "tree-kid", "allowed"),
            ("owner", "pipe.create", "tree", "allowed"),
        ]
    );
    assert_eq!(
        owner
            .audit("tree-kid", &AuditQuery::default())
            .unwrap()
            .len(),
        3
    );

    owner.delete_pipe("tree-kid").unwrap();
    owner
        .create_pipe(&child_pipe("tree-kid", "tree", "again"))
        .unwrap();
    assert_eq!(
        summary(&owner.audit("tree-kid", &AuditQuery::default()).unwrap()),
        [("owner", "pipe.create", "allowed", None)]
    );
    // A deleted pipe's events are no longer listed (they stay in the store and the log).
    let actions: Vec<String> = owner
        .audit("tree", &AuditQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        ["pipe.create", "grant.set", "grant.set", "pipe.create"]
    );

    stranger.create_pipe(&watched_pipe("own")).unwrap();
    assert_eq!(
        stranger.audit("own", &AuditQuery::default()).unwrap().len(),
        1
    );
}

/// Fetches, credential changes and grants leave no credential value, token or password in
/// any audit view.
pub fn audit_holds_no_secret(h: &dyn Harness) {
    let owner = h.user("owner");
    let reader = h.user("reader");
    owner.create_pipe(&watched_pipe("guarded")).unwrap();
    owner
        .update_pipe(
            "guarded",
            &json!({"credentials": {"read": {"aws_access_key_id": CANARIES[2], "aws_secret_access_key": CANARIES[3]},
                "write": {"aws_access_key_id": CANARIES[0], "aws_secret_access_key": CANARIES[1]}}}),
            UpdateMode::Partial,
        )
        .unwrap();
    owner
        .create_remote(
            &json!({"name": "vault", "protocol": "sftp", "location": "127.0.0.1:2222",
            "credentials": {"username": CANARIES[4], "password": CANARIES[5]}}),
        )
        .unwrap();
    owner
        .create_pipe(&json!({"name": "guarded-remote", "remote": "vault"}))
        .unwrap();
    owner
        .grant(
            "guarded",
            &json!({"email": "later@example.com", "role": "write"}),
        )
        .unwrap();
    owner
        .grant("guarded", &json!({"username": "reader", "role": "read"}))
        .unwrap();
    let read = reader.credentials("guarded", Access::Read).unwrap();
    assert_eq!(read["aws_access_key_id"], CANARIES[2]);
    owner.credentials("guarded", Access::Write).unwrap();
    owner.credentials("guarded-remote", Access::Write).unwrap();

    for pipe in ["guarded", "guarded-remote"] {
        let events = owner.audit(pipe, &AuditQuery::default()).unwrap();
        assert!(events.len() >= 2, "{events:?}");
        let text = serde_json::to_string(&events).unwrap();
        for canary in CANARIES {
            assert!(
                !text.contains(canary),
                "{canary} is in the audit of {pipe}: {text}"
            );
        }
        assert!(!text.contains("correct horse"), "{text}");
    }
}

/// `since`, `user` and `action` narrow the trail before its length cap; each one alone and
/// together; an unknown action is a 400 naming the known ones and lists nothing.
pub fn audit_filters_by_time_user_and_action(h: &dyn Harness) {
    let owner = h.user("owner");
    let reader = h.user("reader");
    owner.create_pipe(&watched_pipe("filtered")).unwrap();
    owner
        .grant("filtered", &json!({"username": "reader", "role": "read"}))
        .unwrap();
    reader.credentials("filtered", Access::Read).unwrap();
    h.advance(TimeDelta::days(2));
    let later = h.today().and_time(chrono::NaiveTime::MIN).and_utc();
    reader.credentials("filtered", Access::Read).unwrap();
    reader.credentials("filtered", Access::Read).unwrap();
    owner.credentials("filtered", Access::Write).unwrap();

    let listed = |query: AuditQuery| {
        summary(&owner.audit("filtered", &query).unwrap())
            .into_iter()
            .map(|(who, action, _, _)| format!("{who} {action}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(AuditQuery {
            since: Some(later),
            ..AuditQuery::default()
        }),
        [
            "owner credentials.write",
            "reader credentials.read",
            "reader credentials.read"
        ]
    );
    assert_eq!(
        listed(AuditQuery {
            user: Some("reader".into()),
            ..AuditQuery::default()
        }),
        [
            "reader credentials.read",
            "reader credentials.read",
            "reader credentials.read"
        ]
    );
    assert_eq!(
        listed(AuditQuery {
            action: Some("grant.set".into()),
            ..AuditQuery::default()
        }),
        ["owner grant.set"]
    );
    assert_eq!(
        listed(AuditQuery {
            since: Some(later),
            user: Some("owner".into()),
            action: Some("credentials.write".into()),
        }),
        ["owner credentials.write"]
    );
    assert!(
        listed(AuditQuery {
            since: Some(later + TimeDelta::seconds(1)),
            ..AuditQuery::default()
        })
        .is_empty()
    );
    let err = expect_err(
        owner.audit(
            "filtered",
            &AuditQuery {
                action: Some("credentials.steal".into()),
                ..AuditQuery::default()
            },
        ),
        ErrorKind::Invalid,
        "Unknown action",
    );
    assert_eq!(err.field(), Some("action"));
    assert!(
        err.message()
            .contains("credentials.read, credentials.write"),
        "{err}"
    );
}
