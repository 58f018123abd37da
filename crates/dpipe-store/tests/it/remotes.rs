//! Remotes: round trips, unique names, and refusing to delete one pipes use.

use dpipe_store::StoreError;
use serde_json::json;

use crate::{Fixture, new_remote, object, pipe, remote, user};

pub fn remotes_round_trip(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let bob = user(store, "bob");
    let zeta = remote(store, &ann, "zeta");
    let alpha = remote(store, &ann, "Alpha");
    let beta = remote(store, &ann, "beta");
    let zulu = remote(store, &ann, "Zulu");
    remote(store, &bob, "bobs");
    assert_eq!(zeta.name, "zeta");
    assert_eq!(zeta.owner_id, ann.id);
    assert_eq!(zeta.credentials.as_deref(), Some("sealed-zeta"));
    assert_eq!(zeta.settings, new_remote(&ann, "zeta").settings);
    assert_eq!(zeta.schema, json!({"columns": ["a", "b"]}));
    assert_eq!(store.remote_by_name("zeta").unwrap().as_ref(), Some(&zeta));
    assert_eq!(store.remote_by_id(zeta.id).unwrap().as_ref(), Some(&zeta));
    assert_eq!(store.remote_by_name("nope").unwrap(), None);
    // By name, in byte order (upper case first) as SQLite sorts, whatever the database's
    // locale would say.
    assert_eq!(
        store.remotes_of_owner(ann.id).unwrap(),
        [alpha, zulu, beta, zeta.clone()]
    );

    let mut changed = zeta.clone();
    changed.protocol = "sftp".into();
    changed.location = "host:/path".into();
    changed.credentials = None;
    changed.settings = object(json!({"port": 22}));
    changed.schema = json!([1, "two"]);
    changed.name = "ignored".into();
    let updated = store.update_remote(&changed).unwrap();
    assert_eq!(updated.name, "zeta", "the name is not a mutable field");
    assert_eq!(
        (
            updated.protocol.as_str(),
            updated.location.as_str(),
            &updated.credentials
        ),
        ("sftp", "host:/path", &None)
    );
    assert_eq!(updated.settings, object(json!({"port": 22})));
    assert_eq!(updated.schema, json!([1, "two"]));
    assert_eq!(store.remote_by_id(zeta.id).unwrap(), Some(updated));

    changed.id += 1000;
    assert!(matches!(
        store.update_remote(&changed),
        Err(StoreError::Backend(_))
    ));
}

pub fn remote_names_are_unique(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let bob = user(store, "bob");
    let first = remote(store, &ann, "shared");
    assert!(matches!(
        store.insert_remote(&new_remote(&bob, "shared")),
        Err(StoreError::Unique("name"))
    ));
    assert!(store.remotes_of_owner(bob.id).unwrap().is_empty());
    assert_eq!(store.remote_by_name("shared").unwrap(), Some(first));
}

pub fn a_remote_in_use_stays(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let used = remote(store, &ann, "used");
    for name in ["zz-pipe", "aa-pipe"] {
        let mut p = pipe(store, &ann, name, None);
        p.remote_id = Some(used.id);
        store.update_pipe(&p).unwrap();
    }
    match store.delete_remote(used.id) {
        Err(StoreError::InUse(names)) => assert_eq!(names, ["aa-pipe", "zz-pipe"]),
        other => panic!("expected InUse, got {other:?}"),
    }
    assert_eq!(store.remote_by_id(used.id).unwrap(), Some(used.clone()));

    let unused = remote(store, &ann, "unused");
    store.delete_remote(unused.id).unwrap();
    assert_eq!(store.remote_by_id(unused.id).unwrap(), None);
    // Deleting what is not there is no error.
    store.delete_remote(unused.id).unwrap();
}
