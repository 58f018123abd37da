//! Client-side encryption end to end, in local mode and against a real server: `--encrypt`
//! keeps secrets out of the database, the client decrypts what it reads, another key gets
//! exit code 6, `key rotate` re-encrypts everything, and `encode`/`decode` round-trip a
//! settings file.

use std::path::{Path, PathBuf};

use dpipe_testkit::server::TestServer;
use serde_json::{Value, json};

use crate::support::Env;

const SETTINGS: &str = "vendor:
  protocol: s3
  location: vendor-bucket
  settings: {dir: base, endpoint: 'http://canary-endpoint.example:9000', region: eu-canary-1}
  credentials:
    read: {key: CANARYREADID, secret: canary-read-secret}
    write: {aws_access_key_id: CANARYWRITEID, aws_secret_access_key: canary-write-secret}
";

/// Every file below `dir`, recursively (the database with its WAL and journal).
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_below(&path));
        } else {
            files.push(path);
        }
    }
    files
}

fn assert_no_canary(dir: &Path) {
    let files = files_below(dir);
    assert!(!files.is_empty(), "no database in {}", dir.display());
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        assert!(
            !text.contains("canary"),
            "a secret in clear in {}",
            file.display()
        );
    }
}

fn credentials(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["pipe", "credentials", "feed"];
    all.extend_from_slice(args);
    env.json(&all)
}

/// The whole story for a profile `main` and a profile `other` reaching the same data as the
/// same user; `database` is the folder holding the repo database.
fn encryption_story(env: &Env, database: &Path) {
    let file = env.file("settings.yaml", SETTINGS, 0o600);
    let file = file.to_str().unwrap();
    let run = env.run(&[
        "--json",
        "remote",
        "upsert",
        "--file",
        file,
        "--key",
        "vendor",
        "--encrypt",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("made an encryption key"), "{run:?}");
    let remote: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(remote["credentials"], "split");
    assert_eq!(remote["settings"]["dir"], "base", "dir stays readable");
    let endpoint = remote["settings"]["endpoint"].as_str().unwrap();
    assert!(endpoint.starts_with("dpipe:enc:v1:"), "{endpoint}");
    assert!(!run.stdout.to_lowercase().contains("canary"), "{run:?}");

    env.ok(&["pipe", "create", "--name", "feed", "--remote", "vendor"]);
    env.ok(&[
        "pipe",
        "create",
        "--name",
        "box",
        "--protocol",
        "sftp",
        "--location",
        "h:22",
        "--credential",
        "username=u",
        "--credential",
        "password=canary-pw",
        "--encrypt",
    ]);
    let shown = env.json(&["pipe", "show", "feed"]);
    assert_eq!(shown["options"]["remotepath"], "s3://vendor-bucket/base/");
    assert!(
        !shown.to_string().to_lowercase().contains("canary"),
        "{shown}"
    );
    assert_no_canary(database);

    let expected_read = json!({
        "aws_access_key_id": "CANARYREADID", "aws_secret_access_key": "canary-read-secret",
        "endpoint_url": "http://canary-endpoint.example:9000", "region_name": "eu-canary-1"});
    assert_eq!(credentials(env, &[]), expected_read);
    assert_eq!(
        credentials(env, &["--write"])["aws_secret_access_key"],
        "canary-write-secret"
    );
    let inline = env.json(&["pipe", "credentials", "box"]);
    assert_eq!(inline, json!({"username": "u", "password": "canary-pw"}));

    // Another key cannot decrypt; the shared key can.
    let other = ["--profile", "other", "pipe", "credentials", "feed"];
    let another_key = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA";
    env.ok(&["--profile", "other", "key", "set", another_key]);
    let err = env.fails(&other, 6, "encrypted with key");
    assert!(!err.to_lowercase().contains("canary"), "{err}");
    let old_key = env.ok(&["key", "show"]).trim().to_string();
    env.ok(&["--profile", "other", "key", "set", &old_key]);
    assert_eq!(env.json(&other), expected_read);

    // Rotation: everything decrypts with the new key alone, the old key no longer does.
    let rotation = env.json(&["key", "rotate"]);
    assert_eq!(
        rotation["reencrypted"],
        json!(["remote vendor", "pipe box"]),
        "{rotation}"
    );
    let config = std::fs::read_to_string(env.config()).unwrap();
    assert_eq!(
        config.matches("previous_keys").count(),
        1,
        "only other's: {config}"
    );
    let new_key = env.ok(&["key", "show"]).trim().to_string();
    assert_ne!(new_key, old_key);
    assert_eq!(credentials(env, &[]), expected_read);
    let inline = env.json(&["pipe", "credentials", "box", "--write"]);
    assert_eq!(inline["password"], "canary-pw");
    assert_no_canary(database);
    env.ok(&["--profile", "other", "key", "rotate"]);
    env.fails(&other, 6, "encrypted with key");
    let rerun = env.json(&["key", "rotate"]);
    assert_eq!(rerun["reencrypted"], json!(["remote vendor", "pipe box"]));
    assert_eq!(credentials(env, &[]), expected_read);
}

#[test]
fn encryption_in_local_mode() {
    let env = Env::new();
    let profile = env.json(&["profile", "init", "main", "--local"]);
    let db = profile["db"].as_str().unwrap().to_string();
    env.ok(&["profile", "init", "other", "--local"]);
    env.ok(&["--profile", "other", "profile", "set", "db", &db]);
    encryption_story(&env, Path::new(&db).parent().unwrap());
}

#[test]
fn encryption_against_a_server() {
    let server = TestServer::start();
    let env = Env::new();
    env.ok(&["profile", "init", "main", "--server", &server.url]);
    let run = env.run_with(
        &[
            "register",
            "--username",
            "ann",
            "--email",
            "ann@example.com",
        ],
        &[("DPIPE_PASSWORD", "s3cret-pw")],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let token = env.ok(&["token", "get"]).trim().to_string();
    env.ok(&["profile", "init", "other", "--server", &server.url]);
    env.ok(&["--profile", "other", "token", "set", &token]);
    encryption_story(&env, &server.data_dir);
}

#[test]
fn encode_and_decode_a_settings_file() {
    let env = Env::new();
    env.ok(&["profile", "init", "main", "--local"]);
    let file = env.file("settings.yaml", SETTINGS, 0o600);
    let output = env.path().join("encoded.json");
    let run = env.run(&[
        "encode",
        "--file",
        file.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    let text = std::fs::read_to_string(&output).unwrap();
    assert!(!text.to_lowercase().contains("canary"), "{text}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&output).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let decoded = env.json(&["decode", "--file", output.to_str().unwrap()]);
    let decoded = &decoded["vendor"];
    assert_eq!(decoded["name"], "vendor");
    assert_eq!(decoded["settings"]["region"], "eu-canary-1");
    assert_eq!(
        decoded["credentials"]["read"],
        json!({"aws_access_key_id": "CANARYREADID", "aws_secret_access_key": "canary-read-secret"})
    );
    // Encrypted for a remote, it does not decrypt as a pipe's settings.
    env.fails(
        &[
            "decode",
            "--file",
            output.to_str().unwrap(),
            "--for",
            "pipe",
        ],
        6,
        "moved here",
    );
    env.fails(&["key", "set", "not-a-key"], 2, "43 characters");
    // A key may start with `-` (base64url): it is taken as the key, not as a flag.
    env.ok(&["key", "set", "-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]);
}
