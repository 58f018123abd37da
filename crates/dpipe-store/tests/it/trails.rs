//! Email links, the audit trail, minted storage keys and rewriting credentials.

use dpipe_store::{
    AuditFilter, EmailLinkRecord, NewAuditEvent, NewEmailLink, NewStorageKey, StoreError,
};

use crate::{Fixture, new_remote, pipe, user};

fn link(user_id: i64, token_hash: &str, expires_at: &str) -> NewEmailLink {
    NewEmailLink {
        user_id,
        token_hash: token_hash.into(),
        created_at: "2026-06-01T00:00:00.000Z".into(),
        expires_at: expires_at.into(),
    }
}

pub fn email_links_work_once_and_expired_ones_go(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let old = "2026-06-01T00:00:00.000Z";
    store
        .insert_email_link(&link(ann.id, "old", "2026-06-02T00:00:00.000Z"), old)
        .unwrap();
    store
        .insert_email_link(&link(ann.id, "edge", "2026-06-03T00:00:00.000Z"), old)
        .unwrap();
    // Forgets the links expired before the cut-off (not the one expiring at it).
    store
        .insert_email_link(
            &link(ann.id, "new", "2026-06-10T00:00:00.000Z"),
            "2026-06-03T00:00:00.000Z",
        )
        .unwrap();
    assert_eq!(store.take_email_link("old").unwrap(), None);
    assert_eq!(
        store.take_email_link("edge").unwrap(),
        Some(EmailLinkRecord {
            user_id: ann.id,
            expires_at: "2026-06-03T00:00:00.000Z".into()
        })
    );
    assert_eq!(
        store.take_email_link("edge").unwrap(),
        None,
        "a link works once"
    );
    assert!(store.take_email_link("new").unwrap().is_some());
    // A link of a missing user is refused and the clean-up with it rolls back.
    store
        .insert_email_link(&link(ann.id, "kept", "2026-06-04T00:00:00.000Z"), old)
        .unwrap();
    assert!(matches!(
        store.insert_email_link(
            &link(ann.id + 1000, "orphan", "2026-07-01T00:00:00.000Z"),
            "2027-01-01T00:00:00.000Z"
        ),
        Err(StoreError::Backend(_))
    ));
    assert!(store.take_email_link("kept").unwrap().is_some());
}

fn event(action: &str, pipe: &str, outcome: &str) -> NewAuditEvent {
    NewAuditEvent {
        at: "2026-06-15T00:00:00.000Z".into(),
        who: "ann".into(),
        action: action.into(),
        pipe: Some(pipe.into()),
        remote: None,
        grantee: None,
        role: None,
        source: None,
        outcome: outcome.into(),
        reason: (outcome == "refused").then(|| "forbidden".into()),
        key_id: None,
        expires_at: None,
    }
}

pub fn audit_trails_start_at_the_latest_creation(f: &Fixture) {
    let store = &*f.store;
    let full = NewAuditEvent {
        remote: Some("r".into()),
        grantee: Some("user:bob".into()),
        role: Some("read".into()),
        source: Some("127.0.0.1".into()),
        key_id: Some("AK1".into()),
        expires_at: Some("2026-06-16T00:00:00.000Z".into()),
        ..event("credentials.read", "p", "refused")
    };
    let stored = store.insert_audit(&full).unwrap();
    assert_eq!(stored.event, full, "every field round-trips");
    for e in [
        event("pipe.create", "p", "allowed"),
        event("credentials.read", "p", "allowed"),
        event("pipe.delete", "p", "allowed"),
        event("pipe.create", "p", "refused"),
        event("pipe.create", "p", "allowed"),
        event("grant.set", "p", "allowed"),
        event("credentials.read", "other", "allowed"),
        event("credentials.write", "kid", "allowed"),
    ] {
        let record = store.insert_audit(&e).unwrap();
        assert!(record.id > stored.id);
    }
    let names = |pipes: &[&str], limit| -> Vec<(String, String)> {
        let pipes: Vec<String> = pipes.iter().map(|p| p.to_string()).collect();
        store
            .audit_events_for_pipes(&pipes, &AuditFilter::default(), limit)
            .unwrap()
            .into_iter()
            .map(|r| (r.event.action, r.event.pipe.unwrap()))
            .collect()
    };
    let pair = |a: &str, p: &str| (a.to_string(), p.to_string());
    assert_eq!(
        names(&["p", "kid"], 10),
        [
            pair("credentials.write", "kid"),
            pair("grant.set", "p"),
            pair("pipe.create", "p")
        ]
    );
    assert_eq!(names(&["p"], 1), [pair("grant.set", "p")]);
    assert!(names(&["p"], 0).is_empty());
    assert!(names(&[], 10).is_empty());
    assert!(names(&["nothing"], 10).is_empty());
}

pub fn audit_filters_apply_before_the_limit(f: &Fixture) {
    let store = &*f.store;
    let at = |at: &str, who: &str, action: &str| NewAuditEvent {
        at: at.into(),
        who: who.into(),
        ..event(action, "p", "allowed")
    };
    for e in [
        at("2026-06-01T00:00:00.000Z", "ann", "pipe.create"),
        at("2026-06-10T00:00:00.000Z", "bob", "credentials.read"),
        at("2026-06-14T23:59:59.999Z", "ann", "credentials.read"),
        at("2026-06-15T00:00:00.000Z", "bob", "grant.set"),
        at("2026-06-16T08:00:00.000Z", "ann", "credentials.read"),
        at("2026-06-16T09:00:00.000Z", "ann", "pipe.update"),
    ] {
        store.insert_audit(&e).unwrap();
    }
    let pipes = ["p".to_string()];
    let times = |filter: AuditFilter<'_>, limit| -> Vec<String> {
        store
            .audit_events_for_pipes(&pipes, &filter, limit)
            .unwrap()
            .into_iter()
            .map(|r| r.event.at)
            .collect()
    };
    let since = AuditFilter {
        since: Some("2026-06-15T00:00:00.000Z"),
        ..AuditFilter::default()
    };
    assert_eq!(
        times(since, 10),
        [
            "2026-06-16T09:00:00.000Z",
            "2026-06-16T08:00:00.000Z",
            "2026-06-15T00:00:00.000Z"
        ]
    );
    let reads_of_ann = AuditFilter {
        who: Some("ann"),
        action: Some("credentials.read"),
        ..AuditFilter::default()
    };
    assert_eq!(
        times(reads_of_ann, 10),
        ["2026-06-16T08:00:00.000Z", "2026-06-14T23:59:59.999Z"]
    );
    let bob = AuditFilter {
        who: Some("bob"),
        ..AuditFilter::default()
    };
    assert_eq!(
        times(bob, 2),
        ["2026-06-15T00:00:00.000Z", "2026-06-10T00:00:00.000Z"]
    );
    assert_eq!(times(bob, usize::MAX).len(), 2);
    let nobody = AuditFilter {
        who: Some("carol"),
        ..AuditFilter::default()
    };
    assert!(times(nobody, 10).is_empty());
}

fn key(
    key_id: &str,
    user_id: Option<i64>,
    pipe_id: i64,
    access: &str,
    expires_at: &str,
) -> NewStorageKey {
    NewStorageKey {
        key_id: key_id.into(),
        user_id,
        pipe_id,
        access: access.into(),
        created_at: "2026-06-01T00:00:00.000Z".into(),
        expires_at: expires_at.into(),
    }
}

pub fn storage_keys_newest_and_forgotten(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let one = pipe(store, &ann, "one", None);
    let early = "2026-01-01T00:00:00.000Z";
    let a = store
        .insert_storage_key(
            &key(
                "AKA",
                Some(ann.id),
                one.id,
                "read",
                "2026-06-05T00:00:00.000Z",
            ),
            early,
        )
        .unwrap();
    assert_eq!(
        (
            a.key_id.as_str(),
            a.user_id,
            a.pipe_id,
            a.access.as_str(),
            a.expires_at.as_str()
        ),
        (
            "AKA",
            Some(ann.id),
            one.id,
            "read",
            "2026-06-05T00:00:00.000Z"
        )
    );
    let b = store
        .insert_storage_key(
            &key(
                "AKB",
                Some(ann.id),
                one.id,
                "read",
                "2026-06-09T00:00:00.000Z",
            ),
            early,
        )
        .unwrap();
    let c = store
        .insert_storage_key(
            &key(
                "AKC",
                Some(ann.id),
                one.id,
                "read",
                "2026-06-09T00:00:00.000Z",
            ),
            early,
        )
        .unwrap();
    let anon = store
        .insert_storage_key(
            &key("AKP", None, one.id, "read", "2026-06-01T00:00:00.000Z"),
            early,
        )
        .unwrap();
    store
        .insert_storage_key(
            &key(
                "AKW",
                Some(ann.id),
                one.id,
                "write",
                "2026-06-20T00:00:00.000Z",
            ),
            early,
        )
        .unwrap();

    assert_eq!(store.storage_key("AKA").unwrap(), Some(a.clone()));
    assert_eq!(store.storage_key("AKZ").unwrap(), None);
    // Latest expiry, then the latest minted among equals.
    assert_eq!(
        store
            .newest_storage_key(one.id, Some(ann.id), "read")
            .unwrap(),
        Some(c.clone())
    );
    assert_eq!(
        store.newest_storage_key(one.id, None, "read").unwrap(),
        Some(anon)
    );
    assert_eq!(
        store
            .newest_storage_key(one.id, Some(ann.id + 1), "read")
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .newest_storage_key(one.id, Some(ann.id), "admin")
            .unwrap(),
        None
    );

    assert!(matches!(
        store.insert_storage_key(
            &key("AKA", None, one.id, "read", "2026-06-30T00:00:00.000Z"),
            early
        ),
        Err(StoreError::Backend(_))
    ));
    // Minting forgets the keys that expired before the cut-off.
    store
        .insert_storage_key(
            &key("AKD", None, one.id, "read", "2026-07-01T00:00:00.000Z"),
            "2026-06-06T00:00:00.000Z",
        )
        .unwrap();
    assert_eq!(store.storage_key("AKA").unwrap(), None);
    assert_eq!(store.storage_key("AKP").unwrap(), None);
    assert_eq!(store.storage_key("AKB").unwrap(), Some(b));
    assert_eq!(store.storage_key("AKC").unwrap(), Some(c));
}

/// Two remotes and two pipes with credentials, one of each without.
fn credentials_fixture(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    for name in ["r1", "r2", "r3"] {
        let mut new = new_remote(&ann, name);
        if name == "r3" {
            new.credentials = None;
        }
        store.insert_remote(&new).unwrap();
    }
    for (name, credentials) in [("p1", Some("sealed-p1")), ("p2", None)] {
        let mut p = pipe(store, &ann, name, None);
        p.credentials = credentials.map(Into::into);
        store.update_pipe(&p).unwrap();
    }
}

fn all_credentials(f: &Fixture) -> Vec<Option<String>> {
    let store = &*f.store;
    let mut values: Vec<Option<String>> = ["r1", "r2", "r3"]
        .iter()
        .map(|name| store.remote_by_name(name).unwrap().unwrap().credentials)
        .collect();
    values.extend(
        ["p1", "p2"]
            .iter()
            .map(|name| store.pipe_by_name(name).unwrap().unwrap().credentials),
    );
    values
}

pub fn credentials_are_rewritten_in_one_transaction(f: &Fixture) {
    credentials_fixture(f);
    let mut seen = Vec::new();
    let count = f
        .store
        .rewrite_credentials(&mut |kind, name, stored| {
            seen.push(format!("{kind}:{name}:{stored}"));
            // r2 is kept as it is.
            Ok((name != "r2").then(|| format!("resealed({stored})")))
        })
        .unwrap();
    seen.sort();
    assert_eq!(
        seen,
        [
            "pipe:p1:sealed-p1",
            "remote:r1:sealed-r1",
            "remote:r2:sealed-r2"
        ]
    );
    assert_eq!(count, 2);
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        all_credentials(f),
        [
            some("resealed(sealed-r1)"),
            some("sealed-r2"),
            None,
            some("resealed(sealed-p1)"),
            None
        ]
    );
}

pub fn a_failed_rewrite_changes_nothing(f: &Fixture) {
    credentials_fixture(f);
    let before = all_credentials(f);
    let mut calls = 0;
    let result = f.store.rewrite_credentials(&mut |kind, _, stored| {
        calls += 1;
        if kind == "pipe" {
            Err("the key ring lacks a key".into())
        } else {
            Ok(Some(format!("new-{stored}")))
        }
    });
    match result {
        Err(StoreError::Backend(message)) => assert_eq!(message, "the key ring lacks a key"),
        other => panic!("expected the callback's error, got {other:?}"),
    }
    assert_eq!(calls, 3, "two remotes rewritten, then the pipe failed");
    assert_eq!(all_credentials(f), before);
}

/// The sealing key is one value every store on the database sees, replaced by each set.
pub fn the_sealing_key_is_shared(f: &Fixture) {
    let other = f.another();
    assert_eq!(f.store.sealing_key().unwrap(), None);
    f.store.set_sealing_key("key-1").unwrap();
    assert_eq!(other.sealing_key().unwrap().as_deref(), Some("key-1"));
    other.set_sealing_key("key-2").unwrap();
    assert_eq!(f.store.sealing_key().unwrap().as_deref(), Some("key-2"));
}
