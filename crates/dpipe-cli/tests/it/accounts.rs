//! Against a real repo API server: accounts and tokens, two users sharing a pipe, and the
//! `dpipe serve` command itself.

use std::process::Command;

use dpipe_testkit::server::TestServer;

use crate::serve_process::ServeProcess;
use crate::support::{Env, create_listed_pipe, names};

/// A user with a profile on `url`, registered with password `pw-<name>-long`.
fn registered(url: &str, name: &str) -> Env {
    let env = Env::new();
    env.ok(&["profile", "init", "srv", "--server", url]);
    let email = format!("{name}@example.com");
    let password = format!("pw-{name}-long");
    let run = env.run(&[
        "register",
        "--username",
        name,
        "--email",
        &email,
        "--password",
        &password,
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    env
}

#[test]
fn register_login_whoami_token_logout() {
    let server = TestServer::start();
    let env = Env::new();
    env.ok(&["profile", "init", "srv", "--server", &server.url]);
    env.fails(&["whoami"], 4, "not logged in");
    env.fails(&["token", "get"], 4, "not logged in");

    let run = env.run_with(
        &[
            "--json",
            "register",
            "--username",
            "ann",
            "--email",
            "ann@example.com",
        ],
        &[("DPIPE_PASSWORD", "s3cret-pw")],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("shell history"), "{run:?}");
    let account: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (account["username"].as_str(), account["profile"].as_str()),
        (Some("ann"), Some("srv"))
    );
    let token = env.ok(&["token", "get"]).trim().to_string();
    assert_eq!(token.len(), 40, "a 40-hex token: {token}");
    assert!(!run.stdout.contains(&token), "register printed the token");
    let config = std::fs::read_to_string(env.config()).unwrap();
    assert!(config.contains(&token));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(env.config())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(
        !env.ok(&["profile", "show"]).contains(&token),
        "profile show printed the token"
    );

    let who = env.json(&["whoami"]);
    assert_eq!(
        (who["username"].as_str(), who["email"].as_str()),
        (Some("ann"), Some("ann@example.com"))
    );

    let run = env.run(&["logout"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("no longer works"), "{run:?}");
    env.fails(&["token", "get"], 4, "not logged in");
    env.ok(&["token", "set", &token]);
    env.fails(&["whoami"], 4, "Invalid token");
    let run = env.run(&["logout"]);
    assert!(
        run.code == 0 && run.stderr.contains("already stopped accepting it"),
        "{run:?}"
    );
    env.fails(
        &["login", "--username", "ann", "--password", "wrong"],
        4,
        "Unable to log in",
    );
    env.fails(&["token", "get"], 4, "not logged in");
    let run = env.run(&["login", "--username", "ann", "--password", "s3cret-pw"]);
    assert!(
        run.code == 0 && run.stdout.contains("Logged in as ann"),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("shell history"),
        "a typed password is warned about: {run:?}"
    );
    let token = env.ok(&["token", "get"]).trim().to_string();
    assert_eq!(
        env.run(&["login", "--username", "ann", "--password", "s3cret-pw"])
            .code,
        0
    );
    assert_eq!(
        env.ok(&["token", "get"]).trim(),
        token,
        "login gives back the same token"
    );

    // A taken username, and a token the server does not know.
    env.fails(
        &[
            "register",
            "--username",
            "ann",
            "--email",
            "other@example.com",
            "--password",
            "x",
        ],
        2,
        "unique",
    );
    env.ok(&["token", "set", "0123456789abcdef0123456789abcdef01234567"]);
    env.fails(&["whoami"], 4, "Invalid token");
    env.fails(&["pipe", "list"], 4, "Invalid token");
    env.ok(&["token", "set", &token]);
    assert_eq!(env.json(&["whoami"])["username"], "ann");
    // Without a terminal and without --password there is nobody to ask.
    env.fails(&["login", "--username", "ann"], 2, "no password");
}

#[test]
fn two_users_share_a_pipe() {
    let server = TestServer::start();
    let ann = registered(&server.url, "ann");
    let bob = registered(&server.url, "bob");
    create_listed_pipe(&ann, "shared");
    ann.ok(&[
        "pipe",
        "create",
        "--name",
        "shared-kid",
        "--parent",
        "shared",
        "--dir",
        "kid",
    ]);
    let before = ann.json(&["pipe", "show", "shared"]);

    assert_eq!(names(&bob.json(&["pipe", "list"])), Vec::<String>::new());
    bob.fails(&["pipe", "show", "shared"], 4, "permission");
    bob.fails(
        &[
            "perm", "grant", "shared", "--user", "bob", "--role", "admin",
        ],
        4,
        "permission",
    );
    bob.fails(&["pipe", "delete", "shared", "--apply"], 4, "permission");

    let grant = ann.json(&["perm", "grant", "shared", "--user", "bob", "--role", "read"]);
    assert_eq!(
        (grant["username"].as_str(), grant["pending"].as_bool()),
        (Some("bob"), Some(false))
    );
    let mut seen = names(&bob.json(&["pipe", "list"]));
    seen.sort();
    assert_eq!(
        seen,
        ["shared", "shared-kid"],
        "a grant on the parent reaches its child"
    );
    assert_eq!(bob.json(&["pipe", "show", "shared-kid"])["role"], "read");
    bob.fails(
        &["pipe", "upsert", "--name", "shared", "--dir", "mine"],
        4,
        "permission",
    );
    bob.fails(&["perm", "list", "shared"], 4, "permission");
    assert_eq!(
        ann.json(&["pipe", "show", "shared"]),
        before,
        "refused calls changed nothing"
    );

    // An invitation by email becomes access once the pipe's owner confirms the account that
    // registered with the address: registering alone proves nothing.
    ann.ok(&[
        "perm",
        "grant",
        "shared",
        "--email",
        "carol@example.com",
        "--role",
        "write",
    ]);
    let carol = registered(&server.url, "carol");
    carol.fails(&["pipe", "show", "shared"], 4, "permission");
    ann.ok(&["perm", "confirm", "shared", "--email", "carol@example.com"]);
    assert_eq!(carol.json(&["pipe", "show", "shared"])["role"], "write");

    ann.ok(&["perm", "revoke", "shared", "--user", "bob"]);
    assert_eq!(names(&bob.json(&["pipe", "list"])), Vec::<String>::new());
    bob.fails(&["pipe", "show", "shared"], 4, "permission");
}

#[test]
fn the_serve_command_serves_until_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start(data.path(), &[]);
    assert!(server.storage_url.is_some(), "{}", server.log());

    let env = registered(&server.url, "dora");
    assert_eq!(env.json(&["whoami"])["username"], "dora");
    // A second server on the same data folder is refused while the first holds it.
    let second = Command::new(env!("CARGO_BIN_EXE_dpipe"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-storage",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1), "{second:?}");

    let status = server.signal_and_wait("-TERM");
    assert!(status.success(), "a graceful stop: {status:?}");
    assert!(data.path().join("registry.sqlite").is_file());
    assert!(data.path().join("storage").is_dir());
}

#[test]
fn the_serve_command_without_storage_refuses_managed_pipes() {
    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(data.path(), &["--no-storage"]);
    assert_eq!(server.storage_url, None);
    let env = registered(&server.url, "dora");
    env.fails(
        &["pipe", "create", "--name", "demo"],
        2,
        "no managed storage",
    );
    assert!(names(&env.json(&["pipe", "list"])).is_empty());
    assert!(!data.path().join("storage").exists());
}

#[test]
fn the_serve_command_refuses_wrong_storage_flags() {
    let data = tempfile::tempdir().unwrap();
    for (flags, needle) in [
        (
            &["--no-storage", "--external-storage"][..],
            "cannot be used with",
        ),
        (&["--key-lifetime", "12x"][..], "not a duration"),
        (&["--key-lifetime", "0s"][..], "between 1s and 366d"),
        (
            &["--external-role-arn", "arn:aws:iam::1:role/r"][..],
            "--external-storage",
        ),
        (
            &["--storage-listen", "nowhere"][..],
            "invalid socket address",
        ),
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_dpipe"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path().join("never"))
            .args(flags)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(needle), "{flags:?}: {stderr}");
    }
    assert!(!data.path().join("never").exists(), "nothing is created");
}

#[test]
fn the_serve_command_on_a_busy_port_says_so_once_and_creates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    for flags in [
        ["--listen", busy.as_str(), "--storage-listen", "127.0.0.1:0"],
        ["--listen", "127.0.0.1:0", "--storage-listen", busy.as_str()],
    ] {
        let run = Command::new(env!("CARGO_BIN_EXE_dpipe"))
            .arg("serve")
            .args(flags)
            .arg("--data-dir")
            .arg(data.path().join("server"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot listen on {busy}")),
            "{stderr}"
        );
        assert_eq!(stderr.matches("in use").count(), 1, "said once: {stderr}");
        assert!(
            !data.path().join("server").exists(),
            "{flags:?}: nothing is created before the ports are bound"
        );
    }
}
