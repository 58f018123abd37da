//! Pipes: round trips, unique names, ancestry, and the cascade of deleting one.

use dpipe_store::{Grantee, NewGrant, StoreError};
use serde_json::{Value, json};

use crate::{Fixture, new_pipe, object, pipe, remote, user};

pub fn pipes_round_trip(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let backing = remote(store, &ann, "backing");
    let b = pipe(store, &ann, "b-pipe", None);
    let mut new = new_pipe(&ann, "A-pipe", Some(&b));
    new.remote_id = Some(backing.id);
    new.protocol = Some("s3".into());
    new.credentials = Some("sealed".into());
    new.schema = json!({"k": [true, null, 1.5]});
    let a = store.insert_pipe(&new).unwrap();
    assert_eq!(
        (a.name.as_str(), a.owner_id, a.parent_id, a.remote_id),
        ("A-pipe", ann.id, Some(b.id), Some(backing.id))
    );
    assert_eq!(a.protocol.as_deref(), Some("s3"));
    assert_eq!(a.location.as_deref(), Some("folder/A-pipe"));
    assert_eq!(a.credentials.as_deref(), Some("sealed"));
    assert_eq!(a.settings, new.settings);
    assert_eq!(a.options, new.options);
    assert_eq!(a.schema, new.schema);
    assert_eq!(b.schema, Value::Null);
    assert_eq!(store.pipe_by_name("A-pipe").unwrap().as_ref(), Some(&a));
    assert_eq!(
        store.pipe_by_name("a-pipe").unwrap(),
        None,
        "names are case-sensitive"
    );
    assert_eq!(store.all_pipes().unwrap(), [a.clone(), b.clone()]);

    let mut changed = a.clone();
    changed.parent_id = None;
    changed.remote_id = None;
    changed.protocol = None;
    changed.location = None;
    changed.credentials = None;
    changed.settings = object(json!({"x": 1}));
    changed.options = object(json!({}));
    changed.schema = json!("text");
    changed.name = "ignored".into();
    changed.owner_id = ann.id + 1000;
    let updated = store.update_pipe(&changed).unwrap();
    changed.name = a.name.clone();
    changed.owner_id = ann.id;
    assert_eq!(updated, changed, "name and owner are not mutable fields");
    assert_eq!(store.pipe_by_name("A-pipe").unwrap(), Some(updated));

    changed.id += 1000;
    assert!(matches!(
        store.update_pipe(&changed),
        Err(StoreError::Backend(_))
    ));
}

pub fn pipe_names_are_unique(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let bob = user(store, "bob");
    let first = pipe(store, &ann, "taken", None);
    assert!(matches!(
        store.insert_pipe(&new_pipe(&bob, "taken", None)),
        Err(StoreError::Unique("name"))
    ));
    assert_eq!(store.all_pipes().unwrap(), [first]);
}

pub fn chains_hold_a_pipe_and_its_ancestors(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let root = pipe(store, &ann, "root", None);
    let mid = pipe(store, &ann, "mid", Some(&root));
    let leaf = pipe(store, &ann, "leaf", Some(&mid));
    let sibling = pipe(store, &ann, "sibling", Some(&root));
    let sorted = |id| {
        let mut chain = store.pipe_chain(id).unwrap();
        chain.sort_by_key(|p| p.id);
        chain
    };
    assert_eq!(sorted(leaf.id), [root.clone(), mid.clone(), leaf]);
    assert_eq!(sorted(sibling.id), [root.clone(), sibling]);
    assert_eq!(sorted(root.id), [root]);
    assert!(store.pipe_chain(mid.id + 1000).unwrap().is_empty());
}

pub fn deleting_a_pipe_takes_its_descendants_and_grants(f: &Fixture) {
    let store = &*f.store;
    let ann = user(store, "ann");
    let bob = user(store, "bob");
    let root = pipe(store, &ann, "root", None);
    let mid = pipe(store, &ann, "mid", Some(&root));
    let leaf = pipe(store, &ann, "leaf", Some(&mid));
    let other = pipe(store, &ann, "other", None);
    for p in [&mid, &leaf, &other] {
        store
            .upsert_grant(&NewGrant {
                pipe_id: p.id,
                grantee: Grantee::User(bob.id),
                role: "read".into(),
                expiration_date: None,
            })
            .unwrap();
    }
    store.delete_pipe(mid.id).unwrap();
    assert_eq!(store.all_pipes().unwrap(), [other.clone(), root]);
    let reaching: Vec<i64> = store
        .grants_reaching(Some(bob.id))
        .unwrap()
        .iter()
        .map(|g| g.pipe_id)
        .collect();
    assert_eq!(reaching, [other.id]);
    assert!(store.grants_on_pipe(leaf.id).unwrap().is_empty());
    // Deleting what is not there is no error.
    store.delete_pipe(mid.id).unwrap();
}

/// Listing starts from what reaches the caller: own pipes, granted and public ones, their
/// descendants and (to resolve storage) their ancestors — and nothing else.
pub fn pipes_reaching_a_caller(f: &Fixture) {
    let store = &*f.store;
    let (ann, bob, cat) = (user(store, "ann"), user(store, "bob"), user(store, "cat"));
    let ann_root = pipe(store, &ann, "ann-root", None);
    let ann_child = pipe(store, &ann, "ann-child", Some(&ann_root));
    pipe(store, &bob, "ann-grandchild", Some(&ann_child));
    let ann_other = pipe(store, &ann, "ann-other", None);
    pipe(store, &bob, "bob-root", None);
    let cat_public = pipe(store, &cat, "cat-public", None);
    let grant = |pipe: &dpipe_store::PipeRecord, grantee: Grantee| {
        store
            .upsert_grant(&NewGrant {
                pipe_id: pipe.id,
                grantee,
                role: "read".into(),
                expiration_date: None,
            })
            .unwrap();
    };
    grant(&ann_child, Grantee::User(cat.id));
    grant(&cat_public, Grantee::Public);
    grant(&ann_other, Grantee::Email("dan@example.com".into()));
    let names = |user_id: Option<i64>| -> Vec<String> {
        let pipes = store.pipes_reaching(user_id).unwrap();
        pipes.into_iter().map(|p| p.name).collect()
    };
    // Bob owns a grandchild under Ann's tree: its ancestors come along to resolve storage.
    assert_eq!(
        names(Some(bob.id)),
        [
            "ann-child",
            "ann-grandchild",
            "ann-root",
            "bob-root",
            "cat-public"
        ]
    );
    // Cat reads Ann's child (and so its descendant) and owns the public pipe.
    assert_eq!(
        names(Some(cat.id)),
        ["ann-child", "ann-grandchild", "ann-root", "cat-public"]
    );
    assert_eq!(
        names(Some(ann.id)),
        [
            "ann-child",
            "ann-grandchild",
            "ann-other",
            "ann-root",
            "cat-public"
        ]
    );
    assert_eq!(names(None), ["cat-public"], "strangers see public pipes");
    let stranger = user(store, "eve");
    assert_eq!(names(Some(stranger.id)), ["cat-public"]);
}
