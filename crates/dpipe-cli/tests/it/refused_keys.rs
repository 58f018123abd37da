//! Keys that are not synced are reported, each once, with the reason, before any transfer;
//! the other files still sync. S3 (moto, which holds any key, behind the proxy its signature
//! check needs) holds the keys no folder can: an empty segment (`a//b.txt`, `//abs.txt`), a
//! folder marker (`e/`), a file and a folder of one name (`clash`, `clash/inner.txt`), a
//! 300-byte name. A folder remote holds a symbolic link at a file's place: a pull treats it
//! as a local change, and `--merge overwrite` replaces the link itself, never writing through
//! it; a push skips a link and reports it (DESIGN § 6: links are never followed).

use std::path::Path;

use dpipe_testkit::moto;
use serde_json::Value;

use crate::moto_proxy::MotoProxy;
use crate::support::{Env, Run, create_fs_pipe, create_pipe, local_profile};

/// The prefix of the pipe in its bucket (`--dir`).
const DIR: &str = "data";

fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A new bucket on moto and the keys of a user that may do anything in S3.
fn bucket_with_keys(bucket: &str) -> dpipe_provision::AccessKeyPair {
    block_on(async {
        moto::root()
            .await
            .s3()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .expect("CreateBucket");
        let everything = serde_json::json!({"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
        moto::user_with_policy(&format!("{bucket}-user"), "all-s3", &everything)
            .await
            .0
    })
}

/// Puts an empty object at `key` (taken as it is, after the pipe's prefix) into `bucket`.
fn plant(bucket: &str, key: &str) {
    block_on(async {
        moto::root()
            .await
            .s3()
            .put_object()
            .bucket(bucket)
            .key(format!("{DIR}/{key}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutObject {key:?}: {e:?}"));
    });
}

/// Creates pipe `p` in `env` on `bucket` at moto, reached through `proxy` with `keys`.
fn create_moto_pipe(
    env: &Env,
    proxy: &MotoProxy,
    bucket: &str,
    keys: &dpipe_provision::AccessKeyPair,
) {
    let endpoint = format!("endpoint={}", proxy.url);
    let id = format!("aws_access_key_id={}", keys.aws_access_key_id);
    let secret = format!("aws_secret_access_key={}", keys.secret());
    create_pipe(
        env,
        "s3",
        bucket,
        &[&endpoint, "region=us-east-1"],
        &[&id, &secret],
        &["--dir", DIR],
    );
}

/// `(path, reason)` of each note in the JSON list `notes`.
fn notes(notes: &Value) -> Vec<(String, String)> {
    notes
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {notes}"))
        .iter()
        .map(|n| {
            (
                n["path"].as_str().unwrap().to_string(),
                n["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The paths of the JSON list `files` (strings, or objects with a `path`).
fn paths(files: &Value) -> Vec<String> {
    files
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {files}"))
        .iter()
        .map(|f| f.as_str().unwrap_or_else(|| f["path"].as_str().unwrap()))
        .map(str::to_string)
        .collect()
}

/// The JSON a failed `--json` run printed on stdout.
fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {run:?}"))
}

/// Each of `keys` is named on exactly one stderr line of `run`, and no other key is refused.
fn each_refused_once(run: &Run, keys: &[(String, String)]) {
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("refused key"))
        .collect();
    assert_eq!(lines.len(), keys.len(), "{run:?}");
    for (key, reason) in keys {
        let naming: Vec<&&str> = lines
            .iter()
            .filter(|l| l.contains(&format!("{key:?}")))
            .collect();
        assert_eq!(naming.len(), 1, "{key:?} once: {run:?}");
        assert!(naming[0].contains(reason.as_str()), "{key:?}: {run:?}");
    }
}

#[test]
fn keys_that_cannot_be_files_are_reported_once_before_any_transfer() {
    let proxy = MotoProxy::start(&moto::moto().url);
    let bucket = format!("refused-keys-{}", std::process::id());
    let keys = bucket_with_keys(&bucket);

    // A producer pushes two files; then keys no client of a folder could make appear.
    let producer = Env::new();
    let producer_repo = local_profile(&producer);
    create_moto_pipe(&producer, &proxy, &bucket, &keys);
    let folder = producer_repo.join("p");
    std::fs::create_dir_all(folder.join("ok")).unwrap();
    std::fs::write(folder.join("ok/fine.txt"), "fine").unwrap();
    std::fs::write(folder.join("top.csv"), "1,2\n").unwrap();
    producer.ok(&["push", "--pipe", "p"]);
    let long = format!("long/{}.txt", "l".repeat(300));
    for key in [
        "a//b.txt",
        "//abs.txt",
        "e/",
        "clash",
        "clash/inner.txt",
        &long,
    ] {
        plant(&bucket, key);
    }
    let refused: Vec<(String, String)> = [
        ("//abs.txt", "absolute path"),
        ("a//b.txt", "empty path segment"),
        ("clash", "a path cannot be a file and a folder here"),
        ("e/", "folder marker"),
        (long.as_str(), "over 255 bytes"),
    ]
    .into_iter()
    .map(|(k, r)| (k.to_string(), r.to_string()))
    .collect();
    let refused_json = |got: &Value| -> Vec<String> {
        let got = notes(got);
        for ((key, reason), (want_key, want_reason)) in got.iter().zip(&refused) {
            assert_eq!(key, want_key);
            assert!(reason.contains(want_reason.as_str()), "{key}: {reason}");
        }
        got.into_iter().map(|(k, _)| k).collect()
    };
    let keys_only: Vec<String> = refused.iter().map(|(k, _)| k.clone()).collect();

    let env = Env::new();
    let repo = local_profile(&env);
    create_moto_pipe(&env, &proxy, &bucket, &keys);
    let local = repo.join("p");

    // scan remote: the files, and each refused key once (exit 1 once all is printed).
    let scan = env.run(&["scan", "remote", "--pipe", "p"]);
    assert_eq!(scan.code, 1, "{scan:?}");
    each_refused_once(&scan, &refused);
    let scan = env.run(&["--json", "scan", "remote", "--pipe", "p"]);
    let listing = json_of(&scan);
    assert_eq!(
        paths(&listing["files"]),
        ["clash/inner.txt", "ok/fine.txt", "top.csv"]
    );
    assert_eq!(refused_json(&listing["rejected"]), keys_only);

    // The preview names them before any transfer, and moves nothing.
    let preview = env.run(&["pull", "--pipe", "p", "--preview"]);
    assert_eq!(preview.code, 0, "{preview:?}");
    each_refused_once(&preview, &refused);
    let preview = env.json(&["pull", "--pipe", "p", "--preview"]);
    assert_eq!(refused_json(&preview["rejected"]), keys_only);
    assert_eq!(
        paths(&preview["plan"]["transfers"]),
        ["clash/inner.txt", "ok/fine.txt", "top.csv"]
    );
    assert!(!local.exists(), "a preview writes nothing");

    // status: not in sync while such keys exist.
    let status = env.run(&["status", "--pipe", "p"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(!status.stdout.contains("in sync"), "{status:?}");
    for key in &keys_only {
        let lines = status
            .stdout
            .lines()
            .filter(|l| l.contains(&format!("{key:?}")));
        assert_eq!(lines.count(), 1, "{key:?}: {status:?}");
    }
    let status = env.json(&["status", "--pipe", "p"]);
    assert_eq!(status["in_sync"], false, "{status}");
    assert_eq!(refused_json(&status["rejected"]), keys_only);

    // The pull: the other files sync, every refused key is named once, no file fails.
    let pull = env.run(&["--json", "pull", "--pipe", "p"]);
    assert_eq!(pull.code, 1, "{pull:?}");
    let report = json_of(&pull);
    assert_eq!(refused_json(&report["rejected"]), keys_only);
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert!(
        pull.stderr.contains("0 file(s) failed, 5 key(s) refused"),
        "{pull:?}"
    );
    assert_eq!(
        std::fs::read_to_string(local.join("ok/fine.txt")).unwrap(),
        "fine"
    );
    assert_eq!(
        std::fs::read_to_string(local.join("top.csv")).unwrap(),
        "1,2\n"
    );
    assert!(local.join("clash/inner.txt").is_file());
    let status = env.json(&["status", "--pipe", "p"]);
    assert_eq!(
        (&status["in_sync"], paths(&status["to_pull"]).len()),
        (&Value::Bool(false), 0),
        "{status}"
    );
}

/// A symbolic link where the pipe has a file, to `target` (outside the file repo).
fn link_at(path: &Path, target: &Path) {
    std::fs::remove_file(path).unwrap();
    std::os::unix::fs::symlink(target, path).unwrap();
}

#[test]
fn a_symlink_at_a_files_place_is_a_local_change() {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    std::fs::write(remote.join("x.txt"), "theirs").unwrap();
    std::fs::write(remote.join("y.txt"), "y").unwrap();
    create_fs_pipe(&env, &remote, &[]);
    env.ok(&["pull", "--pipe", "p"]);
    let local = repo.join("p");
    let target = env.path().join("target.txt");
    std::fs::write(&target, "mine, outside the repo").unwrap();
    link_at(&local.join("x.txt"), &target);

    // Refused before any transfer, the link left as it is; status calls it a conflict.
    let status = env.json(&["status", "--pipe", "p"]);
    assert_eq!(paths(&status["conflicts"]), ["x.txt"], "{status}");
    assert_eq!(status["in_sync"], false);
    env.fails(&["pull", "--pipe", "p"], 1, "x.txt");
    let preview = env.json(&["pull", "--pipe", "p", "--preview"]);
    assert_eq!(notes(&preview["plan"]["conflicts"])[0].0, "x.txt");
    assert!(local.join("x.txt").is_symlink());
    env.ok(&["pull", "--pipe", "p", "--merge", "keep"]);
    assert!(local.join("x.txt").is_symlink());

    // `--merge overwrite` replaces the link itself, never writing through it.
    env.ok(&["pull", "--pipe", "p", "--merge", "overwrite"]);
    let x = local.join("x.txt");
    assert!(!x.is_symlink() && x.is_file());
    assert_eq!(std::fs::read_to_string(&x).unwrap(), "theirs");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "mine, outside the repo"
    );
    assert_eq!(env.json(&["status", "--pipe", "p"])["in_sync"], true);

    // A push skips a link and reports it: its target is never read, nothing of it is sent.
    std::os::unix::fs::symlink(&target, local.join("link.txt")).unwrap();
    std::fs::write(local.join("new.txt"), "new").unwrap();
    let push = env.run(&["--json", "push", "--pipe", "p"]);
    assert_eq!(push.code, 1, "{push:?}");
    let report = json_of(&push);
    assert_eq!(paths(&report["transferred"]), ["new.txt"]);
    let rejected = notes(&report["rejected"]);
    assert_eq!(rejected.len(), 1, "{report}");
    assert_eq!(rejected[0].0, "link.txt");
    assert!(rejected[0].1.contains("symbolic link"), "{report}");
    assert!(!remote.join("link.txt").exists());
    assert_eq!(
        std::fs::read_to_string(remote.join("new.txt")).unwrap(),
        "new"
    );
}

#[test]
fn an_empty_folder_marker_is_reported_but_leaves_nothing_behind() {
    let proxy = MotoProxy::start(&moto::moto().url);
    let bucket = format!("folder-marker-{}", std::process::id());
    let keys = bucket_with_keys(&bucket);
    let producer = Env::new();
    let producer_repo = local_profile(&producer);
    create_moto_pipe(&producer, &proxy, &bucket, &keys);
    std::fs::create_dir_all(producer_repo.join("p/e")).unwrap();
    std::fs::write(producer_repo.join("p/e/data.csv"), "1,2\n").unwrap();
    producer.ok(&["push", "p"]);
    // What the S3 console leaves when someone clicks "Create folder".
    plant(&bucket, "e/");

    let env = Env::new();
    let repo = local_profile(&env);
    create_moto_pipe(&env, &proxy, &bucket, &keys);
    let marker = [("e/".to_string(), "folder marker".to_string())];
    let pull = env.run(&["pull", "p"]);
    assert_eq!(pull.code, 0, "nothing was left behind: {pull:?}");
    each_refused_once(&pull, &marker);
    assert!(repo.join("p/e/data.csv").is_file());
    let status = env.run(&["status", "p", "--exit-code"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert!(status.stdout.contains("pipe p is in sync"), "{status:?}");
    assert_eq!(
        status.stdout.matches("\"e/\" (folder marker").count(),
        1,
        "{status:?}"
    );
}
