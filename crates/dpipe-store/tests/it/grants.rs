//! Grants: upserts keyed by (pipe, grantee), the lookups, and claiming invitations.

use chrono::NaiveDate;
use dpipe_store::{GrantRecord, Grantee, NewGrant, Store, StoreError};

use crate::{Fixture, pipe, user};

fn grant(store: &dyn Store, pipe_id: i64, grantee: Grantee, role: &str) -> GrantRecord {
    store
        .upsert_grant(&NewGrant {
            pipe_id,
            grantee,
            role: role.into(),
            expiration_date: None,
        })
        .unwrap()
}

fn pipe_ids(grants: &[GrantRecord]) -> Vec<i64> {
    grants.iter().map(|g| g.pipe_id).collect()
}

pub fn grants_round_trip(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let bob = user(store, "bob");
    let one = pipe(store, &ann, "one", None);
    let two = pipe(store, &ann, "two", None);
    let expiry = NaiveDate::from_ymd_opt(2027, 2, 28).unwrap();
    let to_bob = store
        .upsert_grant(&NewGrant {
            pipe_id: one.id,
            grantee: Grantee::User(bob.id),
            role: "read".into(),
            expiration_date: Some(expiry),
        })
        .unwrap();
    assert_eq!(
        (
            to_bob.pipe_id,
            &to_bob.grantee,
            to_bob.role.as_str(),
            to_bob.expiration_date
        ),
        (one.id, &Grantee::User(bob.id), "read", Some(expiry))
    );
    let invite = grant(
        store,
        one.id,
        Grantee::Email("carol@example.com".into()),
        "write",
    );
    let public = grant(store, two.id, Grantee::Public, "read");
    assert_eq!(public.grantee, Grantee::Public);

    // Upserting again replaces role and expiry, keeping the row.
    let replaced = grant(store, one.id, Grantee::User(bob.id), "write");
    assert_eq!(
        (
            replaced.id,
            replaced.role.as_str(),
            replaced.expiration_date
        ),
        (to_bob.id, "write", None)
    );

    assert_eq!(
        store.grants_on_pipe(one.id).unwrap(),
        [replaced.clone(), invite.clone()]
    );
    assert_eq!(
        store.grants_reaching(Some(bob.id)).unwrap(),
        [replaced.clone(), public.clone()]
    );
    assert_eq!(
        store.grants_reaching(None).unwrap(),
        std::slice::from_ref(&public)
    );
    assert_eq!(store.grants_reaching(Some(ann.id)).unwrap(), [public]);
    assert_eq!(store.invitations_to("carol@example.com").unwrap(), [invite]);
    assert!(store.invitations_to("bob@example.com").unwrap().is_empty());

    assert!(store.delete_grant(one.id, &Grantee::User(bob.id)).unwrap());
    assert!(!store.delete_grant(one.id, &Grantee::User(bob.id)).unwrap());
    assert!(
        !store
            .delete_grant(two.id, &Grantee::Email("x@example.com".into()))
            .unwrap()
    );
    assert_eq!(
        pipe_ids(&store.grants_reaching(Some(bob.id)).unwrap()),
        [two.id]
    );
}

pub fn a_grant_to_a_missing_pipe_is_refused(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let one = pipe(store, &ann, "one", None);
    for (pipe_id, grantee) in [
        (one.id + 1000, Grantee::Public),
        (one.id, Grantee::User(ann.id + 1000)),
    ] {
        match store.upsert_grant(&NewGrant {
            pipe_id,
            grantee,
            role: "read".into(),
            expiration_date: None,
        }) {
            Err(StoreError::Backend(message)) => {
                assert_eq!(
                    message,
                    "grant refers to a pipe or user that no longer exists"
                )
            }
            other => panic!("expected a backend error, got {other:?}"),
        }
    }
    assert!(store.grants_on_pipe(one.id).unwrap().is_empty());
}

pub fn invitations_are_claimed_on_request(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let carol = user(store, "carol");
    let one = pipe(store, &ann, "one", None);
    let two = pipe(store, &ann, "two", None);
    let three = pipe(store, &ann, "three", None);
    let invite = |p: i64, email: &str| grant(store, p, Grantee::Email(email.into()), "read");
    let first = invite(one.id, "carol@example.com");
    invite(two.id, "carol@example.com");
    invite(three.id, "carol@example.com");
    invite(three.id, "dave@example.com");

    // Only the named pipe's invitation, when one is named.
    assert_eq!(
        store
            .claim_invitations(carol.id, "carol@example.com", Some(one.id))
            .unwrap(),
        [one.id]
    );
    let mine = store.grants_reaching(Some(carol.id)).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].id, &mine[0].grantee),
        (first.id, &Grantee::User(carol.id))
    );

    let mut rest = store
        .claim_invitations(carol.id, "carol@example.com", None)
        .unwrap();
    rest.sort();
    assert_eq!(rest, [two.id, three.id]);
    assert_eq!(
        pipe_ids(&store.grants_reaching(Some(carol.id)).unwrap()),
        [one.id, two.id, three.id]
    );
    assert!(
        store
            .invitations_to("carol@example.com")
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        pipe_ids(&store.invitations_to("dave@example.com").unwrap()),
        [three.id]
    );
    assert!(
        store
            .claim_invitations(carol.id, "carol@example.com", None)
            .unwrap()
            .is_empty()
    );
}

pub fn a_claimed_invitation_replaces_a_grant(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let carol = user(store, "carol");
    let one = pipe(store, &ann, "one", None);
    grant(store, one.id, Grantee::User(carol.id), "read");
    let invite = grant(
        store,
        one.id,
        Grantee::Email("carol@example.com".into()),
        "write",
    );
    assert_eq!(
        store
            .claim_invitations(carol.id, "carol@example.com", None)
            .unwrap(),
        [one.id]
    );
    let on_pipe = store.grants_on_pipe(one.id).unwrap();
    assert_eq!(on_pipe.len(), 1, "{on_pipe:?}");
    assert_eq!(
        (on_pipe[0].id, &on_pipe[0].grantee, on_pipe[0].role.as_str()),
        (invite.id, &Grantee::User(carol.id), "write")
    );
}
