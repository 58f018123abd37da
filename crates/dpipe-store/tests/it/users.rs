//! Accounts: round trips, the unique fields, and the cascade of unregistering.

use dpipe_store::{Grantee, NewEmailLink, NewGrant, NewStorageKey, StoreError};

use crate::{Fixture, new_user, pipe, remote, user};

pub fn users_round_trip(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    assert_eq!(ann.username, "ann");
    assert_eq!(ann.email, "ann@example.com");
    assert_eq!(ann.password_hash, "hash-ann");
    assert_eq!(ann.token_seed, "seed-ann");
    assert_eq!(store.user_by_id(ann.id).unwrap().as_ref(), Some(&ann));
    assert_eq!(store.user_by_username("ann").unwrap().as_ref(), Some(&ann));
    assert_eq!(
        store.user_by_email("ann@example.com").unwrap().as_ref(),
        Some(&ann)
    );
    assert_eq!(
        store.user_by_token_hash("token-ann").unwrap().as_ref(),
        Some(&ann)
    );
    assert_eq!(store.user_by_username("bob").unwrap(), None);
    assert_eq!(store.user_by_id(ann.id + 1000).unwrap(), None);

    store.set_user_token(ann.id, "token-2", "seed-2").unwrap();
    assert_eq!(store.user_by_token_hash("token-ann").unwrap(), None);
    let rotated = store.user_by_token_hash("token-2").unwrap().unwrap();
    assert_eq!(
        (rotated.id, rotated.token_seed.as_str()),
        (ann.id, "seed-2")
    );
}

pub fn user_unique_fields_are_named(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let bob = user(store, "bob");
    let clash = |change: fn(&mut dpipe_store::NewUser)| {
        let mut new = new_user("carol");
        change(&mut new);
        match store.insert_user(&new) {
            Err(StoreError::Unique(field)) => field,
            other => panic!("expected a unique error, got {other:?}"),
        }
    };
    assert_eq!(clash(|u| u.username = "ann".into()), "username");
    assert_eq!(clash(|u| u.email = "ann@example.com".into()), "email");
    assert_eq!(clash(|u| u.token_hash = "token-ann".into()), "token");
    assert!(matches!(
        store.set_user_token(bob.id, "token-ann", "x"),
        Err(StoreError::Unique("token"))
    ));
    // Nothing changed.
    assert_eq!(store.user_by_username("carol").unwrap(), None);
    assert_eq!(
        store.user_by_id(bob.id).unwrap().unwrap().token_hash,
        "token-bob"
    );
    assert_eq!(
        store.user_by_token_hash("token-ann").unwrap().unwrap().id,
        ann.id
    );
}

pub fn deleting_a_user_takes_what_they_own(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let bob = user(store, "bob");
    let ann_remote = remote(store, &ann, "ann-remote");
    let mut top = pipe(store, &ann, "ann-top", None);
    top.remote_id = Some(ann_remote.id);
    let top = store.update_pipe(&top).unwrap();
    let child = pipe(store, &ann, "ann-child", Some(&top));
    let bobs = pipe(store, &bob, "bob-pipe", None);
    for (pipe_id, grantee) in [
        (bobs.id, Grantee::User(ann.id)),
        (top.id, Grantee::User(bob.id)),
    ] {
        store
            .upsert_grant(&NewGrant {
                pipe_id,
                grantee,
                role: "read".into(),
                expiration_date: None,
            })
            .unwrap();
    }
    store
        .insert_storage_key(
            &NewStorageKey {
                key_id: "AKANN".into(),
                user_id: Some(ann.id),
                pipe_id: bobs.id,
                access: "read".into(),
                created_at: "2026-01-01T00:00:00.000Z".into(),
                expires_at: "2026-01-02T00:00:00.000Z".into(),
            },
            "2025-01-01T00:00:00.000Z",
        )
        .unwrap();
    store
        .insert_email_link(
            &NewEmailLink {
                user_id: ann.id,
                token_hash: "link-ann".into(),
                created_at: "2026-01-01T00:00:00.000Z".into(),
                expires_at: "2026-01-02T00:00:00.000Z".into(),
            },
            "2025-01-01T00:00:00.000Z",
        )
        .unwrap();

    store.delete_user(ann.id).unwrap();
    assert_eq!(store.user_by_id(ann.id).unwrap(), None);
    assert_eq!(store.remote_by_id(ann_remote.id).unwrap(), None);
    for gone in [&top, &child] {
        assert_eq!(store.pipe_by_name(&gone.name).unwrap(), None);
    }
    assert_eq!(store.all_pipes().unwrap(), std::slice::from_ref(&bobs));
    assert!(store.grants_on_pipe(bobs.id).unwrap().is_empty());
    assert!(store.grants_reaching(Some(bob.id)).unwrap().is_empty());
    assert_eq!(store.storage_key("AKANN").unwrap(), None);
    assert_eq!(store.take_email_link("link-ann").unwrap(), None);
    assert_eq!(store.user_by_id(bob.id).unwrap(), Some(bob));
}

pub fn a_user_whose_remote_others_use_stays(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let bob = user(store, "bob");
    let shared = remote(store, &ann, "shared");
    let own = pipe(store, &ann, "ann-pipe", None);
    let mut bobs = pipe(store, &bob, "bob-pipe", None);
    bobs.remote_id = Some(shared.id);
    store.update_pipe(&bobs).unwrap();

    match store.delete_user(ann.id) {
        Err(StoreError::InUse(names)) => assert_eq!(names, ["pipes of other users"]),
        other => panic!("expected InUse, got {other:?}"),
    }
    // The transaction rolled back: ann, her pipe and her remote are all still there.
    assert!(store.user_by_id(ann.id).unwrap().is_some());
    assert_eq!(store.pipe_by_name("ann-pipe").unwrap(), Some(own));
    assert_eq!(store.remote_by_id(shared.id).unwrap(), Some(shared));
}
