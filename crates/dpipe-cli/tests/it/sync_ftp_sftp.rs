//! `dpipe pull` and `dpipe push` end to end against real FTP (vsftpd, username + password) and
//! SFTP (sshd, username + private key) servers, in local mode: the first pull is
//! byte-identical, a same-size edit on the server is found by size + mtime (outside the
//! protocol's window: 2 s for SFTP, 60 s for FTP, whose listings give minutes) and checked
//! against the hash recorded at the last sync, and a new local file is pushed.
//!
//! Known gaps of dpipe-storage, not exercised: SFTP password authentication is unsupported
//! (OpenDAL drives the `ssh` client), and FTP cannot upload a 0-byte file. On FTP a same-size
//! edit that keeps the mtime within 60 s of the recorded one is not seen as a change.

use std::path::Path;
use std::time::Duration;

use dpipe_testkit::services::ftp::FtpServer;
use dpipe_testkit::services::sftp::SftpServer;
use dpipe_testkit::services::user::TestUser;
use serde_json::Value;

use crate::support::{Env, create_ftp_pipe, create_sftp_pipe, local_profile};

const FILES: [(&str, &str); 3] = [
    ("a.csv", "x,y\n1,2\n"),
    ("sub/b.txt", "bbbb"),
    ("c.bin", "0123456789"),
];

/// Writes `text` at `root/path` as the server's user would have (owner and folders).
fn plant(user: &TestUser, root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    let parent = path.parent().unwrap();
    if !parent.exists() {
        std::fs::create_dir_all(parent).unwrap();
        user.chown(parent);
    }
    std::fs::write(&path, text).unwrap();
    user.chown(&path);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn moved(report: &Value) -> Vec<String> {
    report["transferred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["path"].as_str().unwrap().to_string())
        .collect()
}

/// Pull, same-size edit, push, with the pipe `p` already created in `env` over `root`.
fn round_trip(env: &Env, user: &TestUser, root: &Path, repo: &Path, log: &dyn Fn() -> String) {
    let local = repo.join("p");
    let first = env.json(&["pull", "--pipe", "p"]);
    assert_eq!(
        moved(&first),
        ["a.csv", "c.bin", "sub/b.txt"],
        "{first}\n{}",
        log()
    );
    for (path, content) in FILES {
        assert_eq!(read(&local.join(path)), content, "{path}");
    }
    assert!(moved(&env.json(&["pull", "--pipe", "p"])).is_empty());

    // A same-size edit on the server, its mtime two days earlier: found, pulled, verified.
    // (Not later: a time in the future is listed by vsftpd as a date without time, which
    // just before midnight lands within the 60 s window of the old time.)
    let edited = root.join("c.bin");
    let before = std::fs::metadata(&edited).unwrap().modified().unwrap();
    plant(user, root, "c.bin", "9876543210");
    std::fs::File::options()
        .write(true)
        .open(&edited)
        .unwrap()
        .set_modified(before - Duration::from_secs(2 * 24 * 3600))
        .unwrap();
    let status = env.json(&["status", "--pipe", "p"]);
    assert_eq!(status["to_pull"], serde_json::json!(["c.bin"]), "{status}");
    let again = env.json(&["pull", "--pipe", "p"]);
    assert_eq!(moved(&again), ["c.bin"], "{again}");
    assert_eq!(read(&local.join("c.bin")), "9876543210");

    // A new local file is pushed, byte-identical on the server; then all is in sync.
    std::fs::write(local.join("sub/new.txt"), "fresh data\n").unwrap();
    let pushed = env.json(&["push", "--pipe", "p"]);
    assert_eq!(moved(&pushed), ["sub/new.txt"], "{pushed}\n{}", log());
    assert_eq!(read(&root.join("sub/new.txt")), "fresh data\n");
    let status = env.json(&["status", "--pipe", "p"]);
    assert_eq!(status["in_sync"], true, "{status}");
}

#[test]
fn sftp_pull_edit_push_with_a_private_key() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    for (path, text) in FILES {
        plant(server.user, &work.path, path, text);
    }
    let env = Env::new();
    let repo = local_profile(&env);
    create_sftp_pipe(&env, &server, &work.path);
    round_trip(&env, server.user, &work.path, &repo, &|| server.log());
}

#[test]
fn ftp_pull_edit_push_with_a_password() {
    let server = FtpServer::start();
    let work = server.user.workdir();
    for (path, text) in FILES {
        plant(server.user, &work.path, path, text);
    }
    let env = Env::new();
    let repo = local_profile(&env);
    create_ftp_pipe(&env, &server, &work.path);
    round_trip(&env, server.user, &work.path, &repo, &|| server.log());
}
