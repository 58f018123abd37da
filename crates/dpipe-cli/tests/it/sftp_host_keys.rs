//! SFTP host keys end to end: a push with a password records the server's host key in the
//! profile's known-hosts file; another server (another key) on the same address is refused
//! (exit 4, both fingerprints named, nothing moved); a pinned key needs no known-hosts file;
//! `dpipe remote show` prints the pinned fingerprint, and a pin that is no key is refused
//! when the remote is upserted.

use std::path::Path;

use dpipe_testkit::services::sftp::SftpServer;

use crate::support::{Env, create_pipe, local_profile};

/// Creates pipe `p` on `server`, its files in `root`, logging in with the test user's
/// password; `settings` as well (`key=value` each).
fn create_password_pipe(env: &Env, server: &SftpServer, root: &Path, settings: &[&str]) {
    let dir = format!("dir={}", root.to_str().unwrap().trim_start_matches('/'));
    let user = format!("username={}", server.user.name);
    let password = format!("password={}", server.user.password);
    let mut all = vec![dir.as_str()];
    all.extend(settings);
    create_pipe(
        env,
        "sftp",
        &server.endpoint(),
        &all,
        &[&user, &password],
        &[],
    );
}

/// dpipe's known-hosts file of `env`: next to its profiles file.
fn known_hosts(env: &Env) -> std::path::PathBuf {
    env.config().parent().unwrap().join("known_hosts")
}

#[test]
fn a_changed_host_key_is_refused_and_nothing_moves() {
    let mut server = SftpServer::start();
    let work = server.user.workdir();
    let env = Env::new();
    let repo = local_profile(&env);
    create_password_pipe(&env, &server, &work.path, &[]);
    std::fs::create_dir_all(repo.join("p")).unwrap();
    std::fs::write(repo.join("p/first.csv"), "a,b\n1,2\n").unwrap();
    env.ok(&["push", "--pipe", "p"]);
    assert_eq!(
        std::fs::read_to_string(work.path.join("first.csv")).unwrap(),
        "a,b\n1,2\n"
    );
    let recorded = std::fs::read_to_string(known_hosts(&env)).unwrap();
    let line = format!("[127.0.0.1]:{} ssh-ed25519 ", server.port);
    assert!(recorded.starts_with(&line), "{recorded}");

    let old = server.host_key_fingerprint();
    server.restart_with_new_host_key();
    let new = server.host_key_fingerprint();
    std::fs::write(repo.join("p/second.csv"), "c\n3\n").unwrap();
    let run = env.run(&["push", "--pipe", "p"]);
    assert_eq!(run.code, 4, "{run:?}");
    for said in [old.as_str(), new.as_str(), "delete that line", "host_key"] {
        assert!(run.stderr.contains(said), "{said}: {run:?}");
    }
    assert!(!work.path.join("second.csv").exists(), "nothing moved");
    assert_eq!(
        std::fs::read_to_string(known_hosts(&env)).unwrap(),
        recorded
    );
}

#[test]
fn a_pinned_host_key_needs_no_known_hosts_file() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let env = Env::new();
    let repo = local_profile(&env);
    let pin = format!("host_key={}", server.host_key_fingerprint());
    create_password_pipe(&env, &server, &work.path, &[&pin]);
    std::fs::create_dir_all(repo.join("p")).unwrap();
    std::fs::write(repo.join("p/data.csv"), "x\n").unwrap();
    env.ok(&["push", "--pipe", "p"]);
    assert!(work.path.join("data.csv").exists());
    assert!(!known_hosts(&env).exists(), "a pin records nothing");
}

#[test]
fn remote_show_prints_the_pinned_host_key() {
    let server = SftpServer::start();
    let env = Env::new();
    local_profile(&env);
    let fingerprint = server.host_key_fingerprint();
    for pin in [server.host_key_line(), fingerprint.clone()] {
        let setting = format!("host_key={pin}");
        env.ok(&[
            "remote",
            "upsert",
            "vendor",
            "--protocol",
            "sftp",
            "--location",
            &server.endpoint(),
            "--setting",
            &setting,
        ]);
        let shown = env.ok(&["remote", "show", "vendor"]);
        let line = shown
            .lines()
            .find(|l| l.starts_with("host key:"))
            .unwrap_or_else(|| panic!("{shown}"));
        assert!(line.ends_with(&fingerprint), "{shown}");
    }

    // Not a key: refused, and nothing stored.
    let run = env.run(&[
        "remote",
        "upsert",
        "other",
        "--protocol",
        "sftp",
        "--location",
        &server.endpoint(),
        "--setting",
        "host_key=ssh-ed25519 nonsense",
    ]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("host_key"), "{run:?}");
    assert_ne!(env.run(&["remote", "show", "other"]).code, 0);
}
