//! Downloads that go on from what a cut one left: a large object's partial file, named after
//! its version, is kept, verified with the rest, and only the rest is fetched; a bad or stale
//! partial file never ends up in the final file. Run on a folder, S3 (s3s-fs), SFTP and FTP,
//! the objects planted in the storage's own folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dpipe_storage::transfer::resume::{download_part_name, leftovers_to_remove};
use dpipe_storage::{ManifestEntry, Storage};

use crate::backends::{self, Backend, PART_SIZE};

/// Below the ranged-get cutoff (one streamed GET from the offset), and above it (ranged parts).
const SIZES: [usize; 2] = [PART_SIZE + 4321, 2 * PART_SIZE + 123_457];

/// `size` pseudo-random bytes (xorshift from `seed`): no two parts alike.
fn content(size: usize, seed: u8) -> Vec<u8> {
    let mut state = u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut bytes = Vec::with_capacity(size + 8);
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

/// Plants `bytes` at `key` in the storage's folder and returns the object as a scan lists it.
async fn plant(b: &Backend, storage: &Storage, key: &str, bytes: &[u8]) -> ManifestEntry {
    let path = b.raw_root.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let manifest = storage.scan("").await.unwrap();
    manifest
        .get(key)
        .cloned()
        .expect("the planted object is listed")
}

/// The partial file a download of `object` into `folder` goes on from.
fn part_of(folder: &Path, object: &ManifestEntry) -> PathBuf {
    folder
        .join(&object.path)
        .with_file_name(download_part_name(object))
}

fn leave_part(folder: &Path, object: &ManifestEntry, bytes: &[u8]) -> PathBuf {
    let part = part_of(folder, object);
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::write(&part, bytes).unwrap();
    part
}

/// The names in `dir` (a download's folder), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn resumes_a_cut_download(b: &Backend) {
    let storage = b.storage();
    for (i, size) in SIZES.into_iter().enumerate() {
        let key = format!("big/{i}.bin");
        let bytes = content(size, i as u8 + 1);
        let object = plant(b, &storage, &key, &bytes).await;
        let local = tempfile::tempdir().unwrap();
        let kept = size * 2 / 5;
        leave_part(local.path(), &object, &bytes[..kept]);
        let done = storage.get_into(&object, local.path()).await.unwrap();
        assert_eq!(
            (done.size, done.resumed),
            (size as u64, kept as u64),
            "{key}"
        );
        assert!(
            std::fs::read(local.path().join(&key)).unwrap() == bytes,
            "{key}: same bytes"
        );
        assert_eq!(
            names(&local.path().join("big")),
            [format!("{i}.bin")],
            "no leftover"
        );

        // A partial file as long as the object is verified as it is.
        let again = tempfile::tempdir().unwrap();
        leave_part(again.path(), &object, &bytes);
        let done = storage.get_into(&object, again.path()).await.unwrap();
        assert_eq!(done.resumed, size as u64, "{key}");
        assert!(std::fs::read(again.path().join(&key)).unwrap() == bytes);
    }
}

async fn a_bad_partial_file_is_fetched_again(b: &Backend) {
    let storage = b.storage();
    let size = SIZES[1];
    let bytes = content(size, 7);
    let object = plant(b, &storage, "bad.bin", &bytes).await;
    // Garbage (its end differs from the object), and a file longer than the object.
    for leftover in [vec![0xAB; size / 2], [bytes.as_slice(), b"more"].concat()] {
        let local = tempfile::tempdir().unwrap();
        leave_part(local.path(), &object, &leftover);
        let done = storage.get_into(&object, local.path()).await.unwrap();
        assert_eq!(done.resumed, 0, "nothing kept");
        assert!(std::fs::read(local.path().join("bad.bin")).unwrap() == bytes);
        assert_eq!(names(local.path()), ["bad.bin"], "no leftover");
    }
}

async fn a_changed_object_is_not_resumed(b: &Backend) {
    let storage = b.storage();
    let size = SIZES[0];
    let old = plant(b, &storage, "changed.bin", &content(size, 1)).await;
    let local = tempfile::tempdir().unwrap();
    let old_part = leave_part(local.path(), &old, &content(size, 1)[..size / 2]);
    // Same key and size, other bytes and a later time (FTP and SFTP list whole seconds).
    std::thread::sleep(Duration::from_millis(1100));
    let bytes = content(size, 2);
    let new = plant(b, &storage, "changed.bin", &bytes).await;
    assert_ne!(download_part_name(&old), download_part_name(&new));
    let done = storage.get_into(&new, local.path()).await.unwrap();
    assert_eq!(done.resumed, 0);
    assert!(std::fs::read(local.path().join("changed.bin")).unwrap() == bytes);
    // The old version's partial file is for the next pull to delete; a live one is kept.
    let new_part = leave_part(local.path(), &new, &bytes[..10]);
    let remote = storage.scan("").await.unwrap();
    let day = Duration::from_secs(86_400);
    let found = vec![old_part.clone(), new_part];
    assert_eq!(
        leftovers_to_remove(local.path(), found, &remote, day),
        [old_part]
    );
}

/// S3: the object's checksum — its MD5 ETag (one part), or the SHA-256 dpipe stored with it
/// (many parts) — catches a partial file whose end is right but whose middle is not (a folder
/// has no checksum: there, only the end is compared).
async fn a_wrong_middle_is_caught_by_the_checksum(b: &Backend) {
    let storage = b.storage();
    for size in [PART_SIZE, SIZES[1]] {
        let key = format!("middle-{size}.bin");
        let bytes = content(size, 9);
        let local = tempfile::tempdir().unwrap();
        let source = local.path().join("source");
        std::fs::write(&source, &bytes).unwrap();
        storage.put(&source, &key, None).await.unwrap();
        let object = storage.stat(&key).await.unwrap();
        let mut leftover = bytes[..size / 2].to_vec();
        leftover[1000] ^= 1;
        leave_part(local.path(), &object, &leftover);
        let done = storage.get_into(&object, local.path()).await.unwrap();
        assert_eq!(done.resumed, 0, "{key}: caught, fetched from the start");
        assert!(std::fs::read(local.path().join(&key)).unwrap() == bytes);
    }
}

macro_rules! resume_cases {
    ($($backend:ident: [$($case:ident),* $(,)?]);* $(;)?) => {
        $(
            mod $backend {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        super::$case(&super::backends::$backend()).await;
                    }
                )*
            }
        )*
    };
}

resume_cases! {
    fs: [resumes_a_cut_download, a_bad_partial_file_is_fetched_again, a_changed_object_is_not_resumed];
    s3: [resumes_a_cut_download, a_bad_partial_file_is_fetched_again, a_changed_object_is_not_resumed, a_wrong_middle_is_caught_by_the_checksum];
    sftp_password: [resumes_a_cut_download, a_bad_partial_file_is_fetched_again, a_changed_object_is_not_resumed];
    // vsftpd lists times to the minute: a same-size change within it keeps the version's
    // name (the end compared on resuming is then what tells a change).
    ftp: [resumes_a_cut_download, a_bad_partial_file_is_fetched_again];
}
