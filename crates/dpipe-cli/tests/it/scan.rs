//! `dpipe scan remote` and `dpipe scan local` over an `fs` remote in local mode: the files of
//! one side through the pipe's include/exclude or the caller's, refused names reported, and
//! the wrong calls' exit codes.

use std::path::Path;

use serde_json::Value;

use crate::support::{Env, create_fs_pipe, local_profile};

fn write_all(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// The paths of a listing, in order.
fn paths(listing: &Value) -> Vec<&str> {
    listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect()
}

/// A local-mode profile and pipe `p` on an `fs` remote at `<home>/remote` that leaves out
/// `*.tmp`; returns (remote, local folder).
fn setup(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let repo = local_profile(env);
    let remote = env.path().join("remote");
    write_all(
        &remote,
        &[
            ("a.csv", "x,y\n1,2\n"),
            ("sub/b.txt", "bbbb"),
            ("junk.tmp", "t"),
        ],
    );
    create_fs_pipe(env, &remote, &["--exclude", "*.tmp"]);
    (remote, repo.join("p"))
}

#[test]
fn scan_lists_each_side_through_the_filter() {
    let env = Env::new();
    let (remote, local) = setup(&env);

    // Remote: the pipe's exclude applies; sizes, times; no local hash.
    let listing = env.json(&["scan", "remote", "--pipe", "p"]);
    assert_eq!(listing["side"], "remote");
    assert_eq!(paths(&listing), ["a.csv", "sub/b.txt"]);
    assert_eq!(listing["files"][0]["size"], 8);
    assert!(listing["files"][0]["modified"].as_u64().unwrap() > 1_600_000_000);
    assert!(listing["files"][0].get("sha256").is_none(), "{listing}");
    assert_eq!(listing["bytes"], 12);
    // The caller's globs replace the pipe's own, each on its own.
    let only = env.json(&["scan", "remote", "--pipe", "p", "--include", "*.tmp|*.csv"]);
    assert_eq!(paths(&only), ["a.csv"]);
    let none = env.json(&["scan", "remote", "--pipe", "p", "--exclude", "sub/*"]);
    assert_eq!(paths(&none), ["a.csv", "junk.tmp"]);
    let text = env.ok(&["scan", "remote", "--pipe", "p"]);
    assert!(
        text.contains("sub/b.txt") && text.contains("2 files"),
        "{text}"
    );
    assert!(!text.contains("junk.tmp"), "{text}");

    // Local: nothing pulled yet, then the pulled files with their SHA-256; a partial download
    // is never listed.
    let empty = env.json(&["scan", "local", "--pipe", "p"]);
    assert!(paths(&empty).is_empty(), "{empty}");
    env.ok(&["pull", "--pipe", "p", "--quiet"]);
    write_all(&local, &[(".dpipe-x.part", "partial"), ("mine.tmp", "m")]);
    let listing = env.json(&["scan", "local", "--pipe", "p"]);
    assert_eq!(listing["side"], "local");
    assert_eq!(paths(&listing), ["a.csv", "sub/b.txt"]);
    // SHA-256 of "bbbb".
    let b = &listing["files"][1];
    assert_eq!(
        b["sha256"],
        "81cc5b17018674b401b42f35ba07bb79e211239c23bffe658da1577e3e646877"
    );
    let text = env.ok(&["scan", "local", "--pipe", "p"]);
    assert!(text.contains("81cc5b170186"), "{text}");
    assert!(!text.contains(".dpipe-"), "{text}");

    // A key that cannot be a local path: listed files still printed, refused on stderr, 1.
    std::fs::write(remote.join("..\\evil.txt"), "e").unwrap();
    let run = env.run(&["scan", "remote", "--pipe", "p"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("refused key"), "{run:?}");
    assert!(run.stdout.contains("a.csv"), "{run:?}");
}

#[test]
fn scan_wrong_calls() {
    let env = Env::new();
    setup(&env);
    for side in ["remote", "local"] {
        env.fails(&["scan", side, "--pipe", "nope"], 3, "pipe nope not found");
        env.fails(
            &["scan", side, "--pipe", "p", "--include", "data[1.csv"],
            2,
            "unclosed",
        );
        env.fails(
            &["scan", side, "--pipe", "p", "--exclude", "[!"],
            2,
            "exclude",
        );
    }
    env.fails(&["scan", "remote"], 2, "--pipe");
    env.fails(&["scan", "sideways", "--pipe", "p"], 2, "sideways");
}
