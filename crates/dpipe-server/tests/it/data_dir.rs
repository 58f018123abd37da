//! The data folder: created private, its key written once and kept, its lock refusing a
//! second server without touching anything, and a clear error for a damaged key.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use dpipe_server::{DATABASE_FILE, DataDir, KEY_FILE, LOCK_FILE, ServerError};
use dpipe_testkit::files::files_under;
use dpipe_testkit::server::TestServer;

/// Every file below `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_under(dir)
        .into_keys()
        .map(|path| {
            let bytes = fs::read(dir.join(&path)).unwrap();
            (path.to_string_lossy().into_owned(), bytes)
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_folder_is_private_and_its_key_stays() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("nested/data");
    let first = DataDir::open(&dir).unwrap();
    assert_eq!(first.path(), dir);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.join(DATABASE_FILE)), 0o600);
    let key = fs::read_to_string(dir.join(KEY_FILE)).unwrap();
    assert_eq!(key.trim().len(), 64);
    assert!(key.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(dir.join(LOCK_FILE).exists());
    assert!(
        !dir.join(".server.key.tmp").exists(),
        "no temporary file is left behind"
    );
    drop(first);

    // Reopening keeps the key (every token depends on it), even with loose permissions,
    // which only earn a warning.
    fs::set_permissions(dir.join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
    let again = DataDir::open(&dir).unwrap();
    assert_eq!(fs::read_to_string(dir.join(KEY_FILE)).unwrap(), key);
    drop(again);
}

#[test]
fn a_second_server_on_the_same_folder_is_refused_and_touches_nothing() {
    let server = TestServer::start();
    let before = snapshot(&server.data_dir);
    let error = DataDir::open(&server.data_dir).unwrap_err();
    assert!(matches!(error, ServerError::InUse { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "data folder {} is in use by another dpipe serve",
            server.data_dir.display()
        )
    );
    assert_eq!(
        snapshot(&server.data_dir),
        before,
        "the folder is left as it was"
    );
    // The first server carries on.
    crate::raw_http::Call::new("GET", "/health")
        .send(server.addr)
        .expect(200);
}

#[test]
fn a_damaged_key_is_a_clear_error() {
    let temp = tempfile::tempdir().unwrap();
    drop(DataDir::open(temp.path()).unwrap());
    fs::write(temp.path().join(KEY_FILE), "not a key\n").unwrap();
    let error = DataDir::open(temp.path()).unwrap_err();
    assert!(matches!(error, ServerError::BadKey { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(KEY_FILE) && message.contains("not valid"),
        "{message}"
    );
    assert_eq!(
        fs::read_to_string(temp.path().join(KEY_FILE)).unwrap(),
        "not a key\n",
        "the key is not replaced"
    );
}

#[test]
fn a_given_server_key_file_is_used_and_must_exist() {
    use std::sync::Arc;

    use dpipe_server::DataDirOptions;
    use serde_json::json;

    let temp = tempfile::tempdir().unwrap();
    let key_file = temp.path().join("shared.key");
    fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    let with_file = DataDirOptions {
        server_key_file: Some(key_file.clone()),
        ..DataDirOptions::default()
    };
    let dir = temp.path().join("data");
    let login = |data: &DataDir| {
        let registry = data.registry(Arc::new(dpipe_registry::SystemClock));
        registry
            .login(
                &json!({"username": "ann", "password": "correct horse"}),
                None,
            )
            .unwrap()
            .token
    };
    let data = DataDir::open_with(&dir, &with_file).unwrap();
    let registered = data
        .registry(Arc::new(dpipe_registry::SystemClock))
        .register(
            &json!({"username": "ann", "email": "ann@example.com", "password": "correct horse"}),
        )
        .unwrap()
        .token;
    assert!(!dir.join(KEY_FILE).exists(), "no key of its own was made");
    drop(data);
    // Another folder's own key derives other tokens; the shared file gives the same one back.
    let data = DataDir::open(&dir).unwrap();
    assert_ne!(login(&data), registered);
    drop(data);
    assert_eq!(
        login(&DataDir::open_with(&dir, &with_file).unwrap()),
        registered
    );

    // A key file that is missing or damaged is a clear error and creates nothing.
    let elsewhere = temp.path().join("never");
    for (file, expected) in [
        (
            temp.path().join("missing.key"),
            "cannot read the server key",
        ),
        (temp.path().join("short.key"), "not valid"),
    ] {
        if file.ends_with("short.key") {
            fs::write(&file, "abcd\n").unwrap();
        }
        let options = DataDirOptions {
            server_key_file: Some(file),
            ..DataDirOptions::default()
        };
        let err = DataDir::open_with(&elsewhere, &options).unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
        assert!(!elsewhere.exists(), "{err}: nothing created");
    }
}
