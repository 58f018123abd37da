//! Tests of `verify` over a local-mode API and an `fs` remote, and of how an S3 object's
//! checksum is compared.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use dpipe_core::manifest::{ManifestEntry, SyncedFile};
use md5::Md5;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::verify::{Basis, Evidence, Mismatch, Unrecorded, remote_evidence};
use super::{FileStamp, Progress, SyncOptions, SyncState, Syncer};
use crate::local::LocalApi;
use crate::{ErrorKind, RepoApi as _};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn md5(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// A local-mode API with pipe `p` on an `fs` remote at `<dir>/remote` that leaves out
/// `*.tmp`, and the repo `<dir>/repo`.
fn setup(dir: &Path) -> LocalApi {
    let api = LocalApi::open(&dir.join("local.sqlite"), "me", "me@example.com").unwrap();
    let remote = dir.join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    api.create_pipe(&json!({"name": "p", "protocol": "fs",
        "location": remote.to_str().unwrap(), "options": {"exclude": "*.tmp"}}))
        .unwrap();
    api
}

/// Writes `text` at `path` with a time an hour ago (old enough for the hash cache).
fn write_old(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// Flips the first byte of the file at `path`, keeping its size and time (and inode).
fn flip_first_byte(path: &Path) {
    use std::io::{Seek as _, Write as _};
    let before = std::fs::metadata(path).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[0] ^= 0x01;
    let mut file = std::fs::File::options().write(true).open(path).unwrap();
    file.seek(std::io::SeekFrom::Start(0)).unwrap();
    file.write_all(&bytes[..1]).unwrap();
    file.set_modified(before).unwrap();
}

#[test]
fn a_flipped_byte_that_kept_size_and_time_is_found_and_the_cache_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path());
    let (remote, repo) = (dir.path().join("remote"), dir.path().join("repo"));
    write_old(&remote.join("a.csv"), "x,y\n1,2\n");
    write_old(&remote.join("sub/b.txt"), "bbbb");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let syncer = Syncer::new(&api, &repo, rt.handle().clone());
    syncer.pull("p", &SyncOptions::default()).unwrap();

    let clean = syncer.verify("p", false).unwrap();
    assert_eq!(
        (clean.verified, clean.ok, clean.differ()),
        (2, 2, 0),
        "{clean:?}"
    );
    assert!(clean.changed.is_empty() && clean.missing.is_empty() && clean.remote.is_none());

    flip_first_byte(&repo.join("p/a.csv"));
    // The hash cache still vouches for the old content: only a fresh read sees the change.
    let state = SyncState::open(&repo).unwrap();
    let cached = || {
        let meta = std::fs::metadata(repo.join("p/a.csv")).unwrap();
        let stamp = FileStamp {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            inode: meta.ino(),
        };
        let hashes = state.cached_hash("p", "a.csv", stamp).unwrap();
        hashes.map(|h| h.sha256)
    };
    assert_eq!(cached(), Some(sha256(b"x,y\n1,2\n")));
    let report = syncer.verify("p", false).unwrap();
    assert_eq!(
        report.changed,
        [Mismatch {
            path: "a.csv".to_string(),
            by: Basis::Sha256,
            expected: Evidence::Hash(sha256(b"x,y\n1,2\n")),
            found: Some(Evidence::Hash(sha256(b"y,y\n1,2\n"))),
        }]
    );
    assert_eq!((report.verified, report.ok, report.differ()), (2, 1, 1));
    // Verify wrote nothing to the cache: it still holds what it held.
    assert_eq!(cached(), Some(sha256(b"x,y\n1,2\n")));
}

#[test]
fn missing_and_unrecorded_files_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path());
    let (remote, repo) = (dir.path().join("remote"), dir.path().join("repo"));
    write_old(&remote.join("a.csv"), "a");
    write_old(&remote.join("b.csv"), "bb");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let syncer = Syncer::new(&api, &repo, rt.handle().clone());
    syncer.pull("p", &SyncOptions::default()).unwrap();
    std::fs::remove_file(repo.join("p/b.csv")).unwrap();
    write_old(&repo.join("p/new.csv"), "new");
    write_old(
        &repo.join("p/scratch.tmp"),
        "left out by the pipe's exclude",
    );
    write_old(&repo.join("p/.dpipe-x.part"), "dpipe's own leftover");

    let report = syncer.verify("p", false).unwrap();
    assert_eq!(report.missing.len(), 1, "{report:?}");
    assert_eq!(report.missing[0].path, "b.csv");
    assert_eq!(report.missing[0].found, None);
    assert_eq!(
        report.unrecorded,
        [Unrecorded {
            path: "new.csv".to_string(),
            size: 3
        }]
    );
    assert_eq!((report.verified, report.ok), (2, 1));
}

#[test]
fn the_remote_of_an_fs_pipe_is_compared_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path());
    let (remote, repo) = (dir.path().join("remote"), dir.path().join("repo"));
    write_old(&remote.join("a.csv"), "aaaa");
    write_old(&remote.join("same-size.csv"), "ssss");
    write_old(&remote.join("gone.csv"), "g");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let syncer = Syncer::new(&api, &repo, rt.handle().clone());
    syncer.pull("p", &SyncOptions::default()).unwrap();
    let verdict = syncer.verify("p", true).unwrap().remote.unwrap();
    assert!(!verdict.checksums);
    assert_eq!(verdict.by_size, 3);
    assert!(verdict.differs.is_empty() && verdict.missing.is_empty());

    write_old(&remote.join("a.csv"), "longer");
    write_old(&remote.join("same-size.csv"), "SSSS");
    std::fs::remove_file(remote.join("gone.csv")).unwrap();
    let report = syncer.verify("p", true).unwrap();
    let verdict = report.remote.clone().unwrap();
    assert_eq!(
        verdict.differs,
        [Mismatch {
            path: "a.csv".to_string(),
            by: Basis::Size,
            expected: Evidence::Size(4),
            found: Some(Evidence::Size(6)),
        }]
    );
    assert_eq!(verdict.missing.len(), 1);
    assert_eq!(verdict.missing[0].path, "gone.csv");
    // The same size is all a folder remote can tell: same-size.csv passes.
    assert_eq!((report.verified, report.ok), (3, 1), "{report:?}");
    assert!(report.changed.is_empty() && report.missing.is_empty());
}

#[test]
fn a_pipe_never_synced_has_nothing_to_verify_and_an_unknown_one_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path());
    let repo = dir.path().join("repo");
    write_old(&repo.join("p/mine.csv"), "m");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let syncer = Syncer::new(&api, &repo, rt.handle().clone());
    let report = syncer.verify("p", true).unwrap();
    assert_eq!((report.verified, report.ok), (0, 0));
    assert_eq!(report.unrecorded.len(), 1);
    assert!(
        report.remote.is_none(),
        "nothing recorded: the storage is not asked"
    );

    let err = syncer.verify("q", false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// Counts what the read tells it.
#[derive(Default)]
struct Counter {
    events: Mutex<Vec<String>>,
}

impl Progress for Counter {
    fn start(&self, files: usize, bytes: u64) {
        let event = format!("start {files} {bytes}");
        self.events.lock().unwrap().push(event);
    }
    fn file_done(&self, path: &str, bytes: u64) {
        let event = format!("done {path} {bytes}");
        self.events.lock().unwrap().push(event);
    }
    fn finish(&self) {
        self.events.lock().unwrap().push("finish".to_string());
    }
}

#[test]
fn large_trees_are_read_on_several_threads_and_each_file_is_heard() {
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path());
    let repo = dir.path().join("repo");
    // 80 MiB in 5 files: above the scan's threshold for hashing on several threads. The
    // records are written directly: no transfer is needed to verify.
    let size = 16 << 20;
    let mut records = Vec::new();
    for i in 0..5u8 {
        let bytes = vec![i; size];
        let path = format!("big/{i}.bin");
        std::fs::create_dir_all(repo.join("p/big")).unwrap();
        std::fs::write(repo.join("p").join(&path), &bytes).unwrap();
        records.push(SyncedFile {
            path,
            size: size as u64,
            sha256: sha256(&bytes),
            local_modified: None,
            remote_etag: None,
            remote_modified: None,
        });
    }
    records[3].sha256 = sha256(b"something else");
    SyncState::open(&repo)
        .unwrap()
        .record_synced("p", &records)
        .unwrap();
    let counter = Counter::default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let syncer = Syncer::new(&api, &repo, rt.handle().clone()).with_progress(&counter);
    let report = syncer.verify("p", false).unwrap();
    assert_eq!((report.verified, report.ok), (5, 4));
    assert_eq!(report.changed[0].path, "big/3.bin");
    let mut events = counter.events.lock().unwrap().clone();
    assert_eq!(events.first().unwrap(), &format!("start 5 {}", 5 * size));
    assert_eq!(events.pop().unwrap(), "finish");
    events.remove(0);
    events.sort();
    let expected: Vec<String> = (0..5).map(|i| format!("done big/{i}.bin {size}")).collect();
    assert_eq!(events, expected);
}

fn record(content: &[u8], remote_etag: Option<&str>) -> SyncedFile {
    SyncedFile {
        path: "f".to_string(),
        size: content.len() as u64,
        sha256: sha256(content),
        local_modified: None,
        remote_etag: remote_etag.map(str::to_string),
        remote_modified: None,
    }
}

fn entry(content: &[u8], etag: Option<String>, sha256: Option<String>) -> ManifestEntry {
    ManifestEntry {
        path: "f".to_string(),
        size: content.len() as u64,
        modified: None,
        etag,
        sha256,
        md5: None,
    }
}

/// The local file as just read: both hashes.
fn local(content: &[u8]) -> ManifestEntry {
    ManifestEntry {
        md5: Some(md5(content)),
        ..entry(content, None, Some(sha256(content)))
    }
}

#[test]
fn s3_objects_are_compared_by_the_strongest_checksum_they_have() {
    let synced = b"synced content";
    let other = b"other  content";
    let hash = |s: String| Evidence::Hash(s);
    // dpipe's stored SHA-256 decides first.
    let object = entry(other, Some("abc-2".to_string()), Some(sha256(other)));
    let got = remote_evidence(&record(synced, None), &object, None, true);
    assert_eq!(
        got,
        (Basis::Sha256, hash(sha256(synced)), hash(sha256(other)))
    );
    // A single-part ETag against the MD5 of the local file that still holds the content.
    let object = entry(other, Some(md5(other)), None);
    let got = remote_evidence(&record(synced, None), &object, Some(&local(synced)), true);
    assert_eq!(got, (Basis::Md5, hash(md5(synced)), hash(md5(other))));
    // The local file changed too: the ETag seen at the last sync stands for the content.
    let seen = md5(synced);
    let got = remote_evidence(
        &record(synced, Some(&seen)),
        &object,
        Some(&local(other)),
        true,
    );
    assert_eq!(got, (Basis::Md5, hash(md5(synced)), hash(md5(other))));
    // Neither: only the size is left, as for a multipart ETag without dpipe's SHA-256, and
    // for any storage without checksums.
    let got = remote_evidence(&record(synced, None), &object, Some(&local(other)), true);
    assert_eq!(got.0, Basis::Size);
    let multipart = entry(other, Some(format!("{}-3", md5(other))), None);
    let got = remote_evidence(
        &record(synced, None),
        &multipart,
        Some(&local(synced)),
        true,
    );
    assert_eq!(got, (Basis::Size, Evidence::Size(14), Evidence::Size(14)));
    let got = remote_evidence(&record(synced, None), &object, Some(&local(synced)), false);
    assert_eq!(got.0, Basis::Size);
}
