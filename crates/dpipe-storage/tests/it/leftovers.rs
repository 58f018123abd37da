//! What interrupted uploads leave on a storage is listed once older than the age asked for,
//! and removed; younger leftovers are kept (another run may be writing them). Temporary keys
//! on `fs`, FTP and SFTP, uploads in progress on S3 (from this machine's records on s3s-fs, which
//! cannot list uploads).

use std::time::{Duration, SystemTime};

use dpipe_storage::LeftoverKind;

use crate::backends::{self, Backend, PART_SIZE};
use crate::resume_put::{content, interrupted_put, recorded_parts, recording_storage, s3s_uploads};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Plants a file at `key` under the backend's root, last written `age` ago.
fn plant(backend: &Backend, key: &str, age: Duration) {
    use std::os::unix::fs::PermissionsExt as _;
    let path = backend.raw_root.join(key);
    let folder = path.parent().unwrap();
    std::fs::create_dir_all(folder).unwrap();
    // The FTP server's user (another one than this test's) deletes in it.
    std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(&path, b"partial").unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

async fn old_temp_keys_removed_young_kept(backend: &Backend) {
    let storage = backend.storage();
    plant(backend, "a/.dpipe-put-0123456789abcdef.part", 2 * DAY);
    plant(backend, ".dpipe-4242-17-0.part", 2 * DAY);
    plant(
        backend,
        "a/.dpipe-put-fedcba9876543210.part",
        Duration::from_secs(5),
    );
    plant(backend, "a/data.csv", 2 * DAY);

    let found = storage.leftovers(DAY).await.unwrap();
    let keys: Vec<_> = found.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            ".dpipe-4242-17-0.part",
            "a/.dpipe-put-0123456789abcdef.part"
        ]
    );
    assert!(found.iter().all(|l| l.kind == LeftoverKind::TempKey));
    assert!(found[0].to_string().contains("2 d old"), "{}", found[0]);

    storage.remove_leftovers(&found).await.unwrap();
    assert!(!backend.raw_root.join(".dpipe-4242-17-0.part").exists());
    assert!(
        !backend
            .raw_root
            .join("a/.dpipe-put-0123456789abcdef.part")
            .exists()
    );
    assert!(
        backend
            .raw_root
            .join("a/.dpipe-put-fedcba9876543210.part")
            .exists(),
        "young: kept"
    );
    assert!(
        backend.raw_root.join("a/data.csv").exists(),
        "data: untouched"
    );
    assert!(storage.leftovers(DAY).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_old_temp_keys_removed_young_kept() {
    old_temp_keys_removed_young_kept(&backends::fs()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftp_old_temp_keys_removed_young_kept() {
    old_temp_keys_removed_young_kept(&backends::ftp()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_old_temp_keys_removed_young_kept() {
    old_temp_keys_removed_young_kept(&backends::sftp_key()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_unfinished_upload_aborted_once_old() {
    let backend = backends::s3();
    let records = tempfile::tempdir().unwrap();
    let storage = recording_storage(&backend, records.path());
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("big.bin");
    std::fs::write(&source, content(6 * PART_SIZE, 5)).unwrap();
    interrupted_put(&storage, &source, "x/big.bin", records.path(), 2).await;

    assert!(
        storage.leftovers(DAY).await.unwrap().is_empty(),
        "young: kept"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let found = storage.leftovers(Duration::from_secs(1)).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "x/big.bin");
    assert!(matches!(found[0].kind, LeftoverKind::Upload { .. }));
    assert!(
        found[0].to_string().contains("unfinished upload"),
        "{}",
        found[0]
    );

    storage.remove_leftovers(&found).await.unwrap();
    assert!(s3s_uploads(&backend).is_empty(), "the upload is aborted");
    assert_eq!(recorded_parts(records.path()), 0, "and its record gone");
    assert!(storage.leftovers(Duration::ZERO).await.unwrap().is_empty());
    // The next put starts afresh.
    let done = storage.put(&source, "x/big.bin", None).await.unwrap();
    assert_eq!(done.resumed, 0);
}
