//! Tests of the engine over a local-mode API and an `fs` remote.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::super::SyncState;
use super::super::local_scan::FILES_HASHED;
use super::{Progress, SyncOptions, Syncer};
use crate::local::LocalApi;
use crate::{ErrorKind, RepoApi as _};

/// Counts what the engine tells it.
#[derive(Default)]
struct Counter {
    events: Mutex<Vec<String>>,
}

impl Progress for Counter {
    fn start(&self, files: usize, bytes: u64) {
        self.events
            .lock()
            .unwrap()
            .push(format!("start {files} {bytes}"));
    }
    fn file_done(&self, path: &str, bytes: u64) {
        self.events
            .lock()
            .unwrap()
            .push(format!("done {path} {bytes}"));
    }
    fn finish(&self) {
        self.events.lock().unwrap().push("finish".to_string());
    }
}

/// A local-mode API with pipe `p` on an `fs` remote at `<dir>/remote`.
fn setup(dir: &Path) -> LocalApi {
    let api = LocalApi::open(&dir.join("local.sqlite"), "me", "me@example.com").unwrap();
    let remote = dir.join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    api.create_pipe(&json!({"name": "p", "protocol": "fs",
        "location": remote.to_str().unwrap()}))
        .unwrap();
    api
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn identical_unrecorded_copies_are_adopted_not_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path());
    let remote = dir.path().join("remote");
    let repo = dir.path().join("repo");
    // Both sides hold files no sync recorded (as a killed run leaves them): one the same,
    // one of the same size but different.
    write(&remote.join("same.txt"), "same");
    write(&repo.join("p/same.txt"), "same");
    write(&remote.join("diff.txt"), "abcd");
    write(&repo.join("p/diff.txt"), "wxyz");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let syncer = Syncer::new(&api, &repo, rt.handle().clone());

    let status = syncer.status("p", None, None).unwrap();
    assert_eq!(status.conflicts, vec!["diff.txt"], "{status:?}");
    let err = syncer.pull("p", &SyncOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(!err.to_string().contains("same.txt"), "{err}");

    // Without the different one, the pull moves nothing and records the identical copy.
    std::fs::remove_file(repo.join("p/diff.txt")).unwrap();
    let report = syncer.pull("p", &SyncOptions::default()).unwrap();
    assert_eq!(report.transferred.len(), 1, "{report:?}");
    assert_eq!(report.transferred[0].path, "diff.txt");
    let state = SyncState::open(&repo).unwrap();
    assert!(state.synced("p").unwrap().contains_key("same.txt"));
    assert_eq!(
        std::fs::read_to_string(repo.join("p/same.txt")).unwrap(),
        "same"
    );
}

/// Writes `text` at `path` with a time an hour ago (old enough for the hash cache).
fn write_old(path: &Path, text: &str) {
    write(path, text);
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

#[test]
fn new_files_are_read_once_by_their_upload_and_not_by_the_next_scans() {
    let hashed = || FILES_HASHED.with(|n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path());
    let repo = dir.path().join("repo");
    write_old(&repo.join("p/a.txt"), "alpha");
    write_old(&repo.join("p/sub/b.txt"), "beta");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let syncer = Syncer::new(&api, &repo, rt.handle().clone());

    let start = hashed();
    let pushed = syncer.push("p", &SyncOptions::default()).unwrap();
    assert_eq!(pushed.transferred.len(), 2, "{pushed:?}");
    assert_eq!(
        hashed() - start,
        0,
        "the scan leaves new files to the upload"
    );
    let synced = SyncState::open(&repo).unwrap().synced("p").unwrap();
    let sha_alpha = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(b"alpha"))
    };
    assert_eq!(
        synced["a.txt"].sha256, sha_alpha,
        "the upload's hash is recorded"
    );

    let again = syncer.push("p", &SyncOptions::default()).unwrap();
    assert!(again.transferred.is_empty(), "{again:?}");
    assert_eq!(hashed() - start, 0, "the upload's hashes were cached");

    // An edit is still seen (the scan hashes a synced file that changed).
    write_old(&repo.join("p/a.txt"), "ALPHA");
    std::fs::File::options()
        .write(true)
        .open(repo.join("p/a.txt"))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
    let edited = syncer.push("p", &SyncOptions::default()).unwrap();
    assert_eq!(edited.transferred.len(), 1, "{edited:?}");
    assert_eq!(
        hashed() - start,
        1,
        "only the edited file is read by the scan"
    );
}

#[test]
fn progress_hears_every_transfer_and_readme_shows_once() {
    let dir = tempfile::tempdir().unwrap();
    let api = setup(dir.path());
    let remote = dir.path().join("remote");
    write(&remote.join("README.md"), "# hello\n");
    write(&remote.join("LICENSE.md"), "MIT\n");
    write(&remote.join("sub/README.md"), "not at the top\n");
    write(&remote.join("data.csv"), "a,b\n1,2\n");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let counter = Counter::default();
    let repo = dir.path().join("repo");
    let syncer = Syncer::new(&api, &repo, rt.handle().clone()).with_progress(&counter);

    // A preview tells the progress nothing.
    let preview = syncer
        .pull(
            "p",
            &SyncOptions {
                preview: true,
                ..SyncOptions::default()
            },
        )
        .unwrap();
    assert!(preview.first_pulled.is_empty());
    assert!(counter.events.lock().unwrap().is_empty());

    let report = syncer.pull("p", &SyncOptions::default()).unwrap();
    assert_eq!(report.transferred.len(), 4);
    assert_eq!(report.first_pulled, vec!["LICENSE.md", "README.md"]);
    let mut events = counter.events.lock().unwrap().clone();
    assert_eq!(events.first().unwrap(), "start 4 35");
    assert_eq!(events.last().unwrap(), "finish");
    let mut done: Vec<_> = events.drain(1..events.len() - 1).collect();
    done.sort();
    assert_eq!(
        done,
        vec![
            "done LICENSE.md 4",
            "done README.md 8",
            "done data.csv 8",
            "done sub/README.md 15",
        ]
    );

    // Changed on the remote and pulled again: no longer a first pull.
    counter.events.lock().unwrap().clear();
    write(&remote.join("README.md"), "# hello, world\n");
    let again = syncer.pull("p", &SyncOptions::default()).unwrap();
    assert_eq!(again.transferred.len(), 1, "{again:?}");
    assert!(again.first_pulled.is_empty());
    assert_eq!(
        *counter.events.lock().unwrap(),
        vec!["start 1 15", "done README.md 15", "finish"]
    );

    // A push never reports first pulls, and its transfers are heard too.
    counter.events.lock().unwrap().clear();
    write(&repo.join("p/new.txt"), "new");
    let pushed = syncer.push("p", &SyncOptions::default()).unwrap();
    assert_eq!(pushed.transferred.len(), 1, "{pushed:?}");
    assert!(pushed.first_pulled.is_empty());
    assert_eq!(
        *counter.events.lock().unwrap(),
        vec!["start 1 3", "done new.txt 3", "finish"]
    );
}
