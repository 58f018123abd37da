//! `dpipe pull` and `dpipe push` against real storage: an `fs` remote (a temporary folder) in
//! local mode, the s3s-fs S3 server, and a repo API server for a read-only grantee. Each test
//! checks the bytes on both sides, what the report says and what it must not touch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dpipe_testkit::server::TestServer;
use dpipe_testkit::services::s3::S3Server;
use serde_json::Value;

use crate::support::{Env, create_fs_pipe, create_s3_pipe, local_profile, server_user};

/// A key no client would send, planted as one file name (a path that climbs out elsewhere).
const EVIL: &str = "..\\..\\evil.txt";

/// Writes `files` under `root`.
fn write_all(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Rewrites `path` with `text` (the same size in the tests) and moves its mtime forward.
fn edit(path: &Path, text: &str) {
    let before = std::fs::metadata(path).unwrap().modified().unwrap();
    std::fs::write(path, text).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(before + Duration::from_secs(10)).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The paths of a report's `transferred` list.
fn moved(report: &Value) -> Vec<String> {
    report["transferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["path"].as_str().unwrap().to_string())
        .collect()
}

fn sync(env: &Env, verb: &str, extra: &[&str]) -> Value {
    let mut args = vec![verb, "--pipe", "p"];
    args.extend_from_slice(extra);
    env.json(&args)
}

const FILES: [(&str, &str); 3] = [
    ("a.csv", "x,y\n1,2\n"),
    ("sub/b.txt", "bbbb"),
    ("c.bin", "0123456789"),
];

#[test]
fn fs_pull_preview_incremental_push_and_conflicts() {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    write_all(&remote, &FILES);
    create_fs_pipe(&env, &remote, &[]);
    let local = repo.join("p");

    // A preview says what would move and changes nothing.
    let preview = sync(&env, "pull", &["--preview"]);
    assert_eq!(preview["preview"], true);
    assert_eq!(preview["plan"]["transfers"].as_array().unwrap().len(), 3);
    assert_eq!(preview["plan"]["bytes"], 22);
    assert!(moved(&preview).is_empty() && !local.exists());
    let text = env.ok(&["pull", "--pipe", "p", "--preview"]);
    assert!(text.contains("would pull 3 files, 22 B"), "{text}");
    assert!(text.contains("sub/b.txt"), "{text}");

    // First pull: every file, byte-identical; then nothing to do.
    let text = env.ok(&["pull", "--pipe", "p"]);
    assert!(text.contains("pulled 3 files, 22 B; 0 unchanged"), "{text}");
    for (path, content) in FILES {
        assert_eq!(read(&local.join(path)), content, "{path}");
    }
    let again = sync(&env, "pull", &[]);
    assert!(moved(&again).is_empty(), "{again}");
    assert_eq!(again["plan"]["unchanged"], 3);

    // A same-size remote edit: exactly that file moves.
    edit(&remote.join("sub/b.txt"), "BBBB");
    assert_eq!(moved(&sync(&env, "pull", &[])), ["sub/b.txt"]);
    assert_eq!(read(&local.join("sub/b.txt")), "BBBB");

    // Push of a new local file.
    write_all(&local, &[("new.txt", "fresh")]);
    assert_eq!(moved(&sync(&env, "push", &[])), ["new.txt"]);
    assert_eq!(read(&remote.join("new.txt")), "fresh");

    // The remote has a file not pulled yet: push refused before any transfer, then mode all.
    write_all(&remote, &[("theirs.csv", "t")]);
    write_all(&local, &[("mine.txt", "m")]);
    let preview = env.run(&["push", "--pipe", "p", "--preview"]);
    assert_eq!(preview.code, 0, "{preview:?}");
    assert!(
        preview.stderr.contains("would refuse: theirs.csv"),
        "{preview:?}"
    );
    let err = env.fails(&["push", "--pipe", "p"], 1, "theirs.csv");
    assert!(err.contains("nothing was transferred"), "{err}");
    assert!(!remote.join("mine.txt").exists());
    let all = sync(&env, "push", &["--mode", "all"]);
    assert!(moved(&all).contains(&"mine.txt".to_string()), "{all}");
    assert_eq!(read(&remote.join("mine.txt")), "m");

    // Both sides edited a.csv since the last sync: refused, nothing overwritten.
    env.ok(&["pull", "--pipe", "p"]);
    assert_eq!(env.ok(&["status", "--pipe", "p"]), "pipe p is in sync\n");
    edit(&local.join("a.csv"), "x,y\n3,4\n");
    edit(&remote.join("a.csv"), "x,y\n5,6\n");
    write_all(&local, &[("later.txt", "l")]);
    let status = env.json(&["status", "--pipe", "p"]);
    assert_eq!(status["in_sync"], false);
    assert_eq!(status["conflicts"][0], "a.csv");
    assert_eq!(status["to_push"][0], "later.txt");
    env.fails(&["pull", "--pipe", "p"], 1, "a.csv (local file changed");
    assert_eq!(read(&local.join("a.csv")), "x,y\n3,4\n");
    let kept = sync(&env, "pull", &["--merge", "keep"]);
    assert_eq!(kept["plan"]["kept"][0], "a.csv");
    assert_eq!(read(&local.join("a.csv")), "x,y\n3,4\n");
    assert_eq!(
        moved(&sync(
            &env,
            "pull",
            &["--files", "a.csv", "--merge", "overwrite"]
        )),
        ["a.csv"]
    );
    assert_eq!(read(&local.join("a.csv")), "x,y\n5,6\n");

    // Wrong calls.
    env.fails(&["pull", "--pipe", "p", "--mode", "some"], 2, "--mode");
    env.fails(&["pull", "--pipe", "nope"], 3, "");
    env.fails(&["pull", "--pipe", "p", "--include", "["], 2, "include");
}

/// A pipe's README.md and LICENSE.md are shown when first pulled (stdout for people, stderr
/// with `--json`), never again; and outside a terminal no progress bar reaches stderr.
#[test]
fn fs_readme_shown_when_first_pulled_and_no_progress_off_terminal() {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    let readme: String = (1..=45).map(|i| format!("readme line {i}\n")).collect();
    write_all(
        &remote,
        &[
            ("README.md", readme.as_str()),
            ("LICENSE.md", "Do what you like.\n"),
            ("data.csv", "a,b\n"),
        ],
    );
    let loc = remote.to_str().unwrap();
    for name in ["p", "q"] {
        env.ok(&[
            "pipe",
            "create",
            "--name",
            name,
            "--protocol",
            "fs",
            "--location",
            loc,
        ]);
    }

    let run = env.run(&["pull", "--pipe", "p"]);
    assert_eq!(run.code, 0, "{run:?}");
    let out = &run.stdout;
    assert!(
        out.contains("===== README.md =====\nreadme line 1\n"),
        "{out}"
    );
    assert!(out.contains("readme line 40\n… (5 more lines)"), "{out}");
    assert!(!out.contains("readme line 41"), "{out}");
    assert!(
        out.contains("===== LICENSE.md =====\nDo what you like.\n"),
        "{out}"
    );
    assert!(out.contains("pulled 3 files"), "{out}");
    // Not a terminal: no progress bar, no escape code, nothing but what was asked for.
    assert!(!run.stderr.contains('\u{1b}'), "{run:?}");
    assert!(!run.stderr.contains("ETA"), "{run:?}");
    assert!(run.stderr.is_empty(), "{run:?}");
    assert_eq!(read(&repo.join("p/README.md")), readme);

    // Pulled again after a remote change: not a first pull, not shown.
    edit(&remote.join("LICENSE.md"), "Do what you lake.\n");
    let run = env.run(&["pull", "--pipe", "p"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("pulled 1 file,"), "{run:?}");
    assert!(!run.stdout.contains("====="), "{run:?}");

    // With --json: stdout is the report alone, the files go to stderr.
    let run = env.run(&["--json", "pull", "--pipe", "q"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON alone on stdout");
    assert_eq!(
        report["first_pulled"],
        serde_json::json!(["LICENSE.md", "README.md"])
    );
    assert!(
        run.stderr
            .contains("===== LICENSE.md =====\nDo what you lake."),
        "{run:?}"
    );
    assert!(!run.stderr.contains('\u{1b}'), "{run:?}");
}

#[test]
fn fs_refused_keys_are_reported_and_others_sync() {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    write_all(&remote, &[("ok.csv", "fine"), (EVIL, "evil")]);
    create_fs_pipe(&env, &remote, &[]);
    // A preview names the refused key but is not a failed run: it moved nothing.
    let run = env.run(&["pull", "p", "--preview"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("refused key"), "{run:?}");
    assert!(!run.stderr.contains("incomplete"), "{run:?}");
    let run = env.run(&["pull", "--pipe", "p"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("refused key"), "{run:?}");
    assert!(run.stdout.contains("pulled 1 file"), "{run:?}");
    assert_eq!(read(&repo.join("p/ok.csv")), "fine");
    let everything: Vec<_> = walk(env.path());
    assert!(
        !everything
            .iter()
            .any(|p| p.ends_with("evil.txt") && !p.starts_with(&remote)),
        "{everything:?}"
    );
}

#[test]
fn fs_failed_files_do_not_stop_the_others() {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    write_all(&remote, &FILES);
    create_fs_pipe(&env, &remote, &[]);

    // `--files` and `--nrecent` narrow a preview; `--quiet` prints no summary.
    let files = sync(&env, "pull", &["--preview", "--files", "a.csv,nope.csv"]);
    assert_eq!(files["plan"]["transfers"][0]["path"], "a.csv");
    assert_eq!(files["plan"]["unknown_files"][0], "nope.csv");
    let newest = sync(&env, "pull", &["--preview", "--nrecent", "1"]);
    assert_eq!(newest["plan"]["transfers"].as_array().unwrap().len(), 1);
    let only = sync(&env, "pull", &["--preview", "--exclude", "*.csv|*.bin"]);
    assert_eq!(only["plan"]["transfers"][0]["path"], "sub/b.txt");
    assert_eq!(env.ok(&["pull", "--pipe", "p", "--preview", "--quiet"]), "");

    // A folder where c.bin should land: that file fails, the others are pulled and recorded.
    std::fs::create_dir_all(repo.join("p/c.bin/inside")).unwrap();
    let run = env.run(&["pull", "--pipe", "p"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("c.bin failed"), "{run:?}");
    assert!(run.stdout.contains("pulled 2 files"), "{run:?}");
    assert_eq!(read(&repo.join("p/a.csv")), FILES[0].1);
    std::fs::remove_dir_all(repo.join("p/c.bin")).unwrap();
    assert_eq!(moved(&sync(&env, "pull", &[])), ["c.bin"]);

    // The pipe's own filter applies unless the command gives one.
    env.ok(&["pipe", "upsert", "--name", "p", "--include", "*.csv"]);
    write_all(&remote, &[("d.csv", "d"), ("e.txt", "e")]);
    let own = sync(&env, "pull", &["--preview"]);
    assert_eq!(own["plan"]["transfers"][0]["path"], "d.csv");
    assert_eq!(own["plan"]["transfers"].as_array().unwrap().len(), 1);
    let given = sync(&env, "pull", &["--preview", "--include", "*.txt"]);
    assert_eq!(given["plan"]["transfers"][0]["path"], "e.txt");
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn s3_pull_incremental_push_and_refused_key() {
    let server = S3Server::start();
    let bucket = server.create_bucket("sync-bucket");
    let prefix = bucket.join("data");
    write_all(&prefix, &FILES);
    let env = Env::new();
    let repo = local_profile(&env);
    create_s3_pipe(&env, &server, "sync-bucket");
    let local = repo.join("p");
    let first = sync(&env, "pull", &[]);
    assert_eq!(moved(&first), ["a.csv", "c.bin", "sub/b.txt"]);
    for (path, content) in FILES {
        assert_eq!(read(&local.join(path)), content, "{path}");
    }
    assert!(moved(&sync(&env, "pull", &[])).is_empty());
    edit(&prefix.join("c.bin"), "9876543210");
    assert_eq!(moved(&sync(&env, "pull", &[])), ["c.bin"]);
    assert_eq!(read(&local.join("c.bin")), "9876543210");

    write_all(&local, &[("up/new.txt", "pushed")]);
    assert_eq!(moved(&sync(&env, "push", &[])), ["up/new.txt"]);
    assert_eq!(read(&prefix.join("up/new.txt")), "pushed");
    assert!(moved(&sync(&env, "pull", &[])).is_empty());

    std::fs::write(prefix.join(EVIL), "evil").unwrap();
    let run = env.run(&["pull", "--pipe", "p"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("refused key"), "{run:?}");
    assert!(!env.path().join("evil.txt").exists() && !repo.join("evil.txt").exists());
}

#[test]
fn read_only_grantee_pulls_but_cannot_push() {
    let server = TestServer::start();
    let remote = tempfile::tempdir().unwrap();
    write_all(remote.path(), &[("shared.csv", "s")]);
    let ann = server_user(&server.url, "ann");
    create_fs_pipe(&ann, remote.path(), &[]);
    let bob = server_user(&server.url, "bob");
    ann.ok(&["perm", "grant", "p", "--user", "bob", "--role", "read"]);
    assert_eq!(moved(&sync(&bob, "pull", &[])), ["shared.csv"]);
    let local = bob.path().join("repo/p");
    write_all(&local, &[("bob.txt", "b")]);
    bob.fails(&["push", "--pipe", "p"], 4, "role on pipe p is read");
    assert!(!remote.path().join("bob.txt").exists());
    assert_eq!(moved(&sync(&ann, "pull", &[])), ["shared.csv"]);
}
