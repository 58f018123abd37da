//! `dpipe verify` end to end, in local mode: over a folder remote and over a real S3 server
//! (s3s-fs), a flipped byte that kept size and time, a deleted file, the JSON, `--remote`
//! against an object someone else replaced and against storage without checksums, and the
//! wrong calls with their exit codes.

use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::Path;

use dpipe_testkit::server::TestServer;
use dpipe_testkit::services::s3::S3Server;
use serde_json::Value;

use crate::output_snapshots::{Transcript, folder_pipe, write_all};
use crate::support::{Env, Run, create_s3_pipe, local_profile, on_terminal, server_user};

/// Flips the first byte of the file at `path` in place, keeping its size and modification
/// time (and inode): what bit rot looks like to every stamp dpipe keeps.
fn flip_first_byte(path: &Path) {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    let first = std::fs::read(path).unwrap()[0];
    let mut file = std::fs::File::options().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.write_all(&[first ^ 0x01]).unwrap();
    file.set_modified(modified).unwrap();
}

/// SHA-256 of `shop,sales\n1,20\n2,35\n` (`a.csv` of the folder pipe), and of the same with
/// its first byte flipped (`s` → `r`).
const A_CSV_SHA256: &str = "0ab776e486fb1596c9d441e97a58e9a777b8eb7c9ec2234ed78aaeb8cd814f4b";
const FLIPPED_SHA256: &str = "72d244374024415fa07f815f492e8d7b0649aef8fedb9833b789eda406bde090";
/// MD5 of `a,b\n1,3\n`.
const REPLACED_MD5: &str = "1919efab7e3f5c4cc7e9e96f26663db9";

/// The SHA-256 `dpipe scan local` gives of `path` in pipe `p` of `env`.
fn local_sha256(env: &Env, path: &str) -> String {
    let listing = env.json(&["scan", "local", "p"]);
    let files = listing["files"].as_array().unwrap();
    let file = files.iter().find(|f| f["path"] == path).expect("listed");
    file["sha256"].as_str().unwrap().to_string()
}

/// `dpipe --json args...`, which must exit with `code`; the JSON it printed.
fn json_exit(env: &Env, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    assert_eq!(run.code, code, "dpipe {all:?}: {run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {run:?}"))
}

fn exits(run: Run, code: i32) -> Run {
    assert_eq!(run.code, code, "{run:?}");
    run
}

#[test]
fn a_flipped_byte_and_a_deleted_file_are_found_over_a_folder_remote() {
    let env = Env::new();
    let (local, remote) = folder_pipe(&env);
    env.ok(&["pull", "p", "--quiet"]);

    let clean = env.ok(&["verify", "p"]);
    assert_eq!(clean, "3 files verified, 0 differ\n");
    // A change that kept size and time: status is fooled by the hash cache, verify is not.
    flip_first_byte(&local.join("a.csv"));
    assert!(env.ok(&["status", "p"]).contains("in sync"));
    let run = exits(env.run(&["verify", "--pipe", "p"]), 1);
    assert!(
        run.stdout.contains("a.csv") && run.stdout.contains("changed"),
        "{run:?}"
    );
    assert!(
        run.stdout.ends_with("3 files verified, 1 differs\n"),
        "{run:?}"
    );
    assert_eq!(run.stderr, "", "the table said it all");

    std::fs::remove_file(local.join("sub/b.txt")).unwrap();
    write_all(&local, &[("new.csv", "n\n"), ("scratch2.tmp", "excluded")]);
    let report = json_exit(&env, &["verify", "p"], 1);
    assert_eq!(report["pipe"], "p");
    assert_eq!(
        (report["verified"].as_u64(), report["ok"].as_u64()),
        (Some(3), Some(1))
    );
    let changed = &report["changed"][0];
    assert_eq!(changed["path"], "a.csv");
    assert_eq!(changed["by"], "sha256");
    assert_eq!(changed["expected"], A_CSV_SHA256);
    assert_eq!(changed["found"], FLIPPED_SHA256);
    assert_eq!(report["missing"][0]["path"], "sub/b.txt");
    assert_eq!(report["missing"][0]["found"], Value::Null);
    assert_eq!(
        report["unrecorded"],
        serde_json::json!([{"path": "new.csv", "size": 2}])
    );
    assert_eq!(report["remote"], Value::Null);

    // The remote of a folder keeps no checksums: compared by size, and said once.
    write_all(&remote, &[("a.csv", "shop,sales\n1,20\n2,35\n3,1\n")]);
    let run = exits(env.run(&["verify", "p", "--remote"]), 1);
    assert_eq!(
        run.stderr,
        "the storage keeps no checksums; --remote compared sizes only\n"
    );
    assert!(run.stdout.contains("remote differs"), "{run:?}");
    let report = json_exit(&env, &["verify", "p", "--remote"], 1);
    let remote = &report["remote"];
    assert_eq!(remote["checksums"], false);
    assert_eq!(remote["by_size"], 3);
    assert_eq!(remote["differs"][0]["by"], "size");
    assert_eq!(
        (
            remote["differs"][0]["expected"].as_u64(),
            remote["differs"][0]["found"].as_u64()
        ),
        (Some(21), Some(25))
    );
    assert_eq!(remote["missing"], serde_json::json!([]));
}

#[test]
fn on_a_terminal_the_files_read_show_on_the_progress_bar_of_pull() {
    let env = Env::new();
    folder_pipe(&env);
    env.ok(&["pull", "p", "--quiet"]);
    let shown = on_terminal(&env, "verify p", "");
    assert!(shown.contains("/3 files ["), "{shown:?}");
    assert!(shown.contains("3 files verified, 0 differ"), "{shown:?}");
}

#[test]
fn verify_prints_a_table_of_what_differs() {
    let env = Env::new();
    let (local, remote) = folder_pipe(&env);
    env.ok(&["pull", "p", "--quiet"]);
    flip_first_byte(&local.join("a.csv"));
    std::fs::remove_file(local.join("sub/b.txt")).unwrap();
    write_all(&local, &[("new.csv", "n\n")]);
    write_all(&remote, &[("sub/b.txt", "bbbbb")]);
    Transcript::new(&env)
        .run(&env, &["verify", "p"])
        .run(&env, &["verify", "p", "--remote"])
        .check("verify_table");
}

/// A second user of the same bucket, who replaces `data/{path}` with `content`; the
/// SHA-256 of `content`.
fn replaced_by_someone_else(server: &S3Server, bucket: &str, path: &str, content: &[u8]) -> String {
    let other = Env::new();
    let repo = local_profile(&other);
    create_s3_pipe(&other, server, bucket);
    other.ok(&["pull", "p", "--quiet"]);
    std::fs::write(repo.join("p").join(path), content).unwrap();
    other.ok(&["push", "p", "--quiet"]);
    local_sha256(&other, path)
}

#[test]
fn over_s3_the_remote_is_compared_by_its_checksums() {
    let server = S3Server::start();
    server.create_bucket("verify");
    let env = Env::new();
    let repo = local_profile(&env);
    let local = repo.join("p");
    // One single-part object (its ETag is its MD5), one multipart (dpipe's SHA-256 with it).
    let big: Vec<u8> = (0..9u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("small.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(local.join("big.bin"), &big).unwrap();
    create_s3_pipe(&env, &server, "verify");
    env.ok(&["push", "p", "--quiet"]);
    let big_sha256 = local_sha256(&env, "big.bin");
    let report = json_exit(&env, &["verify", "p", "--remote"], 0);
    assert_eq!(
        (report["verified"].as_u64(), report["ok"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(report["remote"]["checksums"], true);
    assert_eq!(report["remote"]["by_size"], 0, "{report}");

    // Someone else replaces both objects with content of the same size.
    replaced_by_someone_else(&server, "verify", "small.csv", b"a,b\n1,3\n");
    let mut other_big = big.clone();
    other_big[5 << 20] ^= 0xff;
    let other_big_sha256 = replaced_by_someone_else(&server, "verify", "big.bin", &other_big);
    let run = exits(env.run(&["verify", "p", "--remote"]), 1);
    assert_eq!(run.stderr, "", "{run:?}");
    assert!(
        run.stdout.ends_with("2 files verified, 2 differ\n"),
        "{run:?}"
    );
    let report = json_exit(&env, &["verify", "p", "--remote"], 1);
    let differs = &report["remote"]["differs"];
    assert_eq!(differs[0]["path"], "big.bin");
    assert_eq!(differs[0]["by"], "sha256");
    assert_eq!(differs[0]["expected"], big_sha256);
    assert_eq!(differs[0]["found"], other_big_sha256);
    assert_eq!(differs[1]["path"], "small.csv");
    assert_eq!(differs[1]["by"], "md5");
    assert_eq!(differs[1]["found"], REPLACED_MD5);
    // The local files are as recorded: only the remote differs; without --remote, all is well.
    assert_eq!(report["changed"], serde_json::json!([]));
    assert_eq!(env.ok(&["verify", "p"]), "2 files verified, 0 differ\n");

    // A flipped local byte, and an object gone.
    flip_first_byte(&local.join("small.csv"));
    std::fs::remove_file(server.root().join("verify/data/big.bin")).unwrap();
    let report = json_exit(&env, &["verify", "p", "--remote"], 1);
    assert_eq!(report["changed"][0]["path"], "small.csv");
    assert_eq!(report["remote"]["missing"][0]["path"], "big.bin");
}

#[test]
fn against_a_server_verify_works_the_same() {
    let server = TestServer::start();
    let s3 = S3Server::start();
    s3.create_bucket("served");
    let env = server_user(&server.url, "ann");
    create_s3_pipe(&env, &s3, "served");
    let local = env.path().join("repo/p");
    write_all(&local, &[("a.csv", "shop,sales\n1,20\n2,35\n")]);
    env.ok(&["push", "p", "--quiet"]);
    assert_eq!(
        env.ok(&["verify", "p", "--remote"]),
        "1 file verified, 0 differ\n"
    );
    flip_first_byte(&local.join("a.csv"));
    let report = json_exit(&env, &["verify", "p", "--remote"], 1);
    assert_eq!(report["changed"][0]["found"], FLIPPED_SHA256);
    assert_eq!(report["remote"]["differs"], serde_json::json!([]));
}

#[test]
fn wrong_calls_exit_with_their_codes_and_write_nothing() {
    let env = Env::new();
    let repo = local_profile(&env);
    let (_, remote) = (&repo, env.path().join("remote"));
    std::fs::create_dir_all(&remote).unwrap();
    crate::support::create_fs_pipe(&env, &remote, &[]);
    env.fails(&["verify"], 2, "required");
    env.fails(&["verify", "p", "--pipe", "p"], 2, "cannot be used with");
    env.fails(&["verify", "--bogus", "p"], 2, "unexpected argument");
    env.fails(&["verify", "pp"], 3, "pipe pp not found; did you mean p?");
    assert!(!repo.exists(), "nothing written for a wrong call");
    // A pipe never pulled or pushed here: nothing to verify, said plainly, exit 0.
    let out = env.ok(&["verify", "p", "--remote"]);
    assert_eq!(
        out,
        "nothing recorded yet for pipe p: it was never pulled or pushed into this file repo\n"
    );
}
