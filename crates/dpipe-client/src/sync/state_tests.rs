//! Tests of [`SyncState`]: layout and pragmas of the file, round trips, durability, wrong calls.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, UNIX_EPOCH};

use dpipe_core::manifest::SyncedFile;

use super::*;
use crate::ErrorKind;

fn synced_file(path: &str, sha: char) -> SyncedFile {
    SyncedFile {
        path: path.into(),
        size: 42,
        sha256: sha.to_string().repeat(64),
        local_modified: Some(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)),
        remote_etag: Some("\"abc\"".into()),
        remote_modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_001)),
    }
}

fn record(path: &str, stamp: FileStamp, fill: char) -> HashRecord {
    HashRecord {
        path: path.into(),
        stamp,
        hashes: Hashes {
            sha256: fill.to_string().repeat(64),
            md5: Some(fill.to_string().repeat(32)),
        },
    }
}

#[test]
fn open_creates_a_private_wal_database_in_the_repo() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("not/yet/there");
    let state = SyncState::open(&repo).unwrap();
    assert_eq!(state.file(), repo.join(".dpipe/state.sqlite"));
    let mode = std::fs::metadata(repo.join(STATE_DIR))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let conn = rusqlite::Connection::open(state.file()).unwrap();
    let journal: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    drop(conn);
    drop(state);

    // A too-open state folder is tightened on the next open.
    std::fs::set_permissions(repo.join(STATE_DIR), std::fs::Permissions::from_mode(0o755)).unwrap();
    SyncState::open(&repo).unwrap();
    let mode = std::fs::metadata(repo.join(STATE_DIR))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn synced_records_round_trip_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let state = SyncState::open(dir.path()).unwrap();
    assert!(state.synced("p").unwrap().is_empty());
    assert!(state.pipes().unwrap().is_empty());

    let bare = SyncedFile {
        local_modified: None,
        remote_etag: None,
        remote_modified: None,
        size: u64::MAX,
        ..synced_file("dir/ü b.csv", 'b')
    };
    let before_epoch = SyncedFile {
        local_modified: Some(UNIX_EPOCH - Duration::new(10, 5)),
        ..synced_file("old.csv", 'c')
    };
    let files = [synced_file("a.csv", 'a'), bare, before_epoch];
    state.record_synced("p", &files).unwrap();
    state.record_synced("q", &[synced_file("x", 'd')]).unwrap();
    drop(state);

    let state = SyncState::open(dir.path()).unwrap();
    let synced = state.synced("p").unwrap();
    assert_eq!(synced.values().cloned().collect::<Vec<_>>(), {
        let mut sorted = files.to_vec();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        sorted
    });
    assert_eq!(state.pipes().unwrap(), ["p", "q"]);

    // A new record of a path replaces the old one.
    let newer = synced_file("a.csv", 'e');
    state
        .record_synced("p", std::slice::from_ref(&newer))
        .unwrap();
    assert_eq!(state.synced("p").unwrap()["a.csv"], newer);

    state
        .forget_synced("p", &["a.csv", "never-synced"])
        .unwrap();
    let synced = state.synced("p").unwrap();
    assert_eq!(
        synced.keys().collect::<Vec<_>>(),
        ["dir/ü b.csv", "old.csv"]
    );
    assert_eq!(state.synced("q").unwrap().len(), 1, "other pipes untouched");

    state.reset("p").unwrap();
    assert!(state.synced("p").unwrap().is_empty());
    assert_eq!(state.pipes().unwrap(), ["q"]);
    drop(state);
    let state = SyncState::open(dir.path()).unwrap();
    assert_eq!(state.pipes().unwrap(), ["q"], "the reset is durable");
}

#[test]
fn the_hash_cache_answers_only_for_the_exact_stamp() {
    let dir = tempfile::tempdir().unwrap();
    let state = SyncState::open(dir.path()).unwrap();
    let stamp = FileStamp {
        size: 10,
        mtime_ns: -5,
        inode: u64::MAX,
    };
    let rec = record("a/b", stamp, 'a');
    state.store_hashes("p", std::slice::from_ref(&rec)).unwrap();
    drop(state);
    let state = SyncState::open(dir.path()).unwrap();
    assert_eq!(
        state.cached_hash("p", "a/b", stamp).unwrap(),
        Some(rec.hashes)
    );
    for other in [
        FileStamp { size: 11, ..stamp },
        FileStamp {
            mtime_ns: -4,
            ..stamp
        },
        FileStamp { inode: 1, ..stamp },
    ] {
        assert_eq!(state.cached_hash("p", "a/b", other).unwrap(), None);
    }
    assert_eq!(state.cached_hash("q", "a/b", stamp).unwrap(), None);
    assert_eq!(state.cached_hash("p", "a/c", stamp).unwrap(), None);

    // Storing again replaces; a reset drops the pipe's cache.
    let newer = record("a/b", FileStamp { size: 12, ..stamp }, 'b');
    state
        .store_hashes("p", std::slice::from_ref(&newer))
        .unwrap();
    assert_eq!(state.cached_hash("p", "a/b", stamp).unwrap(), None);
    assert_eq!(
        state.cached_hash("p", "a/b", newer.stamp).unwrap(),
        Some(newer.hashes)
    );
    state.reset("p").unwrap();
    assert_eq!(state.cached_hash("p", "a/b", newer.stamp).unwrap(), None);
    assert!(
        state.pipes().unwrap().is_empty(),
        "a cache alone is not a pull"
    );
}

#[test]
fn wrong_repos_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("repo-file");
    std::fs::write(&file, "x").unwrap();
    let err = SyncState::open(&file).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        format!("the file repo {} is not a folder", file.display())
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"x", "nothing changed");

    // `.dpipe` that is a file, or a link (possibly out of the repo), is not used.
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    std::fs::write(repo.join(STATE_DIR), "mine").unwrap();
    let err = SyncState::open(&repo).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains(".dpipe is not a folder"), "{err}");
    std::fs::remove_file(repo.join(STATE_DIR)).unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, repo.join(STATE_DIR)).unwrap();
    let err = SyncState::open(&repo).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside the repo"
    );
}

#[test]
fn a_state_from_a_newer_dpipe_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = SyncState::open(dir.path()).unwrap().file().to_path_buf();
    rusqlite::Connection::open(&file)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SyncState::open(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    let message = err.to_string();
    assert!(message.contains(&file.display().to_string()), "{message}");
    assert!(message.contains("schema version 99, newer"), "{message}");
}

#[test]
fn a_state_of_schema_one_is_migrated_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(STATE_DIR)).unwrap();
    let file = dir.path().join(STATE_DIR).join("state.sqlite");
    let old = rusqlite::Connection::open(&file).unwrap();
    old.execute_batch(state::MIGRATIONS[0]).unwrap();
    old.pragma_update(None, "user_version", 1).unwrap();
    old.execute(
        "INSERT INTO hash_cache VALUES ('p', 'a.csv', 3, 42, 7, ?1, ?2)",
        ["a".repeat(64), "b".repeat(32)],
    )
    .unwrap();
    drop(old);

    let state = SyncState::open(dir.path()).unwrap();
    let stamp = FileStamp {
        size: 3,
        mtime_ns: 42,
        inode: 7,
    };
    let hashes = state.cached_hash("p", "a.csv", stamp).unwrap().unwrap();
    assert_eq!(hashes.md5, Some("b".repeat(32)));
    // Schema two caches hashes without an MD5.
    state
        .store_hashes(
            "p",
            &[HashRecord {
                path: "b.csv".into(),
                stamp,
                hashes: Hashes {
                    sha256: "c".repeat(64),
                    md5: None,
                },
            }],
        )
        .unwrap();
    let hashes = state.cached_hash("p", "b.csv", stamp).unwrap().unwrap();
    assert_eq!(hashes.md5, None);
}
