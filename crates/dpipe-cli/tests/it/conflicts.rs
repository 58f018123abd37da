//! A file changed on both sides since the last sync, settled with `--merge keep|overwrite` on
//! `pull` and on `push`, over a folder (`fs`) remote and over S3 (the s3s-fs test server). The
//! decision moves exactly what it needs (checked on the `--json` reports and on the bytes of
//! both sides) and is recorded: the next `status` shows no conflict, only the change a kept
//! version still has to make in the other direction. A refusal names each file once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dpipe_testkit::services::s3::S3Server;
use serde_json::Value;

use crate::support::{Env, create_fs_pipe, create_s3_pipe, local_profile};

/// The last synced content of the conflicting file, its two edits (all the same size, so
/// that only content tells them apart), and a file no one touches.
const SYNCED: &str = "a,b\n1,1\n";
const LOCAL_EDIT: &str = "a,b\n2,2\n";
const REMOTE_EDIT: &str = "a,b\n3,3\n";
const UNTOUCHED: (&str, &str) = ("sub/b.csv", "untouched");

/// A profile whose pipe `p` has `a.csv` changed on both sides since the last sync.
pub struct Conflicted {
    pub env: Env,
    /// The pipe's local folder.
    pub local: PathBuf,
    /// Where the pipe's objects are: the `fs` remote folder, or the pipe's folder in the
    /// bucket of the S3 server.
    pub remote: PathBuf,
    _server: Option<S3Server>,
}

/// Rewrites (or creates) `path` with `text`, its time a minute later than before (or now),
/// so that no comparison may call it unchanged by its time.
pub fn rewrite(path: &Path, text: &str) {
    let before = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    let later = before.map_or_else(std::time::SystemTime::now, |t| t + Duration::from_secs(60));
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(later).unwrap();
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The paths of a report's `transferred` list.
pub fn moved(report: &Value) -> Vec<String> {
    report["transferred"]
        .as_array()
        .expect("a transferred list")
        .iter()
        .map(|t| t["path"].as_str().unwrap().to_string())
        .collect()
}

/// `dpipe --json VERB --pipe p EXTRA...`, which must succeed.
pub fn sync(env: &Env, verb: &str, extra: &[&str]) -> Value {
    let mut args = vec![verb, "--pipe", "p"];
    args.extend_from_slice(extra);
    env.json(&args)
}

/// The lists of `status --json` that are not empty, by name.
fn status(env: &Env) -> Vec<(String, Vec<String>)> {
    let report = env.json(&["status", "--pipe", "p"]);
    ["to_pull", "to_push", "conflicts"]
        .into_iter()
        .filter_map(|list| {
            let paths: Vec<String> = report[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_string())
                .collect();
            (!paths.is_empty()).then(|| (list.to_string(), paths))
        })
        .collect()
}

fn in_sync(env: &Env) {
    assert_eq!(status(env), [], "expected in sync");
}

fn only(list: &str, path: &str) -> Vec<(String, Vec<String>)> {
    vec![(list.to_string(), vec![path.to_string()])]
}

impl Conflicted {
    /// Over a folder remote.
    fn fs() -> Conflicted {
        let env = Env::new();
        let repo = local_profile(&env);
        let remote = env.path().join("remote");
        std::fs::create_dir_all(&remote).unwrap();
        create_fs_pipe(&env, &remote, &[]);
        Conflicted::after_first_pull(env, repo, remote, None)
    }

    /// Over the S3 test server.
    fn s3() -> Conflicted {
        let server = S3Server::start();
        let bucket = server.create_bucket("conflicts");
        let env = Env::new();
        let repo = local_profile(&env);
        create_s3_pipe(&env, &server, "conflicts");
        Conflicted::after_first_pull(env, repo, bucket.join("data"), Some(server))
    }

    fn both() -> [Conflicted; 2] {
        [Conflicted::fs(), Conflicted::s3()]
    }

    fn after_first_pull(
        env: Env,
        repo: PathBuf,
        remote: PathBuf,
        server: Option<S3Server>,
    ) -> Conflicted {
        rewrite(&remote.join("a.csv"), SYNCED);
        rewrite(&remote.join(UNTOUCHED.0), UNTOUCHED.1);
        assert_eq!(moved(&sync(&env, "pull", &[])).len(), 2);
        let case = Conflicted {
            local: repo.join("p"),
            env,
            remote,
            _server: server,
        };
        in_sync(&case.env);
        rewrite(&case.local.join("a.csv"), LOCAL_EDIT);
        rewrite(&case.remote.join("a.csv"), REMOTE_EDIT);
        assert_eq!(status(&case.env), only("conflicts", "a.csv"));
        case
    }

    /// The conflicting file on each side: (local, remote).
    fn versions(&self) -> (String, String) {
        (
            read(&self.local.join("a.csv")),
            read(&self.remote.join("a.csv")),
        )
    }
}

/// A report that moved nothing and kept `a.csv`.
fn kept_only(report: &Value) {
    assert_eq!(moved(report), Vec::<String>::new(), "{report}");
    assert_eq!(report["bytes"], 0, "{report}");
    assert_eq!(
        report["plan"]["kept"],
        serde_json::json!(["a.csv"]),
        "{report}"
    );
}

/// A report that moved `a.csv` and nothing else.
fn moved_only_the_conflict(report: &Value) {
    assert_eq!(moved(report), ["a.csv"], "{report}");
    assert_eq!(report["bytes"], SYNCED.len(), "{report}");
}

#[test]
fn pull_keep_keeps_the_local_version_to_push() {
    for case in Conflicted::both() {
        let env = &case.env;
        kept_only(&sync(env, "pull", &["--merge", "keep"]));
        assert_eq!(case.versions(), (LOCAL_EDIT.into(), REMOTE_EDIT.into()));
        // Decided: no longer a conflict, but a local change a pull leaves alone.
        assert_eq!(status(env), only("to_push", "a.csv"));
        assert_eq!(moved(&sync(env, "pull", &[])), Vec::<String>::new());
        assert_eq!(case.versions().0, LOCAL_EDIT);
        moved_only_the_conflict(&sync(env, "push", &[]));
        assert_eq!(case.versions(), (LOCAL_EDIT.into(), LOCAL_EDIT.into()));
        in_sync(env);
    }
}

#[test]
fn pull_overwrite_takes_the_remote_version() {
    for case in Conflicted::both() {
        let env = &case.env;
        moved_only_the_conflict(&sync(env, "pull", &["--merge", "overwrite"]));
        assert_eq!(case.versions(), (REMOTE_EDIT.into(), REMOTE_EDIT.into()));
        in_sync(env);
    }
}

#[test]
fn push_keep_keeps_the_version_on_storage_to_pull() {
    for case in Conflicted::both() {
        let env = &case.env;
        kept_only(&sync(env, "push", &["--merge", "keep"]));
        assert_eq!(case.versions(), (LOCAL_EDIT.into(), REMOTE_EDIT.into()));
        // Decided: no longer a conflict, but a change on storage to pull.
        assert_eq!(status(env), only("to_pull", "a.csv"));
        moved_only_the_conflict(&sync(env, "pull", &[]));
        assert_eq!(case.versions(), (REMOTE_EDIT.into(), REMOTE_EDIT.into()));
        in_sync(env);
    }
}

#[test]
fn push_overwrite_sends_the_local_version() {
    for case in Conflicted::both() {
        let env = &case.env;
        moved_only_the_conflict(&sync(env, "push", &["--merge", "overwrite"]));
        assert_eq!(case.versions(), (LOCAL_EDIT.into(), LOCAL_EDIT.into()));
        in_sync(env);
    }
}

#[test]
fn a_refusal_names_each_file_once_and_moves_nothing() {
    for case in Conflicted::both() {
        let env = &case.env;
        rewrite(&case.local.join("mine.txt"), "mine");
        for args in [
            &["pull", "--pipe", "p"][..],
            &["push", "--pipe", "p"],
            &["push", "--pipe", "p", "--mode", "all"],
        ] {
            let err = env.fails(args, 1, "nothing was transferred");
            let lines: Vec<&str> = err.lines().filter(|l| l.contains("a.csv")).collect();
            assert_eq!(lines.len(), 1, "{args:?}: {err}");
            assert!(err.contains("--merge keep or --merge overwrite"), "{err}");
            assert_eq!(err.matches("a.csv").count(), 1, "{args:?}: {err}");
        }
        assert!(!case.remote.join("mine.txt").exists());
        assert_eq!(case.versions(), (LOCAL_EDIT.into(), REMOTE_EDIT.into()));
        assert_eq!(status(env).len(), 2, "a conflict and a local file to push");
    }
}
