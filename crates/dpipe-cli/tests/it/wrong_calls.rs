//! Wrong calls: each gets its exit code and a message that says what is wrong, and no failing
//! mutation changes anything (the lists are compared before and after).

use serde_json::Value;

use crate::support::Env;

/// Everything a failed call could have changed in local mode.
fn snapshot(env: &Env) -> (Value, Value, Value) {
    (
        env.json(&["pipe", "list"]),
        env.json(&["remote", "list"]),
        env.json(&["perm", "list", "base"]),
    )
}

#[test]
fn wrong_calls_in_local_mode_change_nothing() {
    let env = Env::new();
    env.ok(&["profile", "init", "lap", "--local"]);
    let location = env.path().join("storage").display().to_string();
    env.ok(&[
        "remote",
        "upsert",
        "--name",
        "store",
        "--protocol",
        "fs",
        "--location",
        &location,
    ]);
    env.ok(&["pipe", "create", "--name", "base", "--remote", "store"]);
    env.ok(&[
        "perm",
        "grant",
        "base",
        "--email",
        "x@example.com",
        "--role",
        "read",
    ]);
    let yaml = env.file(
        "settings.yaml",
        "one:\n  protocol: fs\n  location: /srv/one\n",
        0o600,
    );
    let yaml = yaml.to_str().unwrap();
    let broken = env.file("broken.yaml", "one:\n  protocol: [fs\n", 0o600);
    let broken = broken.to_str().unwrap();
    let before = snapshot(&env);

    let cases: &[(&[&str], i32, &str)] = &[
        // Refused by the registry (400).
        (
            &["pipe", "create", "--name", "$bad", "--remote", "store"],
            2,
            "alphanumeric",
        ),
        (
            &["pipe", "upsert", "--name", "bad name", "--remote", "store"],
            2,
            "alphanumeric",
        ),
        (
            &["pipe", "create", "--name", "base", "--remote", "store"],
            2,
            "unique",
        ),
        (
            &["pipe", "create", "--name", "kid", "--parent", "nope"],
            2,
            "does not exist",
        ),
        (
            &["pipe", "upsert", "--name", "base", "--dir", "C:\\data"],
            2,
            "Paths",
        ),
        (
            &[
                "pipe",
                "create",
                "--name",
                "p2",
                "--protocol",
                "gopher",
                "--location",
                "/x",
            ],
            2,
            "protocol",
        ),
        (
            &[
                "pipe",
                "create",
                "--name",
                "p2",
                "--protocol",
                "s3",
                "--location",
                "bkt",
                "--read-credential",
                "k=v",
            ],
            2,
            "aws_access_key_id",
        ),
        (
            &[
                "pipe",
                "create",
                "--name",
                "p2",
                "--protocol",
                "s3",
                "--location",
                "bkt",
                "--read-credential",
                "aws_access_key_id=A",
                "--read-credential",
                "aws_secret_access_key=B",
            ],
            2,
            "\"write\" is missing",
        ),
        (
            &["remote", "delete", "store", "--apply"],
            2,
            "used by pipes base",
        ),
        (
            &["perm", "grant", "base", "--user", "ghost", "--role", "read"],
            3,
            "user ghost not found",
        ),
        (
            &[
                "perm",
                "grant",
                "base",
                "--email",
                "y@example.com",
                "--role",
                "read",
                "--expires",
                "tomorrow",
            ],
            2,
            "expiration_date",
        ),
        // Settings files.
        (
            &["remote", "upsert", "--file", yaml, "--key", "two"],
            2,
            "no entry \"two\"",
        ),
        (
            &["remote", "upsert", "--file", broken, "--key", "one"],
            2,
            "not valid YAML",
        ),
        (
            &["pipe", "create", "--file", "/nonexistent/s.yaml"],
            2,
            "/nonexistent/s.yaml",
        ),
        // Caught by the argument parser.
        (&["remote", "upsert", "--key", "one"], 2, "--file"),
        (
            &[
                "pipe",
                "create",
                "--name",
                "p3",
                "--credential",
                "a=b",
                "--read-credential",
                "c=d",
            ],
            2,
            "cannot be used with",
        ),
        (
            &["pipe", "create", "--name", "p3", "--setting", "novalue"],
            2,
            "KEY=VALUE",
        ),
        (
            &["pipe", "create", "--name", "p3", "--schema", "[1]"],
            2,
            "JSON object",
        ),
        (
            &[
                "pipe", "create", "--name", "p3", "--remote", "store", "--parent", "base",
            ],
            2,
            "cannot be used with",
        ),
        (&["perm", "grant", "base", "--role", "read"], 2, "--user"),
        (
            &[
                "perm", "grant", "base", "--user", "u", "--public", "--role", "read",
            ],
            2,
            "cannot be used with",
        ),
        (
            &["perm", "grant", "base", "--user", "u", "--role", "owner"],
            2,
            "owner",
        ),
        (&["pipe", "frobnicate"], 2, "unrecognized subcommand"),
        // Missing things (404).
        (&["pipe", "show", "nope"], 3, "pipe nope not found"),
        (&["pipe", "delete", "nope"], 3, "pipe nope not found"),
        (&["remote", "show", "nope"], 3, "Not found"),
        (&["remote", "delete", "nope"], 3, "Not found"),
        (
            &["perm", "grant", "nope", "--public", "--role", "read"],
            3,
            "pipe nope not found",
        ),
        (&["perm", "list", "nope"], 3, "pipe nope not found"),
    ];
    for (args, code, expected) in cases {
        env.fails(args, *code, expected);
        assert_eq!(snapshot(&env), before, "dpipe {args:?} changed something");
    }
}

#[test]
fn leaky_credentials_are_warned_about() {
    let env = Env::new();
    env.ok(&["profile", "init", "lap", "--local"]);
    let run = env.run(&[
        "remote",
        "upsert",
        "--name",
        "r1",
        "--protocol",
        "s3",
        "--location",
        "bkt",
        "--credential",
        "key=AAA",
        "--credential",
        "secret=BBB",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("shell history"), "{run:?}");
    let creds = "r2:\n  protocol: s3\n  location: bkt\n  credentials: {key: AAA, secret: BBB}\n";
    let open = env.file("open.yaml", creds, 0o644);
    let run = env.run(&["remote", "upsert", "--file", open.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("other users can read it") && run.stderr.contains("chmod 600"),
        "{run:?}"
    );
    let closed = env.file("closed.yaml", creds, 0o600);
    let run = env.run(&["remote", "upsert", "--file", closed.to_str().unwrap()]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert!(!run.stdout.contains("BBB"), "{run:?}");
}

#[test]
fn an_unreachable_server_is_exit_code_5() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The listener is dropped at once, so nothing listens on the port.
    env.ok(&[
        "profile",
        "init",
        "gone",
        "--server",
        &format!("http://127.0.0.1:{port}"),
    ]);
    env.ok(&["token", "set", "0123456789abcdef0123456789abcdef01234567"]);
    env.fails(&["pipe", "list"], 5, "cannot reach the repo API");
    env.fails(&["whoami"], 5, "cannot reach");
    env.fails(
        &["login", "--username", "u", "--password", "p"],
        5,
        "cannot reach",
    );
    env.fails(&["token", "set", "has space"], 2, "spaces");
}
