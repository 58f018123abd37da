//! Pipes: creating, reading, updating (PATCH and PUT), deleting, validation and `remotepath`.

use dpipe_client::ErrorKind;
use dpipe_core::wire::UpdateMode;
use serde_json::{Value, json};

use super::{child_pipe, expect_err, pipe_names, s3_pipe, snapshot};
use crate::harness::Harness;

/// A created pipe reads back with its storage, computed path, the owner's role and no secret.
pub fn pipe_create_and_get(h: &dyn Harness) {
    let owner = h.user("owner");
    let created = owner.create_pipe(&s3_pipe("sales")).unwrap();
    let got = owner.get_pipe("sales").unwrap();
    assert_eq!(created, got);
    assert_eq!(got.protocol, "s3");
    assert_eq!(got.location, "test-bucket");
    assert_eq!(got.options["remotepath"], "s3://test-bucket/");
    assert_eq!(got.role, "write");
    assert_eq!(got.owner, "owner");
    assert_eq!(got.parent, None);
    assert_eq!(got.parent_ultimate, "sales");
    assert_eq!(got.schema, json!({}));
    let raw = serde_json::to_string(&got).unwrap();
    assert!(
        !raw.contains("flat-secret") && !raw.contains("AKIDFLAT"),
        "{raw}"
    );
    assert_eq!(pipe_names(owner.api.as_ref()), ["sales"]);
    let missing = owner.get_pipe("nope");
    expect_err(missing, ErrorKind::NotFound, "Not found");
}

/// Every kind of wrong create answers with its error text and stores nothing.
pub fn pipe_wrong_creates_change_nothing(h: &dyn Harness) {
    let owner = h.user("owner");
    owner.create_pipe(&s3_pipe("existing")).unwrap();
    let before = snapshot(owner.api.as_ref());
    let cases: Vec<(Value, &str)> = vec![
        (s3_pipe("existing"), "unique"),
        (s3_pipe("$invalid"), "alphanumeric"),
        (s3_pipe("has space"), "alphanumeric"),
        (s3_pipe("pipes"), "reserved"),
        (s3_pipe(&"x".repeat(101)), "no more than 100"),
        (json!({"protocol": "s3", "location": "b-1"}), "required"),
        (
            json!({"name": 5, "protocol": "s3", "location": "b-1"}),
            "Not a valid string",
        ),
        (
            json!({"name": "", "protocol": "s3", "location": "b-1"}),
            "blank",
        ),
        (
            json!({"name": "a", "protocol": "s3", "location": "b-1", "options": {"dir": "C:\\Drive"}}),
            "Paths",
        ),
        (
            json!({"name": "a", "protocol": "s3", "location": "b-1", "options": {"dir": "a/../../b"}}),
            "Paths",
        ),
        (
            json!({"name": "a", "protocol": "s3", "location": "b-1", "options": "dir"}),
            "dictionary",
        ),
        (
            json!({"name": "a", "protocol": "s3", "location": "b-1", "schema": [1]}),
            "dictionary",
        ),
        (
            json!({"name": "a", "parent": "noexist", "options": {"dir": "x"}}),
            "does not exist",
        ),
        (
            json!({"name": "a", "protocol": "http", "location": "b-1"}),
            "not a valid choice",
        ),
        (json!({"name": "a", "location": "b-1"}), "location"),
        (
            json!({"name": "a", "protocol": "d6tfree", "credentials": {"key": "k", "secret": "s"}}),
            "credentials",
        ),
        (json!({"name": "a", "settings": {"dir": "x"}}), "settings"),
        (json!({"name": "a", "protocol": "s3"}), "location"),
        (
            json!({"name": "a", "protocol": "s3", "location": "Not_A_Bucket"}),
            "bucket",
        ),
        (
            json!({"name": "a", "protocol": "sftp", "location": "host:99999"}),
            "host:port",
        ),
        (
            json!({"name": "a", "protocol": "fs", "location": "relative/dir"}),
            "absolute",
        ),
        (
            json!({"name": "a", "protocol": "s3", "location": "b-1", "credentials": {"aws_access_key_id": "k"}}),
            "aws_secret_access_key",
        ),
        (
            json!({"name": "a", "protocol": "sftp", "location": "h", "credentials": {"password": "p"}}),
            "username",
        ),
        (
            json!({"name": "a", "protocol": "ftp", "location": "h", "credentials": {"username": 7}}),
            "strings",
        ),
        (
            json!({"name": "a", "protocol": "s3", "location": "b-1", "settings": {"dir": "C:\\x"}}),
            "Paths",
        ),
        (
            json!({"name": "a", "remote": "no-such-remote"}),
            "does not exist",
        ),
        (json!(["not", "an", "object"]), "dictionary"),
    ];
    for (body, needle) in cases {
        let result = owner.create_pipe(&body);
        assert!(result.is_err(), "{} accepted {body}", h.name());
        expect_err(result, ErrorKind::Invalid, needle);
    }
    assert_eq!(
        snapshot(owner.api.as_ref()),
        before,
        "a wrong create changed something"
    );
}

/// PATCH: 404 for a missing pipe before any validation, partial updates that replace whole
/// objects, recomputed paths, an empty body as a no-op, names that cannot change.
pub fn pipe_patch_semantics(h: &dyn Harness) {
    let owner = h.user("owner");
    let missing = owner.update_pipe(
        "ghost",
        &json!({"name": "$bad", "options": "x"}),
        UpdateMode::Partial,
    );
    expect_err(missing, ErrorKind::NotFound, "Not found");
    let created = owner
        .upsert_pipe(
            &json!({"name": "up", "protocol": "s3", "location": "bucket-a",
        "options": {"dir": "dir1", "include": "*.csv"}}),
        )
        .unwrap();
    assert_eq!(created.options["remotepath"], "s3://bucket-a/dir1/");
    let updated = owner
        .upsert_pipe(&json!({"name": "up", "options": {"dir": "dir2"}}))
        .unwrap();
    assert_eq!(updated.options["dir"], "dir2");
    assert_eq!(updated.options["remotepath"], "s3://bucket-a/dir2/");
    assert!(
        updated.options.get("include").is_none(),
        "options are replaced, not merged"
    );
    assert_eq!(updated.protocol, "s3", "fields left out keep their values");
    let unchanged = owner
        .update_pipe("up", &json!({}), UpdateMode::Partial)
        .unwrap();
    assert_eq!(unchanged, updated);
    let moved = owner
        .update_pipe("up", &json!({"location": "bucket-b"}), UpdateMode::Partial)
        .unwrap();
    assert_eq!(moved.options["remotepath"], "s3://bucket-b/dir2/");
    let before = snapshot(owner.api.as_ref());
    expect_err(
        owner.update_pipe("up", &json!({"name": "other"}), UpdateMode::Partial),
        ErrorKind::Invalid,
        "cannot be changed",
    );
    expect_err(
        owner.update_pipe(
            "up",
            &json!({"options": {"dir": "C:\\x"}}),
            UpdateMode::Partial,
        ),
        ErrorKind::Invalid,
        "Paths",
    );
    expect_err(
        owner.update_pipe("up", &json!({"protocol": "gopher"}), UpdateMode::Partial),
        ErrorKind::Invalid,
        "not a valid choice",
    );
    expect_err(
        owner.update_pipe("up", &json!({"parent": "nope"}), UpdateMode::Partial),
        ErrorKind::Invalid,
        "does not exist",
    );
    expect_err(
        owner.update_pipe("up", &json!(7), UpdateMode::Partial),
        ErrorKind::Invalid,
        "dictionary",
    );
    assert_eq!(snapshot(owner.api.as_ref()), before);
}

/// PUT: needs the name in the body, and checks permission before looking at the body.
pub fn pipe_put_semantics(h: &dyn Harness) {
    let owner = h.user("owner");
    let reader = h.user("reader");
    owner.create_pipe(&s3_pipe("put-me")).unwrap();
    owner
        .grant("put-me", &json!({"username": "reader", "role": "read"}))
        .unwrap();
    let before = snapshot(owner.api.as_ref());
    expect_err(
        reader.update_pipe("put-me", &json!({"bad": "request"}), UpdateMode::Full),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        owner.update_pipe(
            "put-me",
            &json!({"options": {"dir": "x"}}),
            UpdateMode::Full,
        ),
        ErrorKind::Invalid,
        "required",
    );
    expect_err(
        owner.update_pipe("missing", &json!({"bad": "request"}), UpdateMode::Full),
        ErrorKind::NotFound,
        "Not found",
    );
    assert_eq!(snapshot(owner.api.as_ref()), before);
    let put = owner
        .update_pipe(
            "put-me",
            &json!({"name": "put-me", "options": {"dir": "x"}}),
            UpdateMode::Full,
        )
        .unwrap();
    assert_eq!(put.options["remotepath"], "s3://test-bucket/x/");
}

/// DELETE: only the owner; takes children and grants along; names become free again.
pub fn pipe_delete_cascades(h: &dyn Harness) {
    let owner = h.user("owner");
    let admin = h.user("admin");
    owner.create_pipe(&s3_pipe("root")).unwrap();
    owner.create_pipe(&child_pipe("kid", "root", "k")).unwrap();
    owner
        .create_pipe(&child_pipe("grandkid", "kid", "g"))
        .unwrap();
    owner
        .grant("kid", &json!({"username": "admin", "role": "admin"}))
        .unwrap();
    expect_err(admin.delete_pipe("kid"), ErrorKind::Forbidden, "permission");
    expect_err(
        owner.delete_pipe("nothing"),
        ErrorKind::NotFound,
        "Not found",
    );
    assert_eq!(pipe_names(admin.api.as_ref()), ["grandkid", "kid"]);
    owner.delete_pipe("root").unwrap();
    assert!(pipe_names(owner.api.as_ref()).is_empty());
    assert!(
        pipe_names(admin.api.as_ref()).is_empty(),
        "grants went with the pipes"
    );
    owner.create_pipe(&s3_pipe("kid")).unwrap();
    assert!(
        owner.list_grants("kid").unwrap().is_empty(),
        "a re-created name starts without grants"
    );
    expect_err(admin.get_pipe("kid"), ErrorKind::Forbidden, "permission");
}

/// `remotepath` for every protocol, with storage settings, pipe dirs and nesting.
pub fn pipe_remotepath_every_protocol(h: &dyn Harness) {
    let owner = h.user("owner");
    let path = |name: &str| {
        owner.get_pipe(name).unwrap().options["remotepath"]
            .as_str()
            .unwrap()
            .to_string()
    };
    owner.create_pipe(&json!({"name": "s3-dir", "protocol": "s3", "location": "bkt", "options": {"dir": "/a/b/"}})).unwrap();
    owner
        .create_pipe(
            &json!({"name": "ftp-root", "protocol": "ftp", "location": "127.0.0.1:2121",
        "credentials": {"username": "u", "password": "p"}, "options": {"dir": "utest"}}),
        )
        .unwrap();
    owner
        .create_pipe(
            &json!({"name": "sftp-root", "protocol": "sftp", "location": "127.0.0.1",
        "credentials": {"username": "u", "password": "p"}}),
        )
        .unwrap();
    owner
        .create_pipe(&child_pipe(
            "sftp-child",
            "sftp-root",
            "/home/d6tdev/d6tpipe-files/vendorX",
        ))
        .unwrap();
    owner
        .create_pipe(
            &json!({"name": "fs-root", "protocol": "fs", "location": "/srv/data/",
        "settings": {"dir": "shared"}, "options": {"dir": "sales"}}),
        )
        .unwrap();
    owner
        .create_pipe(&child_pipe("fs-child", "fs-root", "2026"))
        .unwrap();
    owner
        .create_pipe(&child_pipe("fs-grandchild", "fs-child", "q1"))
        .unwrap();
    assert_eq!(path("s3-dir"), "s3://bkt/a/b/");
    assert_eq!(path("ftp-root"), "/utest/");
    assert_eq!(path("sftp-root"), "/");
    assert_eq!(path("sftp-child"), "/home/d6tdev/d6tpipe-files/vendorX/");
    assert_eq!(path("fs-root"), "/srv/data/shared/sales/");
    assert_eq!(path("fs-child"), "/srv/data/shared/sales/2026/");
    assert_eq!(path("fs-grandchild"), "/srv/data/shared/sales/2026/q1/");
    let client_path = owner
        .upsert_pipe(
            &json!({"name": "s3-dir", "options": {"dir": "c", "remotepath": "s3://evil/"}}),
        )
        .unwrap();
    assert_eq!(
        client_path.options["remotepath"], "s3://bkt/c/",
        "a client-sent remotepath is ignored"
    );
}
