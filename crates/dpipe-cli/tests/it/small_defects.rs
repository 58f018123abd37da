//! Small defects a newcomer meets (issue 14, item 8): `encode` output that `decode` cannot
//! read back, `key show` making a key nobody asked for, `--quiet` still printing a first
//! pull's README, and `scan`'s table unlike the others.

use crate::support::{Env, local_profile};

/// The settings file of the tests: one remote `vendor` with credentials.
const SETTINGS: &str = "vendor:
  protocol: s3
  location: vendor-bucket
  settings: {region: eu-west-1}
  credentials:
    read: {aws_access_key_id: READID, aws_secret_access_key: read-secret}
    write: {aws_access_key_id: WRITEID, aws_secret_access_key: write-secret}
";

/// `encode --file F --key K > out.json` is a settings file that `decode --file out.json --key
/// K` reads back, and so is what `decode` prints; the encoded file can be upserted as is.
#[test]
fn encode_output_decodes_with_the_same_key() {
    let env = Env::new();
    local_profile(&env);
    env.ok(&["key", "set", "-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]);
    let file = env.file("settings.yaml", SETTINGS, 0o600);
    let encoded = env.ok(&[
        "encode",
        "--file",
        file.to_str().unwrap(),
        "--key",
        "vendor",
    ]);
    assert!(!encoded.contains("read-secret"), "{encoded}");
    let out = env.file("out.json", &encoded, 0o600);
    let out = out.to_str().unwrap();

    let decoded = env.ok(&["decode", "--file", out, "--key", "vendor"]);
    let plain = env.file("plain.json", &decoded, 0o600);
    let value: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(value["vendor"]["name"], "vendor", "{decoded}");
    assert_eq!(
        value["vendor"]["credentials"]["read"]["aws_secret_access_key"],
        "read-secret"
    );
    // The decoded file encodes again: the two commands print what they read.
    let again = env.ok(&[
        "encode",
        "--file",
        plain.to_str().unwrap(),
        "--key",
        "vendor",
    ]);
    assert!(!again.contains("read-secret"), "{again}");

    env.ok(&["remote", "upsert", "--file", out, "--key", "vendor"]);
    env.ok(&["pipe", "create", "--name", "feed", "--remote", "vendor"]);
    let credentials = env.json(&["pipe", "credentials", "feed"]);
    assert_eq!(credentials["aws_secret_access_key"], "read-secret");
}

/// `key show` on a profile without a key says so (exit 3) and suggests how to get one,
/// without making one; the warning of a key made on first use reads as one sentence.
#[test]
fn key_show_without_a_key_makes_none() {
    let env = Env::new();
    local_profile(&env);
    let err = env.fails(&["key", "show"], 3, "profile lap has no encryption key");
    assert!(
        err.contains("dpipe key set") && err.contains("dpipe key rotate"),
        "{err}"
    );
    let config = std::fs::read_to_string(env.config()).unwrap();
    assert!(!config.contains("key ="), "a key was made: {config}");

    let file = env.file("settings.yaml", SETTINGS, 0o600);
    let run = env.run(&["encode", "--file", file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("made an encryption key"), "{run:?}");
    assert!(!run.stderr.contains("  "), "a run of spaces: {run:?}");
    let key = env.ok(&["key", "show"]);
    assert_eq!(key.trim().len(), 43, "{key}");
}

/// `pull -q` of a pipe with a README.md and a LICENSE.md prints nothing at all, nor does a
/// quiet pull that keeps a conflicting file.
#[test]
fn quiet_first_pull_prints_nothing() {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    for (name, text) in [
        ("README.md", "# hello\n"),
        ("LICENSE.md", "MIT\n"),
        ("a.csv", "x\n"),
    ] {
        std::fs::write(remote.join(name), text).unwrap();
    }
    crate::support::create_fs_pipe(&env, &remote, &[]);
    let run = env.run(&["pull", "--pipe", "p", "-q"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", ""),
        "{run:?}"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("p/README.md")).unwrap(),
        "# hello\n"
    );

    // A conflict settled with --merge keep: no note either.
    std::fs::write(remote.join("a.csv"), "remote\n").unwrap();
    std::fs::write(repo.join("p/a.csv"), "local change\n").unwrap();
    let run = env.run(&["pull", "--pipe", "p", "-q", "--merge", "keep"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        (run.stdout.as_str(), run.stderr.as_str()),
        ("", ""),
        "{run:?}"
    );
}

/// `scan` prints its table like every other: upper-case headers, sizes in words.
#[test]
fn scan_tables_look_like_the_others() {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    crate::support::create_fs_pipe(&env, &remote, &[]);
    std::fs::create_dir_all(repo.join("p")).unwrap();
    std::fs::write(repo.join("p/data.bin"), vec![7u8; 3482]).unwrap();
    env.ok(&["push", "--pipe", "p"]);
    for side in ["local", "remote"] {
        let shown = env.ok(&["scan", side, "--pipe", "p"]);
        let header = shown.lines().next().unwrap_or_default();
        assert!(header.starts_with("PATH"), "{side}: {shown}");
        assert!(
            header.contains("SIZE") && header.contains("MODIFIED"),
            "{shown}"
        );
        assert!(shown.contains("3.4 KiB"), "{side}: sizes in words: {shown}");
        assert!(
            !shown.contains("3482"),
            "{side}: no raw byte count: {shown}"
        );
    }
}
