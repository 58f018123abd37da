//! Against a real repo API server: accounts and tokens, two users sharing a pipe, and the
//! `dpipe serve` command itself.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dpipe_testkit::server::TestServer;

use crate::support::{Env, names};

/// A user with a profile on `url`, registered with password `pw-<name>`.
fn registered(url: &str, name: &str) -> Env {
    let env = Env::new();
    env.ok(&["profile", "init", "srv", "--server", url]);
    let email = format!("{name}@example.com");
    let password = format!("pw-{name}");
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
        2,
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
    ann.ok(&[
        "pipe",
        "create",
        "--name",
        "shared",
        "--protocol",
        "s3",
        "--location",
        "bucket-1",
    ]);
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
    bob.fails(&["pipe", "delete", "shared"], 4, "permission");

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

    // An invitation by email becomes access when its owner registers.
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
    assert_eq!(carol.json(&["pipe", "show", "shared"])["role"], "write");

    ann.ok(&["perm", "revoke", "shared", "--user", "bob"]);
    assert_eq!(names(&bob.json(&["pipe", "list"])), Vec::<String>::new());
    bob.fails(&["pipe", "show", "shared"], 4, "permission");
}

#[test]
fn the_serve_command_serves_until_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Serve(spawn_serve(&listen, data.path()));
    wait_healthy(&listen, &mut server.0);

    let env = registered(&format!("http://{listen}"), "dora");
    assert_eq!(env.json(&["whoami"])["username"], "dora");
    // A second server on the same data folder is refused while the first holds it.
    let second = Command::new(env!("CARGO_BIN_EXE_dpipe"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1), "{second:?}");

    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server.0.wait().unwrap();
    assert!(status.success(), "a graceful stop: {status:?}");
    assert!(data.path().join("registry.sqlite").is_file());
}

/// A `dpipe serve` child, killed if the test fails before stopping it.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_serve(listen: &str, data_dir: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dpipe"))
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dpipe serve starts")
}

/// Polls `GET /health` until it answers 200; fails if the server exits or takes over 20 s.
fn wait_healthy(listen: &str, server: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            panic!("dpipe serve exited early: {status}");
        }
        if let Ok(mut stream) = TcpStream::connect(listen) {
            let _ =
                stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "dpipe serve did not become healthy"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
