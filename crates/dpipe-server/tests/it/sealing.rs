//! Credentials at rest: sealed in the database with the server's key ring, re-sealed by
//! `rotate-key` without ever being unreadable, and finished at the next start when a rotation
//! was interrupted.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use dpipe_client::{HttpApi, RepoApi};
use dpipe_core::role::Access;
use dpipe_registry::{Caller, KeyRing, Registry, SystemClock};
use dpipe_server::{CREDENTIALS_KEY_FILE, DataDir, ServerError, rotate_key};
use dpipe_testkit::files::files_under;
use dpipe_testkit::server::TestServer;
use serde_json::{Value, json};

const CANARIES: [&str; 3] = [
    "canary-read-secret-7f3a",
    "canary-write-secret-91bc",
    "canary-pipe-secret-c0de",
];

fn remote_body() -> Value {
    json!({"name": "vault", "protocol": "s3", "location": "vault-bucket", "credentials": {
        "read": {"aws_access_key_id": "AKREAD", "aws_secret_access_key": CANARIES[0]},
        "write": {"aws_access_key_id": "AKWRITE", "aws_secret_access_key": CANARIES[1]}}})
}

fn pipe_body() -> Value {
    json!({"name": "inline", "protocol": "sftp", "location": "127.0.0.1:2222",
        "credentials": {"username": "u", "password": CANARIES[2]}})
}

/// Asserts that no file below `dir` (database, WAL, keys, object store) holds a canary in
/// clear.
fn assert_no_canary_in(dir: &Path) {
    for path in files_under(dir).into_keys() {
        let path = dir.join(path);
        let bytes = fs::read(&path).unwrap();
        for canary in CANARIES {
            let found = bytes.windows(canary.len()).any(|w| w == canary.as_bytes());
            assert!(!found, "{} holds {canary} in clear", path.display());
        }
    }
}

/// A registry over the folder, acting as a local user, with a remote and a pipe on it.
fn populate(data: &DataDir) -> (Registry, Caller) {
    let registry = data.registry(Arc::new(SystemClock));
    let owner = registry
        .ensure_local_user("owner", "owner@example.com")
        .unwrap();
    registry.create_remote(&owner, &remote_body()).unwrap();
    registry
        .create_pipe(&owner, &json!({"name": "on-vault", "remote": "vault"}))
        .unwrap();
    registry.create_pipe(&owner, &pipe_body()).unwrap();
    (registry, owner)
}

fn secrets(registry: &Registry, owner: &Caller) -> Vec<String> {
    let read = registry
        .credentials(owner, "on-vault", Some("read"), false)
        .unwrap();
    let write = registry
        .credentials(owner, "on-vault", Some("write"), false)
        .unwrap();
    let inline = registry
        .credentials(owner, "inline", Some("read"), false)
        .unwrap();
    vec![
        read["aws_secret_access_key"].as_str().unwrap().to_string(),
        write["aws_secret_access_key"].as_str().unwrap().to_string(),
        inline["password"].as_str().unwrap().to_string(),
    ]
}

fn ring_lines(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join(CREDENTIALS_KEY_FILE))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn stored_credentials_are_sealed_in_the_database() {
    let server = TestServer::start();
    let anon = HttpApi::new(&server.url, None).unwrap();
    let token = anon
        .register("owner", "owner@example.com", "pw-123456")
        .unwrap()
        .token;
    let api = HttpApi::new(&server.url, Some(token)).unwrap();
    api.create_remote(&remote_body()).unwrap();
    api.create_pipe(&json!({"name": "on-vault", "remote": "vault"}))
        .unwrap();
    api.create_pipe(&pipe_body()).unwrap();
    assert_eq!(
        api.credentials("on-vault", Access::Write).unwrap()["aws_secret_access_key"],
        CANARIES[1]
    );
    assert_eq!(
        api.credentials("inline", Access::Read).unwrap()["password"],
        CANARIES[2]
    );
    assert_no_canary_in(&server.data_dir);
}

#[test]
fn rotate_key_reseals_everything_and_drops_the_old_key() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let data = DataDir::open(dir).unwrap();
    let (registry, owner) = populate(&data);
    assert_eq!(secrets(&registry, &owner), CANARIES);
    drop((registry, data));
    let old = ring_lines(dir);
    assert_eq!(old.len(), 1);

    assert_eq!(
        rotate_key(dir, &Default::default(), dpipe_server::RotationStep::Start).unwrap(),
        2,
        "one remote and one pipe re-sealed"
    );
    let new = ring_lines(dir);
    assert_eq!(new.len(), 1, "the old key is gone once nothing needs it");
    assert_ne!(new, old);
    assert_no_canary_in(dir);

    let data = DataDir::open(dir).unwrap();
    let registry = data.registry(Arc::new(SystemClock));
    let owner = registry
        .ensure_local_user("owner", "owner@example.com")
        .unwrap();
    assert_eq!(secrets(&registry, &owner), CANARIES);
    drop((registry, data));

    // The old key alone opens nothing any more, and says so instead of serving garbage.
    let old_file = temp.path().join("old.key");
    fs::write(&old_file, format!("{}\n", old[0])).unwrap();
    let refused = DataDir::open_with(
        dir,
        &dpipe_server::DataDirOptions {
            credentials_key_file: Some(old_file),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(refused, ServerError::Keys(_)), "{refused}");
    assert!(refused.to_string().contains("cannot be read"), "{refused}");
    // ... and trying changed nothing: the right key still opens everything.
    let data = DataDir::open(dir).unwrap();
    let registry = data.registry(Arc::new(SystemClock));
    let owner = registry
        .ensure_local_user("owner", "owner@example.com")
        .unwrap();
    assert_eq!(secrets(&registry, &owner), CANARIES);
}

#[test]
fn an_interrupted_rotation_finishes_at_the_next_start() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    drop(populate(&DataDir::open(dir).unwrap()));
    // A rotation that crashed right after saving the ring with the new key in front.
    let ring =
        KeyRing::from_text(&fs::read_to_string(dir.join(CREDENTIALS_KEY_FILE)).unwrap()).unwrap();
    let rotated = ring.rotated();
    rotated.save(&dir.join(CREDENTIALS_KEY_FILE)).unwrap();
    let new_current = ring_lines(dir)[0].clone();

    let data = DataDir::open(dir).unwrap();
    assert_eq!(
        ring_lines(dir),
        [new_current],
        "the start finished the rotation"
    );
    let registry = data.registry(Arc::new(SystemClock));
    let owner = registry
        .ensure_local_user("owner", "owner@example.com")
        .unwrap();
    assert_eq!(secrets(&registry, &owner), CANARIES);
}

#[test]
fn a_damaged_key_ring_is_a_clear_error() {
    let temp = tempfile::tempdir().unwrap();
    fs::write(temp.path().join(CREDENTIALS_KEY_FILE), "not a key\n").unwrap();
    let err = DataDir::open(temp.path()).unwrap_err();
    assert!(matches!(err, ServerError::Keys(_)), "{err}");
    assert!(err.to_string().contains("64 hex"), "{err}");
}

#[test]
fn a_sealed_value_swapped_into_another_row_does_not_open() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    {
        let data = DataDir::open(dir).unwrap();
        let (registry, owner) = populate(&data);
        let mut other = remote_body();
        other["name"] = json!("other-vault");
        registry.create_remote(&owner, &other).unwrap();
        registry
            .create_pipe(
                &owner,
                &json!({"name": "on-other", "remote": "other-vault"}),
            )
            .unwrap();
    }
    // Someone with write access to the database copies one remote's sealed credentials over
    // another's: valid ciphertext under the current key, but bound to the wrong record.
    let db = rusqlite::Connection::open(dir.join(dpipe_server::DATABASE_FILE)).unwrap();
    db.execute(
        "UPDATE remotes SET credentials = (SELECT credentials FROM remotes WHERE name = 'vault') WHERE name = 'other-vault'",
        [],
    )
    .unwrap();
    drop(db);
    let data = DataDir::open(dir).unwrap();
    let registry = data.registry(Arc::new(SystemClock));
    let owner = registry
        .ensure_local_user("owner", "owner@example.com")
        .unwrap();
    let err = registry
        .credentials(&owner, "on-other", Some("read"), false)
        .unwrap_err();
    assert!(err.message().contains("cannot be read"), "{err}");
    assert!(!err.message().contains("canary"), "{err}");
    assert_eq!(
        secrets(&registry, &owner),
        CANARIES,
        "the untouched record still opens"
    );
}
