//! Several stores on one database at once, as several server instances (PostgreSQL) or
//! processes (SQLite) would be: unique names have one winner, upserts lose nothing.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::thread;

use dpipe_store::{Grantee, NewGrant, StoreError};

use crate::{Fixture, new_pipe, pipe, user};

/// Two stores each try to create pipes `race-0` … `race-49`, in step: every name gets exactly
/// one `Ok`, the other attempt a `Unique("name")`.
pub fn concurrent_creates_of_one_name_have_one_winner(f: &Fixture) {
    const NAMES: usize = 50;
    let ann = user(&*f.store, "ann");
    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = [f.store.clone(), f.another()]
        .into_iter()
        .map(|store| {
            let (barrier, ann) = (barrier.clone(), ann.clone());
            thread::spawn(move || {
                (0..NAMES)
                    .map(|i| {
                        barrier.wait();
                        match store.insert_pipe(&new_pipe(&ann, &format!("race-{i}"), None)) {
                            Ok(_) => true,
                            Err(StoreError::Unique("name")) => false,
                            Err(other) => panic!("race-{i}: {other:?}"),
                        }
                    })
                    .collect::<Vec<bool>>()
            })
        })
        .collect();
    let outcomes: Vec<Vec<bool>> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    for (i, (first, second)) in outcomes[0].iter().zip(&outcomes[1]).enumerate() {
        assert!(first ^ second, "race-{i}: {:?}", (first, second));
    }
    assert_eq!(f.store.all_pipes().unwrap().len(), NAMES);
}

/// Eight stores upsert grants on one pipe at once: each writes the same 20 user grantees (with
/// its own role) and 20 invitations of its own. Every upsert succeeds, each (pipe, grantee)
/// has one row, and every invitation is there.
pub fn concurrent_grants_lose_nothing(f: &Fixture) {
    const WRITERS: usize = 8;
    const GRANTEES: usize = 20;
    let ann = user(&*f.store, "ann");
    let shared = pipe(&*f.store, &ann, "shared", None);
    let users: Vec<i64> = (0..GRANTEES)
        .map(|i| user(&*f.store, &format!("u{i}")).id)
        .collect();
    let barrier = Arc::new(Barrier::new(WRITERS));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = if w % 2 == 0 {
                f.store.clone()
            } else {
                f.another()
            };
            let (barrier, users) = (barrier.clone(), users.clone());
            thread::spawn(move || {
                barrier.wait();
                for (i, user_id) in users.iter().enumerate() {
                    for grantee in [
                        Grantee::User(*user_id),
                        Grantee::Email(format!("w{w}-{i}@example.com")),
                    ] {
                        store
                            .upsert_grant(&NewGrant {
                                pipe_id: shared.id,
                                grantee,
                                role: format!("role-{w}"),
                                expiration_date: None,
                            })
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let mut rows: BTreeMap<String, usize> = BTreeMap::new();
    for grant in f.store.grants_on_pipe(shared.id).unwrap() {
        *rows.entry(grant.grantee.key()).or_default() += 1;
    }
    assert_eq!(rows.len(), GRANTEES + WRITERS * GRANTEES);
    assert!(rows.values().all(|&n| n == 1), "{rows:?}");
    for user_id in users {
        assert!(rows.contains_key(&Grantee::User(user_id).key()));
    }
}
