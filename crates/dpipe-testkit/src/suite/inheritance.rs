//! Parent and child pipes: storage, settings and credentials come from the root; a child
//! narrows them with its own sub-folder, filters and schema.

use dpipe_client::ErrorKind;
use dpipe_core::role::Access;
use dpipe_core::wire::UpdateMode;
use serde_json::json;

use super::{child_pipe, expect_err, s3_pipe, snapshot};
use crate::harness::Harness;

/// A child (and grandchild) resolves protocol, location and credentials through its root and
/// inherits filters and schema it does not set itself.
pub fn child_inherits_storage_and_settings(h: &dyn Harness) {
    let owner = h.user("owner");
    let mut parent = s3_pipe("vendor");
    parent["options"] = json!({"include": "*.csv", "exclude": "tmp*"});
    parent["schema"] = json!({"pandas": {"sep": ";"}});
    owner.create_pipe(&parent).unwrap();
    owner
        .create_pipe(&child_pipe("vendor-x", "vendor", "vendorX/"))
        .unwrap();
    owner
        .create_pipe(&json!({"name": "vendor-x-2026", "parent": "vendor-x",
        "options": {"dir": "2026", "include": "*.parquet"}, "schema": {"own": true}}))
        .unwrap();
    let child = owner.get_pipe("vendor-x").unwrap();
    assert_eq!(child.parent.as_deref(), Some("vendor"));
    assert_eq!(child.parent_ultimate, "vendor");
    assert_eq!(
        (child.protocol.as_str(), child.location.as_str()),
        ("s3", "test-bucket")
    );
    assert_eq!(child.options["remotepath"], "s3://test-bucket/vendorX/");
    assert_eq!(child.options["include"], "*.csv");
    assert_eq!(child.options["exclude"], "tmp*");
    assert_eq!(child.schema, json!({"pandas": {"sep": ";"}}));
    let grandchild = owner.get_pipe("vendor-x-2026").unwrap();
    assert_eq!(grandchild.parent_ultimate, "vendor");
    assert_eq!(
        grandchild.options["remotepath"],
        "s3://test-bucket/vendorX/2026/"
    );
    assert_eq!(grandchild.options["include"], "*.parquet");
    assert_eq!(grandchild.options["exclude"], "tmp*");
    assert_eq!(grandchild.schema, json!({"own": true}));
    let creds = owner.credentials("vendor-x-2026", Access::Read).unwrap();
    assert_eq!(creds["aws_access_key_id"], "AKIDFLAT");
    // Changing the root's storage moves every descendant with it.
    owner
        .update_pipe(
            "vendor",
            &json!({"location": "moved-bucket"}),
            UpdateMode::Partial,
        )
        .unwrap();
    let moved = owner.get_pipe("vendor-x-2026").unwrap();
    assert_eq!(
        moved.options["remotepath"],
        "s3://moved-bucket/vendorX/2026/"
    );
}

/// A child may repeat the storage it inherits but not change it, nor carry credentials.
pub fn child_storage_overrides_refused(h: &dyn Harness) {
    let owner = h.user("owner");
    owner.create_pipe(&s3_pipe("base")).unwrap();
    let before = snapshot(owner.api.as_ref());
    let same = json!({"name": "c1", "parent": "base", "protocol": "s3", "location": "test-bucket"});
    let cases = [
        (
            json!({"name": "c2", "parent": "base", "protocol": "ftp"}),
            "protocol",
        ),
        (
            json!({"name": "c2", "parent": "base", "location": "other-bucket"}),
            "location",
        ),
        (
            json!({"name": "c2", "parent": "base", "credentials": {"key": "a", "secret": "b"}}),
            "credentials",
        ),
        (
            json!({"name": "c2", "parent": "base", "settings": {"dir": "x"}}),
            "settings",
        ),
    ];
    for (body, field) in cases {
        let err = expect_err(owner.create_pipe(&body), ErrorKind::Invalid, field);
        assert_eq!(err.field(), Some(field), "{err}");
    }
    assert_eq!(snapshot(owner.api.as_ref()), before);
    let c1 = owner.create_pipe(&same).unwrap();
    assert_eq!(c1.parent_ultimate, "base");
}

/// A pipe cannot become its own ancestor; a root can become a child (dropping its storage).
pub fn reparenting_rules(h: &dyn Harness) {
    let owner = h.user("owner");
    owner.create_pipe(&s3_pipe("top")).unwrap();
    owner.create_pipe(&child_pipe("mid", "top", "m")).unwrap();
    owner.create_pipe(&child_pipe("low", "mid", "l")).unwrap();
    let before = snapshot(owner.api.as_ref());
    expect_err(
        owner.update_pipe("top", &json!({"parent": "low"}), UpdateMode::Partial),
        ErrorKind::Invalid,
        "ancestor",
    );
    expect_err(
        owner.update_pipe("top", &json!({"parent": "top"}), UpdateMode::Partial),
        ErrorKind::Invalid,
        "ancestor",
    );
    assert_eq!(snapshot(owner.api.as_ref()), before);
    owner.create_pipe(&json!({"name": "other", "protocol": "sftp", "location": "h", "credentials": {"username": "u"}})).unwrap();
    let moved = owner
        .update_pipe(
            "other",
            &json!({"parent": "low", "options": {"dir": "o"}}),
            UpdateMode::Partial,
        )
        .unwrap();
    assert_eq!(moved.protocol, "s3");
    assert_eq!(moved.options["remotepath"], "s3://test-bucket/m/l/o/");
    assert_eq!(moved.parent_ultimate, "top");
}
