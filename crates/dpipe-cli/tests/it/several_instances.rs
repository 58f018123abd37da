//! Several `dpipe serve` processes on one PostgreSQL database (`--database-url`), each with its
//! own data folder holding copies of the same `server.key` and `credentials.key`: every client
//! gets the same answers from either, concurrent writes through both lose nothing, and a key
//! rotation run while both serve leaves every credential readable on both.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use dpipe_client::{ErrorKind, HttpApi, RepoApi};
use dpipe_core::role::Access;
use dpipe_core::wire::UpdateMode;
use dpipe_testkit::postgres::TestDatabase;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::serve_process::ServeProcess;

/// Two servers, A and B, on one fresh PostgreSQL schema.
struct Pair {
    a: ServeProcess,
    b: ServeProcess,
    folders: TempDir,
    // Declared last: the schema is dropped after both servers stopped.
    database: TestDatabase,
}

impl Pair {
    /// Starts A on a fresh data folder (it makes the keys), copies its `server.key` and
    /// `credentials.key` into B's folder, and starts B.
    fn start() -> Pair {
        let database = TestDatabase::create();
        let folders = tempfile::tempdir().unwrap();
        let a = serve(&folders.path().join("a"), &database);
        std::fs::create_dir(folders.path().join("b")).unwrap();
        for key in ["server.key", "credentials.key"] {
            std::fs::copy(
                folders.path().join("a").join(key),
                folders.path().join("b").join(key),
            )
            .unwrap();
        }
        let b = serve(&folders.path().join("b"), &database);
        Pair {
            a,
            b,
            folders,
            database,
        }
    }

    fn folder(&self, name: &str) -> PathBuf {
        self.folders.path().join(name)
    }

    /// Runs `dpipe serve rotate-key` on A's data folder with `extra` flags while both run.
    fn rotate(&self, extra: &[&str]) -> crate::support::Run {
        let env = crate::support::Env::new();
        let folder = self.folder("a");
        let url = self.database.url();
        let mut args = vec![
            "serve",
            "rotate-key",
            "--data-dir",
            folder.to_str().unwrap(),
            "--database-url",
            &url,
        ];
        args.extend_from_slice(extra);
        env.run(&args)
    }
}

/// `dpipe serve` on `folder` over `database`, without managed storage.
fn serve(folder: &Path, database: &TestDatabase) -> ServeProcess {
    ServeProcess::start(folder, &["--no-storage", "--database-url", &database.url()])
}

/// A new user registered through `server`: its client there, and the token.
fn register(server: &ServeProcess, name: &str) -> (HttpApi, String) {
    let anonymous = HttpApi::new(&server.url, None).unwrap();
    let token = anonymous
        .register(
            name,
            &format!("{name}@example.com"),
            "correct horse battery",
        )
        .unwrap()
        .token;
    (
        HttpApi::new(&server.url, Some(token.clone())).unwrap(),
        token,
    )
}

/// A client of `server` with `token`.
fn client(server: &ServeProcess, token: &str) -> HttpApi {
    HttpApi::new(&server.url, Some(token.to_string())).unwrap()
}

/// An S3 pipe with inline credentials whose secret is `secret`.
fn pipe_with_secret(name: &str, secret: &str) -> Value {
    json!({
        "name": name,
        "protocol": "s3",
        "location": "test-bucket",
        "credentials": {"aws_access_key_id": "AKID", "aws_secret_access_key": secret},
    })
}

/// The secret `api` reads for pipe `name`.
fn secret_of(api: &HttpApi, name: &str) -> Result<String, dpipe_client::Error> {
    api.credentials(name, Access::Read).map(|c| {
        c["aws_secret_access_key"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    })
}

#[test]
fn concurrent_creates_of_one_name_give_one_winner_and_one_unique_error() {
    let pair = Pair::start();
    let (_, token) = register(&pair.a, "owner");
    for round in 0..5 {
        let name = format!("race-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let attempts: Vec<_> = [&pair.a, &pair.b]
            .into_iter()
            .map(|server| {
                let (api, barrier, name) = (client(server, &token), barrier.clone(), name.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    api.create_pipe(&pipe_with_secret(&name, "s"))
                })
            })
            .collect();
        let outcomes: Vec<_> = attempts.into_iter().map(|t| t.join().unwrap()).collect();
        let won = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {outcomes:?}");
        let lost = outcomes.iter().find_map(|o| o.as_ref().err()).unwrap();
        assert_eq!(lost.kind(), ErrorKind::Invalid, "{lost:?}");
        assert_eq!(lost.field(), Some("name"), "{lost:?}");
        assert!(lost.message().contains("unique"), "{lost:?}");
    }
    let names = |server| {
        let mut names: Vec<String> = client(server, &token)
            .list_pipes()
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&pair.a), names(&pair.b));
    assert_eq!(names(&pair.a).len(), 5);
}

#[test]
fn a_token_from_one_works_on_the_other_and_login_gives_the_same_token() {
    let pair = Pair::start();
    let (_, token) = register(&pair.a, "ann");
    assert_eq!(
        client(&pair.b, &token)
            .whoami()
            .unwrap()
            .username
            .as_deref(),
        Some("ann")
    );
    for server in [&pair.a, &pair.b] {
        let login = HttpApi::new(&server.url, None)
            .unwrap()
            .login("ann", "correct horse battery")
            .unwrap();
        assert_eq!(
            login.token, token,
            "d6tpipe expects login to return the same token"
        );
    }
    // A wrong token is refused by both alike.
    for server in [&pair.a, &pair.b] {
        let refused = client(server, &"0".repeat(40)).whoami().unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Unauthenticated, "{refused:?}");
    }
}

#[test]
fn concurrent_grants_revokes_and_updates_through_both_lose_nothing() {
    let pair = Pair::start();
    let (owner, token) = register(&pair.a, "owner");
    owner.create_pipe(&pipe_with_secret("shared", "s")).unwrap();
    let users: Vec<String> = (0..12).map(|i| format!("user{i}")).collect();
    for user in &users {
        register(&pair.b, user);
    }
    // Each user's grant goes through a fixed sequence of changes alternating between the
    // servers; users are handled in parallel, so writes to the grants table interleave.
    let sequences = [
        vec!["read"],
        vec!["read", "write"],
        vec!["write", "revoke"],
        vec!["read", "revoke", "admin"],
    ];
    let workers: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, user)| {
            let steps = sequences[i % sequences.len()].clone();
            let apis = [client(&pair.a, &token), client(&pair.b, &token)];
            let user = user.clone();
            std::thread::spawn(move || {
                for (step, role) in steps.iter().enumerate() {
                    apis[(i + step) % 2]
                        .grant("shared", &json!({"username": user, "role": role}))
                        .unwrap_or_else(|e| panic!("{user} {role}: {e:?}"));
                }
                (user, *steps.last().unwrap())
            })
        })
        .collect();
    let expected: Vec<(String, &str)> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    for server in [&pair.a, &pair.b] {
        let grants = client(server, &token).list_grants("shared").unwrap();
        for (user, last) in &expected {
            let found = grants
                .iter()
                .find(|g| g.username.as_deref() == Some(user.as_str()));
            match *last {
                "revoke" => assert!(found.is_none(), "{user} was revoked: {grants:?}"),
                role => assert_eq!(
                    found.map(|g| g.role.as_str()),
                    Some(role),
                    "{user}: {grants:?}"
                ),
            }
        }
    }
    // Concurrent updates of one pipe through both: each answer is whole, and the final
    // state is one of them, the same on both servers.
    let updates: Vec<_> = (0..8)
        .map(|i| {
            let api = client([&pair.a, &pair.b][i % 2], &token);
            std::thread::spawn(move || {
                api.update_pipe(
                    "shared",
                    &json!({"options": {"dir": format!("v{i}")}}),
                    UpdateMode::Partial,
                )
                .unwrap()
            })
        })
        .collect();
    let written: Vec<String> = updates
        .into_iter()
        .map(|u| {
            u.join().unwrap().options["dir"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let on_a = client(&pair.a, &token).get_pipe("shared").unwrap().options;
    let on_b = client(&pair.b, &token).get_pipe("shared").unwrap().options;
    assert_eq!(on_a, on_b);
    assert!(
        written.contains(&on_a["dir"].as_str().unwrap().to_string()),
        "{on_a:?}"
    );
}

#[test]
fn credentials_survive_a_key_rotation_run_while_both_serve() {
    let mut pair = Pair::start();
    let (owner_a, token) = register(&pair.a, "owner");
    let owner_b = client(&pair.b, &token);
    owner_a
        .create_pipe(&pipe_with_secret("from-a", "secret-a"))
        .unwrap();
    owner_b
        .create_pipe(&pipe_with_secret("from-b", "secret-b"))
        .unwrap();
    for api in [&owner_a, &owner_b] {
        assert_eq!(secret_of(api, "from-a").unwrap(), "secret-a");
        assert_eq!(secret_of(api, "from-b").unwrap(), "secret-b");
    }

    // Step one, run on A's host: A's ring file gets the new key first, the database seals with
    // it. A re-reads its file and goes on; B, whose ring lacks the key, says so and changes
    // nothing.
    let rotated = pair.rotate(&[]);
    assert_eq!(rotated.code, 0, "{rotated:?}");
    assert!(rotated.stderr.contains("--finish"), "{rotated:?}");
    assert_eq!(secret_of(&owner_a, "from-b").unwrap(), "secret-b");
    owner_a
        .create_pipe(&pipe_with_secret("after-a", "secret-c"))
        .unwrap();
    let refused = secret_of(&owner_b, "from-a").unwrap_err();
    assert!(
        refused.message().contains("older than the database's"),
        "{refused:?}"
    );
    let refused = owner_b
        .create_pipe(&pipe_with_secret("refused-b", "never"))
        .unwrap_err();
    assert!(
        refused.message().contains("give it the new key ring"),
        "{refused:?}"
    );
    assert!(
        owner_a.get_pipe("refused-b").is_err(),
        "nothing was written"
    );
    assert!(pair.b.log().contains("give this server the new key ring"));

    // The operator gives B the new ring; B picks it up without a restart.
    std::fs::copy(
        pair.folder("a").join("credentials.key"),
        pair.folder("b").join("credentials.key"),
    )
    .unwrap();
    owner_b
        .create_pipe(&pipe_with_secret("after-b", "secret-d"))
        .unwrap();
    let all = [
        ("from-a", "secret-a"),
        ("from-b", "secret-b"),
        ("after-a", "secret-c"),
        ("after-b", "secret-d"),
    ];
    for api in [&owner_a, &owner_b] {
        for (pipe, secret) in all {
            assert_eq!(secret_of(api, pipe).unwrap(), secret, "{pipe}");
        }
    }

    // Step two drops the old key from the ring file; B gets the trimmed file too.
    let finished = pair.rotate(&["--finish"]);
    assert_eq!(finished.code, 0, "{finished:?}");
    let ring = std::fs::read_to_string(pair.folder("a").join("credentials.key")).unwrap();
    assert_eq!(
        ring.lines().filter(|l| !l.starts_with('#')).count(),
        1,
        "{ring}"
    );
    std::fs::copy(
        pair.folder("a").join("credentials.key"),
        pair.folder("b").join("credentials.key"),
    )
    .unwrap();
    // Restarted with only the new key, both still read everything: nothing is left sealed
    // with the dropped key.
    pair.a.signal_and_wait("-TERM");
    pair.b.signal_and_wait("-TERM");
    pair.a = serve(&pair.folder("a"), &pair.database);
    pair.b = serve(&pair.folder("b"), &pair.database);
    let (owner_a, owner_b) = (client(&pair.a, &token), client(&pair.b, &token));
    owner_b
        .create_pipe(&pipe_with_secret("late-b", "secret-e"))
        .unwrap();
    for api in [&owner_a, &owner_b] {
        for (pipe, secret) in all.into_iter().chain([("late-b", "secret-e")]) {
            assert_eq!(secret_of(api, pipe).unwrap(), secret, "{pipe}");
        }
    }
}

#[test]
fn finishing_with_a_stale_ring_is_refused_and_changes_nothing() {
    let pair = Pair::start();
    // --finish before any rotation is harmless: the ring's first key is the database's.
    let finished = pair.rotate(&["--finish"]);
    assert_eq!(finished.code, 0, "{finished:?}");
    let rotated = pair.rotate(&[]);
    assert_eq!(rotated.code, 0, "{rotated:?}");
    // B's ring is the old one: finishing with it would seal everything with a dropped key.
    let env = crate::support::Env::new();
    let stale = env.run(&[
        "serve",
        "rotate-key",
        "--finish",
        "--data-dir",
        pair.folder("b").to_str().unwrap(),
        "--database-url",
        &pair.database.url(),
    ]);
    assert_ne!(stale.code, 0, "{stale:?}");
    assert!(
        stale
            .stderr
            .contains("is not the key the database seals with"),
        "{stale:?}"
    );
    assert_eq!(
        std::fs::read_to_string(pair.folder("b").join("credentials.key"))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count(),
        1,
        "B's ring file is untouched"
    );
}

#[test]
fn a_server_with_another_key_ring_refuses_to_start() {
    let pair = Pair::start();
    let (owner, _) = register(&pair.a, "owner");
    owner.create_pipe(&pipe_with_secret("p", "s")).unwrap();
    // The same server key, but a key ring of its own (made at its first start).
    let (_, stderr) = refused_with_only_a_copy_of(&pair, "server.key");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.contains("give every server sharing the database the same key ring"),
        "{stderr}"
    );
}

/// Starts a third server on the pair's database in a new folder `c` holding only A's file
/// `file` (its other key made at its first start); it must refuse. Returns the folder and the
/// server's stderr.
fn refused_with_only_a_copy_of(pair: &Pair, file: &str) -> (std::path::PathBuf, String) {
    let other = pair.folder("c");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(pair.folder("a").join(file), other.join(file)).unwrap();
    let (code, stderr) = ServeProcess::refused(
        &other,
        &["--no-storage", "--database-url", &pair.database.url()],
        &[],
    );
    assert_ne!(code, 0, "a server with another {file} started: {stderr}");
    (other, stderr)
}

#[test]
fn a_bad_or_unreachable_database_url_is_one_clear_line_and_creates_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let folder = temp.path().join("never");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = format!("postgres://dpipe:hunter2@127.0.0.1:{port}/dpipe");
    for (url, expected) in [
        ("mysql://127.0.0.1/dpipe", "postgres://"),
        ("postgres://127.0.0.1:notaport/db", "not valid"),
        (unreachable.as_str(), "127.0.0.1"),
    ] {
        let (code, stderr) =
            ServeProcess::refused(&folder, &["--no-storage", "--database-url", url], &[]);
        assert_ne!(code, 0, "{url}");
        assert!(stderr.contains(expected), "{url}: {stderr}");
        assert!(stderr.contains("repo database"), "{url}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "the password is never shown: {stderr}"
        );
        assert_eq!(stderr.trim().lines().count(), 1, "one clear line: {stderr}");
        assert!(!folder.exists(), "{url}: nothing created");
    }
}

#[test]
fn a_server_with_another_server_key_refuses_to_start() {
    let pair = Pair::start();
    let (_, token) = register(&pair.a, "owner");
    // The same key ring, but a server key of its own: its logins would hand out tokens no
    // server accepts, so it does not start.
    let (other, stderr) = refused_with_only_a_copy_of(&pair, "credentials.key");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.contains("give every server the same server key"),
        "{stderr}"
    );
    // With the shared key given as a file it starts, and the token works there too.
    let key_file = pair.folder("a").join("server.key");
    let c = ServeProcess::start(
        &other,
        &[
            "--no-storage",
            "--database-url",
            &pair.database.url(),
            "--server-key-file",
            key_file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        client(&c, &token).whoami().unwrap().username.as_deref(),
        Some("owner")
    );
}
