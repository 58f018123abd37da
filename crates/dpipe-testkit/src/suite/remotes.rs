//! Remotes: their life cycle, pipes using them, ownership, and wrong calls.

use dpipe_client::ErrorKind;
use dpipe_core::role::Access;
use dpipe_core::wire::UpdateMode;
use serde_json::{Value, json};

use super::{expect_err, snapshot};
use crate::harness::Harness;

fn sftp_remote(name: &str) -> Value {
    json!({"name": name, "protocol": "sftp", "location": "127.0.0.1:2222",
        "credentials": {"username": "files", "password": "pw-1"}, "settings": {"dir": "exchange"},
        "schema": {"reader": "csv"}})
}

/// Create, list, show (credentials never shown), update keeping credentials, pipes through
/// the remote, delete refused while used, then allowed.
pub fn remote_lifecycle(h: &dyn Harness) {
    let owner = h.user("owner");
    let created = owner.create_remote(&sftp_remote("ftp-box")).unwrap();
    assert_eq!(created.credentials, "flat");
    assert_eq!(created.settings["dir"], "exchange");
    assert_eq!(created.owner, "owner");
    let shown = owner.get_remote("ftp-box").unwrap();
    assert_eq!(shown, created);
    assert!(!serde_json::to_string(&shown).unwrap().contains("pw-1"));
    assert_eq!(owner.list_remotes().unwrap(), vec![shown]);
    let updated = owner
        .upsert_remote(&json!({"name": "ftp-box", "location": "127.0.0.1:2223"}))
        .unwrap();
    assert_eq!(updated.location, "127.0.0.1:2223");
    assert_eq!(updated.credentials, "flat", "credentials left out are kept");
    let pipe = owner
        .create_pipe(&json!({"name": "drop", "remote": "ftp-box", "options": {"dir": "in"}}))
        .unwrap();
    assert_eq!(
        (pipe.protocol.as_str(), pipe.location.as_str()),
        ("sftp", "127.0.0.1:2223")
    );
    assert_eq!(pipe.options["remotepath"], "/exchange/in/");
    assert_eq!(
        owner.credentials("drop", Access::Read).unwrap()["password"],
        "pw-1"
    );
    let split = owner
        .update_remote(
            "ftp-box",
            &json!({"credentials": {"read": {"username": "r"}, "write": {"username": "w"}}}),
            UpdateMode::Partial,
        )
        .unwrap();
    assert_eq!(split.credentials, "split");
    assert_eq!(
        owner.credentials("drop", Access::Write).unwrap()["username"],
        "w"
    );
    expect_err(owner.delete_remote("ftp-box"), ErrorKind::Invalid, "drop");
    assert!(owner.get_remote("ftp-box").is_ok());
    owner.delete_pipe("drop").unwrap();
    owner.delete_remote("ftp-box").unwrap();
    expect_err(
        owner.get_remote("ftp-box"),
        ErrorKind::NotFound,
        "Not found",
    );
    let upserted = owner.upsert_remote(&sftp_remote("fresh")).unwrap();
    assert_eq!(upserted.name, "fresh");
    let bare = owner
        .create_remote(
            &json!({"name": "bare", "protocol": "fs", "location": "/srv", "credentials": {}}),
        )
        .unwrap();
    assert_eq!(
        bare.credentials, "none",
        "empty credentials are no credentials"
    );
}

/// Wrong remote calls answer with their error text and change nothing.
pub fn remote_wrong_calls_change_nothing(h: &dyn Harness) {
    let owner = h.user("owner");
    owner.create_remote(&sftp_remote("keep")).unwrap();
    let before = snapshot(owner.api.as_ref());
    let cases = [
        (sftp_remote("keep"), "unique"),
        (sftp_remote("bad name"), "alphanumeric"),
        (json!({"name": "r", "location": "h"}), "required"),
        (json!({"name": "r", "protocol": "s3"}), "required"),
        (
            json!({"name": "r", "protocol": "nfs", "location": "h"}),
            "not a valid choice",
        ),
        (
            json!({"name": "r", "protocol": "s3", "location": "UPPER"}),
            "bucket",
        ),
        (
            json!({"name": "r", "protocol": "s3", "location": "bkt", "settings": {"dir": "C:\\data"}}),
            "Paths",
        ),
        (
            json!({"name": "r", "protocol": "s3", "location": "bkt", "settings": {"endpoint": 9000}}),
            "Not a valid string",
        ),
        (
            json!({"name": "r", "protocol": "s3", "location": "bkt", "settings": []}),
            "dictionary",
        ),
        (
            json!({"name": "r", "protocol": "s3", "location": "bkt", "credentials": {"secret": "only"}}),
            "aws_access_key_id",
        ),
        (
            json!({"name": "r", "protocol": "s3", "location": "bkt", "credentials": {"read": {"key": "a", "secret": "b"}, "write": "x"}}),
            "strings",
        ),
        (json!(null), "dictionary"),
    ];
    for (body, needle) in cases {
        expect_err(owner.create_remote(&body), ErrorKind::Invalid, needle);
    }
    expect_err(
        owner.update_remote("keep", &json!({"name": "renamed"}), UpdateMode::Partial),
        ErrorKind::Invalid,
        "cannot be changed",
    );
    expect_err(
        owner.update_remote("keep", &json!({"protocol": "webdav"}), UpdateMode::Partial),
        ErrorKind::Invalid,
        "not a valid choice",
    );
    expect_err(
        owner.update_remote("keep", &json!({"location": "x"}), UpdateMode::Full),
        ErrorKind::Invalid,
        "required",
    );
    expect_err(
        owner.update_remote("gone", &json!({"location": "x"}), UpdateMode::Partial),
        ErrorKind::NotFound,
        "Not found",
    );
    expect_err(
        owner.delete_remote("gone"),
        ErrorKind::NotFound,
        "Not found",
    );
    assert_eq!(snapshot(owner.api.as_ref()), before);
}

/// Remotes are private to their owner: others can neither see, change nor use them.
pub fn remote_ownership(h: &dyn Harness) {
    let owner = h.user("owner");
    let other = h.user("other");
    owner.create_remote(&sftp_remote("mine")).unwrap();
    assert!(other.list_remotes().unwrap().is_empty());
    expect_err(other.get_remote("mine"), ErrorKind::Forbidden, "permission");
    expect_err(
        other.update_remote("mine", &json!({"location": "evil"}), UpdateMode::Partial),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        other.delete_remote("mine"),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        other.create_pipe(&json!({"name": "steal", "remote": "mine"})),
        ErrorKind::Forbidden,
        "mine",
    );
    assert!(other.list_pipes().unwrap().is_empty());
    assert_eq!(owner.get_remote("mine").unwrap().location, "127.0.0.1:2222");
}

/// The owner reads a remote's stored credentials (flat, split or none) as given; others get
/// 403 and a missing remote 404.
pub fn remote_credentials_for_owner_only(h: &dyn Harness) {
    let owner = h.user("owner");
    let other = h.user("other");
    owner.create_remote(&sftp_remote("box")).unwrap();
    assert_eq!(
        owner.remote_credentials("box").unwrap(),
        json!({"username": "files", "password": "pw-1"})
    );
    let split = json!({"read": {"key": "R", "secret": "r"},
        "write": {"aws_access_key_id": "W", "aws_secret_access_key": "w"}});
    owner
        .create_remote(
            &json!({"name": "bkt", "protocol": "s3", "location": "bkt", "credentials": split}),
        )
        .unwrap();
    assert_eq!(
        owner.remote_credentials("bkt").unwrap(),
        json!({"read": {"aws_access_key_id": "R", "aws_secret_access_key": "r"},
            "write": {"aws_access_key_id": "W", "aws_secret_access_key": "w"}}),
        "split, with the aliases stored under their names"
    );
    owner
        .create_remote(&json!({"name": "open", "protocol": "fs", "location": "/srv"}))
        .unwrap();
    assert_eq!(owner.remote_credentials("open").unwrap(), json!({}));
    expect_err(
        other.remote_credentials("box"),
        ErrorKind::Forbidden,
        "permission",
    );
    expect_err(
        owner.remote_credentials("gone"),
        ErrorKind::NotFound,
        "Not found",
    );
    if let Some(anonymous) = h.anonymous() {
        let err = anonymous.remote_credentials("box").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    }
}
