//! Local mode end to end: a profile, remotes from a settings file, pipes (created, upserted,
//! a child), permissions with a pending invitation, and deletion — all in-process on the
//! profile's SQLite file.

use serde_json::{Value, json};

use crate::support::{Env, names};

/// Two remotes of a settings file, picked with --key; the first carries split credentials.
fn remotes_yaml(storage: &str) -> String {
    format!(
        "vendor-s3:
  protocol: s3
  location: vendor-bucket
  settings: {{dir: base, endpoint: 'http://127.0.0.1:9000'}}
  credentials:
    read: {{aws_access_key_id: READKEY, aws_secret_access_key: read-secret-value}}
    write: {{aws_access_key_id: WRITEKEY, aws_secret_access_key: write-secret-value}}
archive:
  name: archive-fs
  protocol: fs
  location: {storage}
"
    )
}

#[test]
fn remotes_pipes_and_permissions_in_local_mode() {
    let env = Env::new();
    let profile = env.json(&["profile", "init", "lap", "--local"]);
    assert_eq!(
        (profile["mode"].as_str(), profile["default"].as_bool()),
        (Some("local"), Some(true))
    );
    assert_eq!(profile["username"], "tester", "the local user is $USER");
    let storage = env.path().join("storage");
    let yaml = env.file(
        "remotes.yaml",
        &remotes_yaml(&storage.display().to_string()),
        0o600,
    );
    let yaml = yaml.to_str().unwrap();

    // Remotes: an entry named by its key, with a flag laid over the file's settings.
    let remote = env.json(&[
        "remote",
        "upsert",
        "--file",
        yaml,
        "--key",
        "vendor-s3",
        "--setting",
        "region=eu-west-1",
    ]);
    assert_eq!(remote["name"], "vendor-s3");
    assert_eq!(remote["credentials"], "split");
    assert_eq!(
        remote["settings"],
        json!({"dir": "base", "endpoint": "http://127.0.0.1:9000", "region": "eu-west-1"})
    );
    let remote = env.json(&["remote", "upsert", "--file", yaml, "--key", "archive"]);
    assert_eq!(
        (remote["name"].as_str(), remote["protocol"].as_str()),
        (Some("archive-fs"), Some("fs"))
    );
    let listed = env.json(&["remote", "list"]);
    assert_eq!(names(&listed), ["archive-fs", "vendor-s3"]);
    let shown = env.ok(&["remote", "show", "vendor-s3"]);
    assert!(
        shown.contains("vendor-bucket") && shown.contains("one set for read, one for write"),
        "{shown}"
    );
    for output in [listed.to_string(), shown] {
        assert!(
            !output.contains("secret-value") && !output.contains("READKEY"),
            "a secret leaked: {output}"
        );
    }

    // Pipes: create on a remote, upsert an update and a new pipe, a child.
    let pipe = env.json(&[
        "pipe",
        "create",
        "--name",
        "vendor-x",
        "--remote",
        "vendor-s3",
        "--dir",
        "vx",
    ]);
    assert_eq!(pipe["options"]["remotepath"], "s3://vendor-bucket/base/vx/");
    assert_eq!(
        (pipe["role"].as_str(), pipe["owner"].as_str()),
        (Some("write"), Some("tester"))
    );
    let schema = r#"{"pandas": {"sep": ";"}}"#;
    let pipe = env.json(&[
        "pipe", "upsert", "--name", "vendor-x", "--dir", "v2", "--schema", schema,
    ]);
    assert_eq!(pipe["options"]["remotepath"], "s3://vendor-bucket/base/v2/");
    assert_eq!(pipe["schema"], json!({"pandas": {"sep": ";"}}));
    let location = storage.display().to_string();
    let pipe = env.json(&[
        "pipe",
        "upsert",
        "--name",
        "on-disk",
        "--protocol",
        "fs",
        "--location",
        &location,
    ]);
    assert_eq!(pipe["options"]["remotepath"], format!("{location}/"));
    let child = env.json(&[
        "pipe",
        "create",
        "--name",
        "kid",
        "--parent",
        "vendor-x",
        "--dir",
        "sub",
        "--include",
        "*.csv",
    ]);
    assert_eq!(
        child["options"]["remotepath"],
        "s3://vendor-bucket/base/v2/sub/"
    );
    assert_eq!(
        (child["parent"].as_str(), child["parent-ultimate"].as_str()),
        (Some("vendor-x"), Some("vendor-x"))
    );
    assert_eq!(child["options"]["include"], "*.csv");

    let mut listed = names(&env.json(&["pipe", "list"]));
    listed.sort();
    assert_eq!(listed, ["kid", "on-disk", "vendor-x"]);
    let table = env.ok(&["pipe", "list"]);
    assert!(
        table.starts_with("NAME") && table.contains("s3://vendor-bucket/base/v2/sub/"),
        "{table}"
    );
    let shown = env.ok(&["pipe", "show", "kid"]);
    assert!(
        shown.contains("parent:") && shown.contains("vendor-x") && shown.contains("*.csv"),
        "{shown}"
    );

    // Permissions: an email nobody registered with is a pending invitation.
    let grant = env.json(&[
        "perm",
        "grant",
        "vendor-x",
        "--email",
        "Newcomer@Example.com",
        "--role",
        "write",
    ]);
    assert_eq!(grant["pending"], true);
    assert_eq!(grant["email"], "newcomer@example.com");
    let grant = env.json(&[
        "perm",
        "grant",
        "vendor-x",
        "--public",
        "--role",
        "read",
        "--expires",
        "2099-12-31",
    ]);
    assert_eq!(
        (
            grant["username"].as_str(),
            grant["expiration_date"].as_str()
        ),
        (Some("public"), Some("2099-12-31"))
    );
    let grants = env.json(&["perm", "list", "vendor-x"]);
    assert_eq!(grants.as_array().unwrap().len(), 2);
    let table = env.ok(&["perm", "list", "vendor-x"]);
    assert!(
        table.contains("newcomer@example.com") && table.contains("pending"),
        "{table}"
    );
    env.ok(&[
        "perm",
        "revoke",
        "vendor-x",
        "--email",
        "newcomer@example.com",
    ]);
    let grants = env.json(&["perm", "list", "vendor-x"]);
    assert_eq!(
        grants,
        json!([{"pipe": "vendor-x", "username": "public", "email": null, "role": "read", "expiration_date": "2099-12-31", "pending": false, "status": "active"}])
    );

    // Deleting the parent takes the child along; an unused remote can go.
    let run = env.run(&["pipe", "delete", "vendor-x", "--apply"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{run:?}");
    assert!(run.stderr.contains("Deleted pipe vendor-x"), "{run:?}");
    assert_eq!(names(&env.json(&["pipe", "list"])), ["on-disk"]);
    env.ok(&["remote", "delete", "vendor-s3", "--apply"]);
    assert_eq!(names(&env.json(&["remote", "list"])), ["archive-fs"]);
    assert!(
        env.path()
            .join(".local/share/dpipe/local/lap.sqlite")
            .is_file(),
        "the default local database"
    );
}

#[test]
fn whoami_in_local_mode_names_the_local_user() {
    let env = Env::new();
    env.ok(&["profile", "init", "solo", "--local"]);
    env.ok(&["profile", "set", "username", "ann"]);
    env.ok(&["profile", "set", "email", "ann@example.org"]);
    let who: Value = env.json(&["whoami"]);
    assert_eq!(
        (who["username"].as_str(), who["email"].as_str()),
        (Some("ann"), Some("ann@example.org"))
    );
    assert!(env.ok(&["whoami"]).contains("local mode"));
}

#[test]
fn local_mode_has_no_managed_storage() {
    let env = Env::new();
    env.ok(&["profile", "init", "solo", "--local"]);
    env.fails(
        &["pipe", "create", "demo"],
        2,
        "no managed storage here (local mode",
    );
    env.fails(
        &["pipe", "create", "--name", "demo", "--protocol", "d6tfree"],
        2,
        "no managed storage",
    );
    assert!(names(&env.json(&["pipe", "list"])).is_empty());
}
