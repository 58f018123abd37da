//! Tests of [`scan_local`]: the tree it reports, the hash cache, links, dpipe's own files and
//! wrong calls. Reads are counted with `FILES_HASHED`, never timed.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::local_scan::{AFTER_READ, FILES_HASHED, Hashing, scan_local_for};
use super::*;
use crate::ErrorKind;

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

fn hashed() -> usize {
    FILES_HASHED.with(|n| n.get())
}

/// Writes `contents` at `path` (creating folders) with a modification time `age` ago.
fn write_aged(path: &Path, contents: &[u8], age: Duration) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
    let file = fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

const HOUR: Duration = Duration::from_secs(3600);

/// A repo with a pipe folder `p` holding a small tree, all files an hour old.
fn tree() -> (tempfile::TempDir, SyncState) {
    let dir = tempfile::tempdir().unwrap();
    let pipe = dir.path().join("p");
    write_aged(&pipe.join("top.csv"), b"a,b\n1,2\n", HOUR);
    write_aged(&pipe.join("empty"), b"", HOUR);
    write_aged(&pipe.join("dir/sub/deep.txt"), b"deep", HOUR);
    write_aged(&pipe.join("with space/ü ñ 'q\".txt"), b"unicode", HOUR);
    // A file bigger than the read buffer, of a size that is not a multiple of it.
    let big: Vec<u8> = (0..200_007u32).map(|i| (i % 251) as u8).collect();
    write_aged(&pipe.join("dir/big.bin"), &big, HOUR);
    let state = SyncState::open(dir.path()).unwrap();
    (dir, state)
}

#[test]
fn a_tree_is_listed_sorted_with_sizes_times_and_hashes() {
    let (dir, state) = tree();
    let manifest = scan_local(&dir.path().join("p"), "p", &state).unwrap();
    let paths: Vec<&str> = manifest.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "dir/big.bin",
            "dir/sub/deep.txt",
            "empty",
            "top.csv",
            "with space/ü ñ 'q\".txt"
        ]
    );
    assert!(manifest.rejected.is_empty(), "{:?}", manifest.rejected);
    let empty = manifest.get("empty").unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(empty.sha256.as_deref(), Some(EMPTY_SHA256));
    assert_eq!(empty.md5.as_deref(), Some(EMPTY_MD5));
    let big = fs::read(dir.path().join("p/dir/big.bin")).unwrap();
    let entry = manifest.get("dir/big.bin").unwrap();
    assert_eq!(entry.size, 200_007);
    assert_eq!(
        entry.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&big)).as_str())
    );
    for entry in &manifest.entries {
        assert_eq!(entry.etag, None);
        let on_disk = fs::metadata(dir.path().join("p").join(&entry.path)).unwrap();
        assert_eq!(entry.modified, Some(on_disk.modified().unwrap()));
    }
}

#[test]
fn an_unchanged_tree_is_not_read_again() {
    let (dir, state) = tree();
    let folder = dir.path().join("p");
    let start = hashed();
    let first = scan_local(&folder, "p", &state).unwrap();
    assert_eq!(hashed() - start, 5);
    drop(state);

    // Across a reopen too: the cache is in the state file.
    let state = SyncState::open(dir.path()).unwrap();
    let start = hashed();
    let second = scan_local(&folder, "p", &state).unwrap();
    assert_eq!(hashed() - start, 0, "nothing read");
    assert_eq!(second, first);

    // The cache is per pipe.
    let start = hashed();
    scan_local(&folder, "other", &state).unwrap();
    assert_eq!(hashed() - start, 5);
}

#[test]
fn files_are_hashed_only_as_needed_and_then_cached() {
    let (dir, state) = tree();
    let folder = dir.path().join("p");
    // Files that need no hash are listed without one, and not read.
    let start = hashed();
    let listed = scan_local_for(&folder, "p", &state, &|_| Hashing::Not)
        .unwrap()
        .manifest;
    assert_eq!(hashed() - start, 0);
    assert_eq!(listed.entries.len(), 5);
    for entry in &listed.entries {
        assert_eq!(
            (&entry.sha256, &entry.md5),
            (&None, &None),
            "{}",
            entry.path
        );
    }
    let start = hashed();
    let first = scan_local_for(&folder, "p", &state, &|_| Hashing::Sha256)
        .unwrap()
        .manifest;
    assert_eq!(hashed() - start, 5);
    for entry in &first.entries {
        assert!(entry.sha256.is_some(), "{}", entry.path);
        assert_eq!(entry.md5, None, "{}", entry.path);
    }
    // SHA-256 only still: the cache serves. The MD5 of one file: only that one is read again.
    let start = hashed();
    assert_eq!(
        scan_local_for(&folder, "p", &state, &|_| Hashing::Sha256)
            .unwrap()
            .manifest,
        first
    );
    // Cached hashes serve a file that needs none too.
    assert_eq!(
        scan_local_for(&folder, "p", &state, &|_| Hashing::Not)
            .unwrap()
            .manifest,
        first
    );
    assert_eq!(hashed() - start, 0, "nothing read");
    let md5_of_empty = |path: &str| {
        if path == "empty" {
            Hashing::Sha256AndMd5
        } else {
            Hashing::Sha256
        }
    };
    let second = scan_local_for(&folder, "p", &state, &md5_of_empty)
        .unwrap()
        .manifest;
    assert_eq!(hashed() - start, 1, "only the file whose MD5 is wanted");
    assert_eq!(second.get("empty").unwrap().md5.as_deref(), Some(EMPTY_MD5));
    let start = hashed();
    scan_local_for(&folder, "p", &state, &md5_of_empty).unwrap();
    assert_eq!(hashed() - start, 0, "its MD5 is cached now");
}

#[test]
fn a_same_size_edit_with_a_new_mtime_is_read_again() {
    let (dir, state) = tree();
    let folder = dir.path().join("p");
    let first = scan_local(&folder, "p", &state).unwrap();
    write_aged(&folder.join("dir/sub/deep.txt"), b"DEEP", HOUR / 2);
    let start = hashed();
    let second = scan_local(&folder, "p", &state).unwrap();
    assert_eq!(hashed() - start, 1, "only the edited file is read");
    let (old, new) = (
        first.get("dir/sub/deep.txt").unwrap(),
        second.get("dir/sub/deep.txt").unwrap(),
    );
    assert_eq!(old.size, new.size);
    assert_ne!(old.sha256, new.sha256);
    assert_eq!(
        new.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(b"DEEP")).as_str())
    );

    // A file replaced by another with the same size and mtime has a new inode.
    let path = folder.join("top.csv");
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    let replacement = folder.join("replacement");
    fs::write(&replacement, b"x,y\n3,4\n").unwrap();
    fs::File::options()
        .write(true)
        .open(&replacement)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    fs::rename(&replacement, &path).unwrap();
    let third = scan_local(&folder, "p", &state).unwrap();
    assert_eq!(
        third.get("top.csv").unwrap().sha256.as_deref(),
        Some(hex::encode(Sha256::digest(b"x,y\n3,4\n")).as_str())
    );
}

#[test]
fn recently_modified_files_are_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("p");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("fresh"), b"just written").unwrap();
    let state = SyncState::open(dir.path()).unwrap();
    for _ in 0..2 {
        let start = hashed();
        let manifest = scan_local(&folder, "p", &state).unwrap();
        assert_eq!(manifest.entries.len(), 1);
        assert_eq!(hashed() - start, 1, "a racy stamp is never trusted");
    }
}

#[test]
fn links_are_reported_and_never_followed() {
    let (dir, state) = tree();
    let folder = dir.path().join("p");
    let outside = tempfile::tempdir().unwrap();
    write_aged(&outside.path().join("secret"), b"outside", HOUR);
    std::os::unix::fs::symlink(outside.path().join("secret"), folder.join("to-file")).unwrap();
    std::os::unix::fs::symlink(outside.path(), folder.join("dir/to-dir")).unwrap();
    std::os::unix::fs::symlink("top.csv", folder.join("inside-link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent", folder.join("dangling")).unwrap();
    let start = hashed();
    let manifest = scan_local(&folder, "p", &state).unwrap();
    assert_eq!(hashed() - start, 5, "only the tree's own files are read");
    let rejected: Vec<(&str, &str)> = manifest
        .rejected
        .iter()
        .map(|r| (r.key.as_str(), r.reason))
        .collect();
    let link = "symbolic link (not followed)";
    assert_eq!(
        rejected,
        [
            ("dangling", link),
            ("dir/to-dir", link),
            ("inside-link", link),
            ("to-file", link)
        ]
    );
    assert_eq!(manifest.entries.len(), 5);
    assert!(manifest.get("dir/to-dir/secret").is_none());

    // The pipe's folder itself may not be a link either.
    let linked = dir.path().join("linked");
    std::os::unix::fs::symlink(outside.path(), &linked).unwrap();
    let err = scan_local(&linked, "linked", &state).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
}

#[test]
fn dpipes_own_files_are_skipped() {
    let (dir, state) = tree();
    // A partial download next to a file, and the state folder when the whole repo is scanned.
    write_aged(&dir.path().join("p/dir/.dpipe-Ab12cd"), b"partial", HOUR);
    let manifest = scan_local(&dir.path().join("p"), "p", &state).unwrap();
    assert_eq!(manifest.entries.len(), 5);
    assert!(manifest.rejected.is_empty());
    let whole = scan_local(dir.path(), "all", &state).unwrap();
    assert!(whole.entries.iter().all(|e| e.path.starts_with("p/")));
    assert_eq!(whole.entries.len(), 5);

    // A user's own folder named `.dpipe` elsewhere is data like any other.
    write_aged(&dir.path().join("p/sub/.dpipe/notes"), b"mine", HOUR);
    let manifest = scan_local(&dir.path().join("p"), "p", &state).unwrap();
    assert!(manifest.get("sub/.dpipe/notes").is_some());
}

#[test]
fn unsafe_names_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("p");
    fs::create_dir_all(folder.join(OsStr::from_bytes(b"bad\xffdir"))).unwrap();
    write_aged(
        &folder.join(OsStr::from_bytes(b"bad\xffdir/inner")),
        b"x",
        HOUR,
    );
    write_aged(&folder.join(OsStr::from_bytes(b"bad\xfe.txt")), b"x", HOUR);
    write_aged(&folder.join("back\\slash"), b"x", HOUR);
    write_aged(&folder.join("ok"), b"x", HOUR);
    let state = SyncState::open(dir.path()).unwrap();
    let manifest = scan_local(&folder, "p", &state).unwrap();
    let rejected: Vec<(&str, &str)> = manifest
        .rejected
        .iter()
        .map(|r| (r.key.as_str(), r.reason))
        .collect();
    assert_eq!(
        rejected,
        [
            ("back\\slash", "contains a backslash"),
            ("bad\u{fffd}.txt", "name is not valid UTF-8"),
            ("bad\u{fffd}dir", "name is not valid UTF-8"),
        ]
    );
    assert_eq!(manifest.entries.len(), 1);
}

#[test]
fn wrong_folders() {
    let dir = tempfile::tempdir().unwrap();
    let state = SyncState::open(dir.path()).unwrap();
    let missing = scan_local(&dir.path().join("never-pulled"), "never-pulled", &state).unwrap();
    assert_eq!(missing, Default::default());
    let file = dir.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let err = scan_local(&file, "a-file", &state).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(
        err.to_string(),
        format!(
            "the folder of pipe \"a-file\", {}, is not a folder",
            file.display()
        )
    );
}

/// Runs `hook` after each file is read, during `scan`.
fn with_hook<T>(hook: impl FnMut(&Path) + 'static, scan: impl FnOnce() -> T) -> T {
    AFTER_READ.with_borrow_mut(|h| *h = Some(Box::new(hook)));
    let result = scan();
    AFTER_READ.with_borrow_mut(|h| *h = None);
    result
}

#[test]
fn a_file_changed_while_read_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("p");
    write_aged(&folder.join("log"), b"first", HOUR);
    let state = SyncState::open(dir.path()).unwrap();
    let mut writes = 0;
    let start = hashed();
    let manifest = with_hook(
        move |path| {
            if writes == 0 {
                write_aged(path, b"second, longer", HOUR / 2);
            }
            writes += 1;
        },
        || scan_local(&folder, "p", &state).unwrap(),
    );
    assert_eq!(hashed() - start, 2);
    let entry = manifest.get("log").unwrap();
    assert_eq!(entry.size, 14);
    assert_eq!(
        entry.sha256.as_deref(),
        Some(hex::encode(Sha256::digest(b"second, longer")).as_str())
    );
    // What was cached is the second version.
    let start = hashed();
    scan_local(&dir.path().join("p"), "p", &state).unwrap();
    assert_eq!(hashed() - start, 0);
}

#[test]
fn a_file_that_keeps_changing_fails_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("p");
    write_aged(&folder.join("busy"), b"0", HOUR);
    let state = SyncState::open(dir.path()).unwrap();
    let mut n = 0u64;
    let err = with_hook(
        move |path| {
            n += 1;
            write_aged(path, n.to_string().as_bytes(), HOUR / 2);
        },
        || scan_local(&folder, "p", &state).unwrap_err(),
    );
    assert_eq!(err.kind(), ErrorKind::Io);
    assert_eq!(
        err.to_string(),
        format!(
            "{} kept changing while it was read (3 attempts); run again once it is no longer being written",
            dir.path().join("p/busy").display()
        )
    );

    // A file swapped for a link while it was read is not reported with the old content.
    let outside = tempfile::tempdir().unwrap();
    write_aged(&outside.path().join("secret"), b"outside", HOUR);
    let target = outside.path().join("secret");
    let err = with_hook(
        move |path| {
            if !path.is_symlink() {
                fs::remove_file(path).unwrap();
                std::os::unix::fs::symlink(&target, path).unwrap();
            }
        },
        || scan_local(&dir.path().join("p"), "p", &state).unwrap_err(),
    );
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(
        err.to_string().contains("stopped being a regular file"),
        "{err}"
    );
}

#[test]
fn a_large_tree_is_hashed_on_several_threads_alike() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = dir.path().join("p");
    // Enough bytes for the threads (64 MiB), in files of different sizes, and small ones.
    let mut want = Vec::new();
    for (i, size) in [(0u8, 40 << 20), (1, 30 << 20), (2, 7), (3, 0), (4, 123_457)] {
        let contents: Vec<u8> = (0..size).map(|b: usize| (b % 253) as u8 ^ i).collect();
        let path = format!("d{}/f{i}.bin", i % 2);
        write_aged(&pipe.join(&path), &contents, HOUR);
        want.push((path, hex::encode(Sha256::digest(&contents))));
    }
    want.sort();
    let state = SyncState::open(dir.path()).unwrap();
    let manifest = scan_local(&pipe, "p", &state).unwrap();
    let got: Vec<(String, String)> = manifest
        .entries
        .iter()
        .map(|e| (e.path.clone(), e.sha256.clone().unwrap()))
        .collect();
    assert_eq!(got, want);
    assert!(manifest.entries.iter().all(|e| e.md5.is_some()));
    // All cached: a rescan reads nothing.
    let before = hashed();
    let again = scan_local(&pipe, "p", &state).unwrap();
    assert_eq!(hashed(), before);
    assert_eq!(again, manifest);
}
