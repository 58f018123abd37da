//! Uploads that an interruption does not send back to byte 0: an S3 multipart upload stopped
//! after some parts (its task aborted, as a kill would leave it) is continued by the next put
//! — on s3s-fs from this machine's record, on moto with AWS's ListParts — and only for the
//! same version of the file; on `fs` the temporary key of the same version is continued
//! after its bytes are checked against the local file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dpipe_storage::transfer::resumable_temp_key;
use dpipe_storage::{Storage, Tuning};
use sha2::{Digest as _, Sha256};

use crate::backends::{self, Backend, PART_SIZE};

/// Parts of the test file.
const PARTS: usize = 8;

/// `len` bytes that differ for each `seed`.
pub fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 7919) as u8).wrapping_add(seed))
        .collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The backend's storage, recording its S3 uploads in `records`.
pub fn recording_storage(backend: &Backend, records: &Path) -> Storage {
    let tuning = Tuning {
        upload_records: Some(records.to_path_buf()),
        part_concurrency: 2,
        ..backends::tuning()
    };
    Storage::connect(&backend.location, tuning).expect("connect")
}

/// The parts recorded in the (one) upload record in `records`.
pub fn recorded_parts(records: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(records) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .filter_map(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
        .map(|v| v["parts"].as_array().map_or(0, Vec::len))
        .max()
        .unwrap_or(0)
}

/// Starts a put of `source` to `key` and stops it (drops its task) once `parts` parts are
/// recorded: what a run killed in the middle leaves.
pub async fn interrupted_put(
    storage: &Storage,
    source: &Path,
    key: &str,
    records: &Path,
    parts: usize,
) {
    let task = tokio::spawn({
        let (storage, source, key) = (storage.clone(), source.to_path_buf(), key.to_string());
        async move { storage.put(&source, &key, None).await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while recorded_parts(records) < parts {
        assert!(
            !task.is_finished(),
            "the upload ended before it could be interrupted"
        );
        assert!(std::time::Instant::now() < deadline, "no parts recorded");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task.abort();
    let _ = task.await;
}

/// s3s-fs's uploads in progress (one `.upload-<id>.json` in its root per upload).
pub fn s3s_uploads(backend: &Backend) -> Vec<PathBuf> {
    // raw_root = <server root>/<bucket>/pipes/p1
    let server_root = backend.raw_root.ancestors().nth(3).unwrap();
    std::fs::read_dir(server_root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".upload-") && n.ends_with(".json"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_upload_interrupted_after_some_parts_is_continued() {
    let backend = backends::s3();
    let records = tempfile::tempdir().unwrap();
    let storage = recording_storage(&backend, records.path());
    let local = tempfile::tempdir().unwrap();
    let bytes = content(PARTS * PART_SIZE + 1234, 1);
    let source = local.path().join("big.bin");
    std::fs::write(&source, &bytes).unwrap();

    interrupted_put(&storage, &source, "d/big.bin", records.path(), 3).await;
    assert_eq!(
        s3s_uploads(&backend).len(),
        1,
        "the upload is left in progress"
    );
    assert!(
        !backend.raw_root.join("d/big.bin").exists(),
        "nothing under the final name"
    );

    let done = storage.put(&source, "d/big.bin", None).await.unwrap();
    assert!(
        done.resumed >= 3 * PART_SIZE as u64,
        "resumed {}",
        done.resumed
    );
    assert!(
        done.size - done.resumed < bytes.len() as u64,
        "moved less than the file"
    );
    assert_eq!(done.size, bytes.len() as u64);
    assert_eq!(
        std::fs::read(backend.raw_root.join("d/big.bin")).unwrap(),
        bytes
    );
    let stat = storage.stat("d/big.bin").await.unwrap();
    assert_eq!(stat.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(recorded_parts(records.path()), 0, "the record is gone");
    assert!(s3s_uploads(&backend).is_empty(), "no upload left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_changed_file_is_not_put_onto_the_old_upload() {
    let backend = backends::s3();
    let records = tempfile::tempdir().unwrap();
    let storage = recording_storage(&backend, records.path());
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("big.bin");
    std::fs::write(&source, content(PARTS * PART_SIZE, 1)).unwrap();
    interrupted_put(&storage, &source, "big.bin", records.path(), 3).await;
    let old_upload = s3s_uploads(&backend);
    assert_eq!(old_upload.len(), 1);

    // Another version: same size, other bytes, a new time.
    let changed = content(PARTS * PART_SIZE, 2);
    std::fs::write(&source, &changed).unwrap();
    let done = storage.put(&source, "big.bin", None).await.unwrap();
    assert_eq!(done.resumed, 0, "nothing of the old version kept");
    assert_eq!(
        std::fs::read(backend.raw_root.join("big.bin")).unwrap(),
        changed
    );
    let stat = storage.stat("big.bin").await.unwrap();
    assert_eq!(stat.sha256.as_deref(), Some(sha256_hex(&changed).as_str()));
    assert!(!old_upload[0].exists(), "the old upload was aborted");
    assert!(s3s_uploads(&backend).is_empty());
}

/// moto answers as AWS does (ListParts with ETags, ListMultipartUploads): the same resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_upload_continued_on_moto() {
    let backend = backends::moto();
    let records = tempfile::tempdir().unwrap();
    let storage = recording_storage(&backend, records.path());
    let local = tempfile::tempdir().unwrap();
    let bytes = content(4 * PART_SIZE + 77, 3);
    let source = local.path().join("m.bin");
    std::fs::write(&source, &bytes).unwrap();
    interrupted_put(&storage, &source, "m.bin", records.path(), 2).await;
    let listed = storage.leftovers(Duration::ZERO).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].key, "m.bin");

    let done = storage.put(&source, "m.bin", None).await.unwrap();
    assert!(
        done.resumed >= 2 * PART_SIZE as u64,
        "resumed {}",
        done.resumed
    );
    let stat = storage.stat("m.bin").await.unwrap();
    assert_eq!(stat.size, bytes.len() as u64);
    assert_eq!(stat.sha256.as_deref(), Some(sha256_hex(&bytes).as_str()));
    assert_eq!(
        storage.hash_object(&stat).await.unwrap(),
        sha256_hex(&bytes)
    );
    assert!(storage.leftovers(Duration::ZERO).await.unwrap().is_empty());
}

/// The temporary key of a killed `fs` upload (a prefix of the file) is checked and continued;
/// one whose bytes differ from the file is replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_temp_key_continued_when_its_bytes_match() {
    temp_key_resume(&backends::fs()).await;
}

pub async fn temp_key_resume(backend: &Backend) {
    let storage = backend.storage();
    let local = tempfile::tempdir().unwrap();
    let bytes = content(3 * PART_SIZE + 99, 4);
    let sha = sha256_hex(&bytes);
    let source = local.path().join("t.bin");
    std::fs::write(&source, &bytes).unwrap();
    let temp = resumable_temp_key("sub/t.bin", &sha, bytes.len() as u64);
    let planted = backend.raw_root.join(&temp);
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();

    // What a killed run left: the first 2 parts, writable by the server's user (not this
    // test's, on SFTP).
    let kept = 2 * PART_SIZE;
    std::fs::write(&planted, &bytes[..kept]).unwrap();
    open_to_all(&planted);
    let done = storage.put(&source, "sub/t.bin", Some(&sha)).await.unwrap();
    assert_eq!(done.resumed, kept as u64);
    assert_eq!(
        std::fs::read(backend.raw_root.join("sub/t.bin")).unwrap(),
        bytes
    );
    assert!(!planted.exists(), "renamed into place");

    // A temporary key whose bytes are not the file's is not continued.
    let mut corrupt = bytes[..kept].to_vec();
    corrupt[12345] ^= 0xff;
    std::fs::write(&planted, &corrupt).unwrap();
    open_to_all(&planted);
    std::fs::remove_file(backend.raw_root.join("sub/t.bin")).unwrap();
    let done = storage.put(&source, "sub/t.bin", None).await.unwrap();
    assert_eq!(done.resumed, 0, "corruption detected, started over");
    assert_eq!(
        std::fs::read(backend.raw_root.join("sub/t.bin")).unwrap(),
        bytes
    );
    assert!(!planted.exists());
}

/// Lets anyone write `file` and its folder.
fn open_to_all(file: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let all = |mode| std::fs::Permissions::from_mode(mode);
    std::fs::set_permissions(file, all(0o666)).unwrap();
    std::fs::set_permissions(file.parent().unwrap(), all(0o777)).unwrap();
}

/// The same on SFTP (dpipe's own service, which appends at an explicit offset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_temp_key_continued_when_its_bytes_match() {
    temp_key_resume(&backends::sftp_password()).await;
}

/// An upload in parts to a server that is not there is an error a run waits out (as OpenDAL's
/// calls are), not a failure of the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_upload_in_parts_to_nothing_listening_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let location = dpipe_storage::Location::new(dpipe_storage::Protocol::S3, "b", "")
        .setting("endpoint", format!("http://127.0.0.1:{port}"))
        .credential("aws_access_key_id", "id")
        .credential("aws_secret_access_key", "secret");
    let storage = Storage::connect(&location, backends::tuning()).unwrap();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("big.bin");
    std::fs::write(&source, content(2 * PART_SIZE, 6)).unwrap();
    let error = storage.put(&source, "big.bin", None).await.unwrap_err();
    assert!(error.is_unreachable(), "{error}");
    assert!(error.message().contains("connection refused"), "{error}");
}
