//! `kill -9` in the middle of a pull or a push, then the same command again (DESIGN.md §7,
//! invariants 1 and 6): while and after the kill, every file at a final name is a whole
//! version (the old or the new one, byte for byte); dpipe's temporary files are never
//! reported as files of the pipe; the rerun reaches the end state of an uninterrupted run —
//! both sides identical, the pipe in sync, a further run moves nothing.
//!
//! The transfers are made slow enough to be caught mid-way by their size alone (one large file
//! that goes first, many small ones behind it), never by sleeping in dpipe: the test polls the
//! target folder and sends SIGKILL once some but not all files have arrived.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dpipe_testkit::services::s3::S3Server;
use serde_json::Value;

use crate::support::{Env, create_fs_pipe, create_s3_pipe, kill_when, local_profile};

/// The large file: first in the plan's order, still moving when the small ones arrive.
const BIG: &str = "a-big.bin";
const OLD_BIG: Version = Version {
    seed: 1,
    len: 24 << 20,
};
const NEW_BIG: Version = Version {
    seed: 2,
    len: 32 << 20,
};
/// Small files, new in the second version: 30 MiB, which a pull puts in place in several
/// batches (of 16 MiB at most, see dpipe-storage's staging), so that a kill can come between
/// two.
const SMALL: usize = 120;
const SMALL_LEN: usize = 256 << 10;
/// A file of the first version that the second leaves alone.
const KEPT: &str = "kept.txt";
const KEPT_V: Version = Version { seed: 3, len: 1000 };

/// One version of a file: deterministic pseudo-random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    seed: u64,
    len: usize,
}

impl Version {
    fn bytes(self) -> Vec<u8> {
        let mut x = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut out = Vec::with_capacity(self.len + 8);
        while out.len() < self.len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.truncate(self.len);
        out
    }
}

fn small(i: usize) -> String {
    format!("d/f{i:03}.bin")
}

/// The first version of the pipe's files.
fn old_files() -> BTreeMap<String, Version> {
    BTreeMap::from([(BIG.to_string(), OLD_BIG), (KEPT.to_string(), KEPT_V)])
}

/// The second: the large file replaced, the small ones added.
fn new_files() -> BTreeMap<String, Version> {
    let mut files = old_files();
    files.insert(BIG.to_string(), NEW_BIG);
    for i in 0..SMALL {
        let seed = 100 + i as u64;
        files.insert(
            small(i),
            Version {
                seed,
                len: SMALL_LEN,
            },
        );
    }
    files
}

/// Writes `files` under `root`, each with a modification time later than anything before.
fn write_files(
    root: &Path,
    files: &BTreeMap<String, Version>,
    only_changed_from: Option<&BTreeMap<String, Version>>,
) {
    let later = std::time::SystemTime::now() + Duration::from_secs(60);
    for (path, version) in files {
        if only_changed_from.is_some_and(|old| old.get(path) == Some(version)) {
            continue;
        }
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, version.bytes()).unwrap();
        if only_changed_from.is_some() {
            let file = std::fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(later).unwrap();
        }
    }
}

/// Every regular file under `root` by relative path, and dpipe's temporary files apart.
fn walk(root: &Path) -> (BTreeMap<String, PathBuf>, Vec<PathBuf>) {
    let mut files = BTreeMap::new();
    let mut temps = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else if name.starts_with(".dpipe-") {
                temps.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(rel, path);
            }
        }
    }
    (files, temps)
}

/// Checks invariant 1 on `root`: every file at a final name is one of its allowed versions,
/// whole. Returns the paths found.
fn whole_versions(root: &Path, allowed: &[&BTreeMap<String, Version>]) -> BTreeSet<String> {
    let (files, _) = walk(root);
    for (rel, path) in &files {
        let bytes = std::fs::read(path).unwrap();
        let ok = allowed
            .iter()
            .filter_map(|set| set.get(rel))
            .any(|v| v.len == bytes.len() && v.bytes() == bytes);
        assert!(
            ok,
            "{}: {} bytes at a final name, neither the old nor the new version",
            path.display(),
            bytes.len()
        );
    }
    files.into_keys().collect()
}

/// `root` holds exactly `files`, byte for byte.
fn exactly(root: &Path, files: &BTreeMap<String, Version>) {
    let found = whole_versions(root, &[files]);
    let want: BTreeSet<String> = files.keys().cloned().collect();
    assert_eq!(found, want, "{}", root.display());
}

/// Starts `dpipe verb --pipe p`, waits until `target` holds at least a few but not all of the
/// small files, and kills it with SIGKILL.
fn kill_midway(env: &Env, verb: &str, target: &Path) {
    kill_when(env, verb, || {
        let (files, _) = walk(target);
        let arrived = files.keys().filter(|p| p.starts_with("d/")).count();
        if (3..SMALL).contains(&arrived) {
            Ok(())
        } else {
            Err(format!("{arrived} arrived"))
        }
    });
}

/// A local-mode profile whose file repo is `<home>/repo`, and pipe `p` on an `fs` remote at
/// `<home>/remote` (or on the S3 server, in a prefix of bucket `b`); returns the folder that
/// holds the pipe's objects.
fn pipe(env: &Env, server: Option<&S3Server>) -> PathBuf {
    local_profile(env);
    let Some(server) = server else {
        let remote = env.path().join("remote");
        std::fs::create_dir_all(&remote).unwrap();
        create_fs_pipe(env, &remote, &[]);
        return remote;
    };
    let bucket = server.create_bucket("kill-bucket");
    create_s3_pipe(env, server, "kill-bucket");
    bucket.join("data")
}

fn json(env: &Env, args: &[&str]) -> Value {
    env.json(args)
}

/// After the rerun: the pipe is in sync, and neither a pull nor a push would move anything.
fn settled(env: &Env) {
    let status = json(env, &["status", "--pipe", "p"]);
    assert_eq!(status["in_sync"], true, "{status}");
    for verb in ["pull", "push"] {
        let preview = json(env, &[verb, "--pipe", "p", "--preview"]);
        let transfers = preview["plan"]["transfers"].as_array().unwrap();
        assert!(transfers.is_empty(), "{verb}: {preview}");
    }
}

/// The local scan lists exactly the pipe's files: never a temporary file.
fn no_temp_listed(env: &Env) {
    let listing = json(env, &["scan", "local", "--pipe", "p"]);
    for file in listing["files"].as_array().unwrap() {
        let path = file["path"].as_str().unwrap();
        assert!(
            !path.contains(".dpipe-"),
            "a temporary file listed: {listing}"
        );
    }
}

fn pull_killed_then_rerun(server: Option<&S3Server>) {
    let env = Env::new();
    let remote = pipe(&env, server);
    let local = env.path().join("repo/p");
    let (old, new) = (old_files(), new_files());
    write_files(&remote, &old, None);
    env.ok(&["pull", "--pipe", "p", "--quiet"]);
    exactly(&local, &old);

    // The remote moves to the new version; the pull is killed with files still moving.
    write_files(&remote, &new, Some(&old));
    kill_midway(&env, "pull", &local);
    let found = whole_versions(&local, &[&old, &new]);
    assert!(found.contains(BIG) && found.contains(KEPT), "{found:?}");
    no_temp_listed(&env);
    let kept = plant_temps(&local);
    let before = walk(&local).1;
    env.ok(&["pull", "--pipe", "p", "--preview"]);
    assert_eq!(walk(&local).1, before, "a preview deletes nothing");

    // Run again: the end state of an uninterrupted pull, the killed run's temporary files
    // gone (the temporary files of a running process, or without one, are left alone).
    env.ok(&["pull", "--pipe", "p", "--quiet"]);
    exactly(&local, &new);
    exactly(&remote, &new);
    no_temp_listed(&env);
    let (_, temps) = walk(&local);
    assert_eq!(temps.into_iter().collect::<BTreeSet<_>>(), kept);
    settled(&env);
}

/// Plants temporary files in `folder`: one of a process that has ended (as a killed run leaves
/// them), one of this test's running process and one without a process id. Returns the paths
/// of the two a run must leave alone.
fn plant_temps(folder: &Path) -> BTreeSet<PathBuf> {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let ended = child.id();
    child.wait().unwrap();
    let abandoned = folder.join(format!("data/.dpipe-{ended}-planted.part"));
    let running = folder.join(format!(".dpipe-{}-planted.part", std::process::id()));
    let no_pid = folder.join(".dpipe-planted.part");
    for path in [&abandoned, &running, &no_pid] {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"partial").unwrap();
    }
    BTreeSet::from([running, no_pid])
}

fn push_killed_then_rerun(server: Option<&S3Server>) {
    let env = Env::new();
    let remote = pipe(&env, server);
    let local = env.path().join("repo/p");
    let (old, new) = (old_files(), new_files());
    write_files(&local, &old, None);
    env.ok(&["push", "--pipe", "p", "--quiet"]);
    exactly(&remote, &old);

    // The folder moves to the new version; the push is killed with files still moving.
    write_files(&local, &new, Some(&old));
    kill_midway(&env, "push", &remote);
    let found = whole_versions(&remote, &[&old, &new]);
    assert!(found.contains(BIG) && found.contains(KEPT), "{found:?}");

    // Run again: the end state of an uninterrupted push.
    env.ok(&["push", "--pipe", "p", "--quiet"]);
    exactly(&remote, &new);
    exactly(&local, &new);
    settled(&env);
}

#[test]
fn fs_pull_killed_midway_then_rerun() {
    pull_killed_then_rerun(None);
}

#[test]
fn fs_push_killed_midway_then_rerun() {
    push_killed_then_rerun(None);
}

#[test]
fn s3_pull_killed_midway_then_rerun() {
    let server = S3Server::start();
    pull_killed_then_rerun(Some(&server));
}

#[test]
fn s3_push_killed_midway_then_rerun() {
    let server = S3Server::start();
    push_killed_then_rerun(Some(&server));
}
