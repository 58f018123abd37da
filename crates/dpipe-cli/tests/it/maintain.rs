//! The upkeep commands against real storage: `remove-orphans`, `delete`, `reset`, `files`,
//! `list local` and `import` over an `fs` remote in local mode, s3s-fs, and a repo API server
//! for a read-only grantee. Each test includes wrong calls and checks that nothing changed.

use std::path::{Path, PathBuf};

use dpipe_testkit::server::TestServer;
use dpipe_testkit::services::s3::S3Server;
use serde_json::Value;

use crate::support::{Env, create_fs_pipe, create_s3_pipe, local_profile, server_user};

/// A key no client would send, planted as one file name.
const EVIL: &str = "..\\..\\evil.txt";

const FILES: [(&str, &str); 3] = [
    ("a.csv", "x,y\n1,2\n"),
    ("sub/b.txt", "bbbb"),
    ("c.bin", "0123456789"),
];

fn write_all(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Every file under `root`, relative, sorted (empty when `root` is missing).
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, at: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(at) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_str().unwrap();
                out.push(rel.to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn paths(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|d| d["path"].as_str().unwrap().to_string())
        .collect()
}

/// A local-mode profile with an `fs` pipe `p` over `<home>/remote` holding [`FILES`], pulled
/// once; returns (repo, remote).
fn pulled_fs_pipe(env: &Env) -> (PathBuf, PathBuf) {
    let repo = local_profile(env);
    let remote = env.path().join("remote");
    write_all(&remote, &FILES);
    create_fs_pipe(env, &remote, &[]);
    env.ok(&["pull", "--pipe", "p"]);
    (repo, remote)
}

#[test]
fn fs_remove_orphans_dry_run_apply_and_refusals() {
    let env = Env::new();
    let (repo, remote) = pulled_fs_pipe(&env);
    let local = repo.join("p");
    env.ok(&["pipe", "upsert", "--name", "p", "--exclude", "*.tmp"]);
    write_all(&local, &[("l/only.txt", "local!"), ("keep.tmp", "t")]);
    write_all(&remote, &[("r.txt", "remote"), ("r.tmp", "t")]);
    let (before_local, before_remote) = (tree(&local), tree(&remote));

    // Wrong calls change nothing.
    env.fails(&["remove-orphans", "--pipe", "p"], 2, "SIDE");
    env.fails(
        &["remove-orphans", "--pipe", "p", "sideways"],
        2,
        "invalid value",
    );
    env.fails(
        &["remove-orphans", "--pipe", "nope", "both", "--apply"],
        3,
        "nope",
    );
    env.fails(
        &["remove-orphans", "--pipe", "../p", "local", "--apply"],
        2,
        "pipe name",
    );

    // Dry runs list the orphans the pipe's filter lets through, with bytes, and delete nothing.
    let both = env.json(&["remove-orphans", "--pipe", "p", "both"]);
    assert_eq!(both["applied"], false);
    assert_eq!(paths(&both["local"]), ["l/only.txt"]);
    assert_eq!(paths(&both["remote"]), ["r.txt"]);
    assert_eq!(both["bytes"], 12);
    let text = env.ok(&["remove-orphans", "--pipe", "p", "local"]);
    assert!(
        text.contains("l/only.txt") && !text.contains("r.txt"),
        "{text}"
    );
    assert!(text.contains("would delete 1 orphan, 6 B"), "{text}");
    assert_eq!(
        (tree(&local), tree(&remote)),
        (before_local.clone(), before_remote.clone())
    );

    // Applied: local orphans only, then remote ones; filtered-out and synced files stay.
    let done = env.json(&["remove-orphans", "--pipe", "p", "local", "--apply"]);
    assert_eq!(done["deleted"], serde_json::json!(["local:l/only.txt"]));
    assert!(!local.join("l").exists(), "the emptied folder goes too");
    assert!(local.join("keep.tmp").exists());
    assert_eq!(tree(&remote), before_remote);
    let text = env.ok(&["remove-orphans", "--pipe", "p", "remote", "--apply"]);
    assert!(text.contains("deleted remote:r.txt"), "{text}");
    assert!(!remote.join("r.txt").exists() && remote.join("r.tmp").exists());
    let again = env.json(&["remove-orphans", "--pipe", "p", "both"]);
    assert_eq!(again["bytes"], 0);
    let status = env.ok(&["status", "--pipe", "p"]);
    assert!(status.contains("in sync"), "{status}");

    // A refused key anywhere: --apply deletes nothing at all (the dry run warns).
    write_all(&local, &[("orphan.txt", "o")]);
    std::fs::write(remote.join(EVIL), "evil").unwrap();
    let run = env.run(&["remove-orphans", "--pipe", "p", "local"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("--apply will delete nothing"),
        "{run:?}"
    );
    env.fails(
        &["remove-orphans", "--pipe", "p", "both", "--apply"],
        1,
        "nothing was deleted",
    );
    assert!(local.join("orphan.txt").exists() && remote.join(EVIL).exists());
}

#[test]
fn fs_delete_listed_or_all_files_and_records() {
    let env = Env::new();
    let (repo, remote) = pulled_fs_pipe(&env);
    let local = repo.join("p");
    let (before_local, before_remote) = (tree(&local), tree(&remote));

    // Wrong calls change nothing.
    env.fails(
        &[
            "delete",
            "--pipe",
            "p",
            "local",
            "--files",
            "missing.csv",
            "--apply",
        ],
        2,
        "no such file: missing.csv",
    );
    env.fails(
        &[
            "delete",
            "--pipe",
            "p",
            "both",
            "--files",
            "../remote/a.csv",
            "--apply",
        ],
        2,
        "cannot delete",
    );
    env.fails(&["delete", "--pipe", "p", "--apply"], 2, "SIDE");
    env.fails(&["delete", "--pipe", "q", "local", "--apply"], 3, "q");
    let dry = env.json(&["delete", "--pipe", "p", "both"]);
    assert_eq!(paths(&dry["local"]), ["a.csv", "c.bin", "sub/b.txt"]);
    assert_eq!(dry["bytes"], 44);
    assert_eq!(
        (tree(&local), tree(&remote)),
        (before_local, before_remote.clone())
    );

    // One local file: gone locally, its record forgotten, the remote untouched; a pull brings
    // it back.
    let done = env.json(&[
        "delete", "--pipe", "p", "local", "--files", "a.csv", "--apply",
    ]);
    assert_eq!(done["deleted"], serde_json::json!(["local:a.csv"]));
    assert!(!local.join("a.csv").exists());
    assert_eq!(tree(&remote), before_remote);
    let files = env.json(&["files", "--pipe", "p"]);
    assert_eq!(paths(&files), ["c.bin", "sub/b.txt"]);
    env.ok(&["pull", "--pipe", "p"]);
    assert!(local.join("a.csv").exists());

    // A link in the folder is a refused key: nothing at all is deleted while it is there.
    std::os::unix::fs::symlink("/etc/hostname", local.join("link")).unwrap();
    env.fails(
        &["delete", "--pipe", "p", "both", "--apply"],
        1,
        "nothing was deleted",
    );
    assert_eq!(tree(&remote), before_remote);
    std::fs::remove_file(local.join("link")).unwrap();

    // Every remote file: the local folder stays whole.
    let text = env.ok(&["delete", "--pipe", "p", "remote", "--apply"]);
    assert!(text.contains("deleted 3 files"), "{text}");
    assert!(tree(&remote).is_empty(), "{:?}", tree(&remote));
    assert_eq!(tree(&local), ["a.csv", "c.bin", "sub/b.txt"]);
    assert!(paths(&env.json(&["files", "--pipe", "p"])).is_empty());
}

#[test]
fn files_list_local_and_reset() {
    let env = Env::new();
    let (repo, remote) = pulled_fs_pipe(&env);
    let local = repo.join("p");

    let list = env.json(&["list", "local"]);
    assert_eq!(list[0]["pipe"], "p");
    assert_eq!(list[0]["files"], 3);
    assert_eq!(list[0]["bytes"], 22);
    assert!(env.ok(&["list", "local"]).contains("22 B"));
    env.fails(&["list", "remote"], 2, "invalid value");

    assert_eq!(
        paths(&env.json(&["files", "--pipe", "p"])),
        ["a.csv", "c.bin", "sub/b.txt"]
    );
    let by_size = env.json(&["files", "--pipe", "p", "--sort", "size"]);
    assert_eq!(paths(&by_size), ["c.bin", "a.csv", "sub/b.txt"]);
    // A push records the local time: an old c.bin sorts last by time.
    let old = std::fs::File::options()
        .write(true)
        .open(local.join("c.bin"))
        .unwrap();
    old.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000))
        .unwrap();
    env.ok(&["push", "--pipe", "p", "--files", "c.bin"]);
    let by_time = paths(&env.json(&["files", "--pipe", "p", "--sort", "time"]));
    assert_eq!(
        by_time.last().map(String::as_str),
        Some("c.bin"),
        "{by_time:?}"
    );
    let times = env.json(&["files", "--pipe", "p", "--sort", "time"]);
    assert_eq!(times[2]["modified"], 1000);
    let csv = env.json(&[
        "files",
        "--pipe",
        "p",
        "--include",
        "*.csv|sub/*",
        "--exclude",
        "sub/*",
    ]);
    assert_eq!(paths(&csv), ["a.csv"]);
    let full = env.ok(&["files", "--pipe", "p", "--paths", "--sort", "name"]);
    let want: Vec<String> = ["a.csv", "c.bin", "sub/b.txt"]
        .iter()
        .map(|p| local.join(p).display().to_string())
        .collect();
    assert_eq!(full.lines().collect::<Vec<_>>(), want);
    env.fails(
        &["files", "--pipe", "p", "--sort", "colour"],
        2,
        "invalid value",
    );
    env.fails(&["files", "--pipe", "../p"], 2, "pipe name");

    // Wrong resets change nothing.
    env.fails(&["reset", "--pipe", "../repo"], 2, "pipe name");
    env.fails(&["reset"], 2, "--pipe");
    assert_eq!(env.json(&["list", "local"])[0]["files"], 3);

    // Reset forgets the state, keeps the files; a pull then records them again.
    env.ok(&["reset", "--pipe", "p", "--apply"]);
    assert!(paths(&env.json(&["files", "--pipe", "p"])).is_empty());
    assert_eq!(env.json(&["list", "local"]), serde_json::json!([]));
    assert_eq!(tree(&local), ["a.csv", "c.bin", "sub/b.txt"]);
    // (An fs remote has no hash: the planner cannot tell unrecorded files are the same.)
    env.ok(&["pull", "--pipe", "p", "--merge", "overwrite"]);
    assert_eq!(env.json(&["list", "local"])[0]["files"], 3);

    // --local-files removes the folder too, nothing else.
    env.ok(&["reset", "--pipe", "p", "--local-files", "--apply"]);
    assert!(!local.exists() && repo.exists());
    assert_eq!(tree(&remote), ["a.csv", "c.bin", "sub/b.txt"]);

    // A symlinked folder is refused, and its target survives.
    env.ok(&["pull", "--pipe", "p"]);
    let elsewhere = env.path().join("elsewhere");
    write_all(&elsewhere, &[("precious.txt", "p")]);
    std::fs::remove_dir_all(&local).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &local).unwrap();
    env.fails(
        &["reset", "--pipe", "p", "--local-files", "--apply"],
        2,
        "symbolic link",
    );
    assert!(elsewhere.join("precious.txt").exists());
    assert_eq!(
        env.json(&["list", "local"])[0]["files"],
        3,
        "nothing forgotten"
    );
}

#[test]
fn import_files_and_folders() {
    let env = Env::new();
    let (repo, remote) = pulled_fs_pipe(&env);
    let local = repo.join("p");
    let src = env.path().join("src");
    write_all(
        &src,
        &[
            ("one.csv", "1"),
            ("dir/two.csv", "22"),
            ("dir/deep/three.csv", "333"),
        ],
    );
    std::os::unix::fs::symlink("/etc/passwd", src.join("dir/link")).unwrap();
    let one = src.join("one.csv");
    let dir = src.join("dir");
    let (one, dir) = (one.to_str().unwrap(), dir.to_str().unwrap());
    let before = tree(&local);

    // Wrong calls change nothing.
    env.fails(&["import", "--pipe", "p"], 2, "PATH");
    env.fails(&["import", "--pipe", "nope", one], 3, "nope");
    env.fails(
        &["import", "--pipe", "p", "--subdir", "../out", one],
        2,
        "--subdir",
    );
    env.fails(
        &["import", "--pipe", "p", "--subdir", "/abs", one],
        2,
        "--subdir",
    );
    env.fails(
        &["import", "--pipe", "p", "no/such/file"],
        1,
        "no/such/file",
    );
    let inside = local.join("a.csv");
    env.fails(
        &["import", "--pipe", "p", inside.to_str().unwrap()],
        2,
        "inside the file repo",
    );
    write_all(&env.path().join("other"), &[("a.csv", "different")]);
    let clash = env.path().join("other/a.csv");
    env.fails(
        &["import", "--pipe", "p", clash.to_str().unwrap(), one],
        1,
        "--force",
    );
    let outside = env.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, local.join("linked")).unwrap();
    env.fails(
        &["import", "--pipe", "p", "--subdir", "linked/x", one],
        1,
        "symbolic link",
    );
    assert!(tree(&outside).is_empty());
    std::fs::remove_file(local.join("linked")).unwrap();
    assert_eq!(tree(&local), before);

    // Copy a file and a folder under a sub-folder; the link is skipped, not followed.
    let run = env.run(&[
        "--json", "import", "--pipe", "p", "--subdir", "in", one, dir,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("symbolic link"), "{run:?}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["imported"],
        serde_json::json!(["in/one.csv", "in/dir/deep/three.csv", "in/dir/two.csv"])
    );
    assert_eq!(
        std::fs::read_to_string(local.join("in/dir/deep/three.csv")).unwrap(),
        "333"
    );
    assert!(!local.join("in/dir/link").exists());
    assert!(src.join("one.csv").exists(), "a copy leaves the source");

    // Again: unchanged. Forced overwrite of a different file; then a move.
    let again = env.json(&["import", "--pipe", "p", "--subdir", "in", one]);
    assert_eq!(again["unchanged"], serde_json::json!(["in/one.csv"]));
    env.ok(&["import", "--pipe", "p", "--force", clash.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(local.join("a.csv")).unwrap(),
        "different"
    );
    let text = env.ok(&["import", "--pipe", "p", "--move", "--subdir", "moved", dir]);
    assert!(text.contains("moved 2 files"), "{text}");
    assert!(!src.join("dir/two.csv").exists() && src.join("dir/link").exists());
    assert!(local.join("moved/dir/two.csv").exists());

    // Imported files push like any other.
    env.ok(&["push", "--pipe", "p"]);
    assert_eq!(
        std::fs::read_to_string(remote.join("in/one.csv")).unwrap(),
        "1"
    );
    assert!(!repo.join("in").exists() && !env.path().join("in").exists());
}

#[test]
fn read_only_grantee_cannot_delete_remote_files() {
    let server = TestServer::start();
    let remote = tempfile::tempdir().unwrap();
    write_all(remote.path(), &[("shared.csv", "s"), ("extra.csv", "e")]);
    let ann = server_user(&server.url, "ann");
    create_fs_pipe(&ann, remote.path(), &[]);
    let bob = server_user(&server.url, "bob");
    ann.ok(&["perm", "grant", "p", "--user", "bob", "--role", "read"]);
    bob.ok(&["pull", "--pipe", "p", "--files", "shared.csv"]);
    let before = tree(remote.path());
    bob.fails(
        &["remove-orphans", "--pipe", "p", "remote", "--apply"],
        4,
        "role on pipe p is read",
    );
    bob.fails(&["remove-orphans", "--pipe", "p", "both"], 4, "needs write");
    bob.fails(
        &["delete", "--pipe", "p", "remote", "--apply"],
        4,
        "role on pipe p is read",
    );
    assert_eq!(tree(remote.path()), before);
    // Their own folder is theirs to clean.
    let done = bob.json(&["delete", "--pipe", "p", "local", "--apply"]);
    assert_eq!(done["deleted"], serde_json::json!(["local:shared.csv"]));
    assert_eq!(tree(remote.path()), before);
    // The owner may.
    ann.ok(&["pull", "--pipe", "p", "--files", "shared.csv"]);
    let gone = ann.json(&["remove-orphans", "--pipe", "p", "remote", "--apply"]);
    assert_eq!(gone["deleted"], serde_json::json!(["remote:extra.csv"]));
    assert_eq!(tree(remote.path()), ["shared.csv"]);
}

#[test]
fn s3_remove_orphans_and_delete() {
    let server = S3Server::start();
    let bucket = server.create_bucket("upkeep");
    let prefix = bucket.join("data");
    write_all(&prefix, &FILES);
    let env = Env::new();
    let repo = local_profile(&env);
    create_s3_pipe(&env, &server, "upkeep");
    env.ok(&["pull", "--pipe", "p", "--files", "a.csv,sub/b.txt"]);
    let dry = env.json(&["remove-orphans", "--pipe", "p", "remote"]);
    assert_eq!(paths(&dry["remote"]), ["c.bin"]);
    assert!(prefix.join("c.bin").exists());
    env.ok(&["remove-orphans", "--pipe", "p", "remote", "--apply"]);
    assert!(!prefix.join("c.bin").exists() && prefix.join("a.csv").exists());
    env.ok(&[
        "delete",
        "--pipe",
        "p",
        "both",
        "--files",
        "sub/b.txt",
        "--apply",
    ]);
    assert!(!prefix.join("sub/b.txt").exists() && !repo.join("p/sub/b.txt").exists());
    assert_eq!(tree(&repo.join("p")), ["a.csv"]);
    assert_eq!(paths(&env.json(&["files", "--pipe", "p"])), ["a.csv"]);
}
