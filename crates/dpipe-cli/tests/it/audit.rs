//! `dpipe audit` in local mode and against a server, and the exit code of a login refused
//! after too many failures.

use dpipe_testkit::server::TestServer;

use crate::support::Env;

#[test]
fn audit_lists_a_pipes_trail_newest_first() {
    let env = Env::new();
    env.ok(&["profile", "init", "lap", "--local"]);
    env.ok(&[
        "pipe",
        "create",
        "--name",
        "logged",
        "--protocol",
        "s3",
        "--location",
        "audit-bucket",
        "--credential",
        "aws_access_key_id=AKIDCLICANARY",
        "--credential",
        "aws_secret_access_key=cli-secret-canary",
    ]);
    env.ok(&["pipe", "upsert", "--name", "logged", "--include", "*.csv"]);
    env.ok(&[
        "perm",
        "grant",
        "logged",
        "--email",
        "x@example.com",
        "--role",
        "read",
    ]);

    let table = env.ok(&["audit", "--pipe", "logged"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("WHEN") && lines[0].ends_with("OUTCOME"),
        "{table}"
    );
    for (line, action) in lines[1..].iter().zip([
        "grant.set x@example.com (read)",
        "pipe.update",
        "pipe.create",
    ]) {
        assert!(line.contains(" tester "), "{line}");
        assert!(line.contains(action), "{line} lacks {action}");
        assert!(line.ends_with(" allowed"), "{line}");
    }
    let events = env.json(&["audit", "--pipe", "logged"]);
    assert_eq!(events[2]["action"], "pipe.create");
    assert_eq!(events[2]["outcome"], "allowed");
    for out in [table, events.to_string()] {
        assert!(!out.contains("CANARY") && !out.contains("canary"), "{out}");
    }
    env.fails(&["audit", "--pipe", "nothing"], 3, "pipe nothing not found");
    env.fails(&["audit"], 2, "--pipe");
}

#[test]
fn audit_is_refused_to_others_and_logins_to_guessers() {
    let server = TestServer::start();
    let owner = Env::new();
    owner.ok(&["profile", "init", "srv", "--server", &server.url]);
    let register = |env: &Env, name: &str| {
        let email = format!("{name}@example.com");
        let args = ["register", "--username", name, "--email", &email];
        let run = env.run_with(&args, &[("DPIPE_PASSWORD", "right-pw")]);
        assert_eq!(run.code, 0, "{run:?}");
    };
    register(&owner, "owner");
    owner.ok(&[
        "pipe",
        "create",
        "--name",
        "mine",
        "--protocol",
        "fs",
        "--location",
        "/srv/data",
    ]);
    let other = Env::new();
    other.ok(&["profile", "init", "srv", "--server", &server.url]);
    register(&other, "other");
    other.fails(&["audit", "--pipe", "mine"], 4, "permission");
    assert!(
        owner
            .ok(&["audit", "--pipe", "mine"])
            .contains("pipe.create")
    );

    for _ in 0..5 {
        let run = other.run_with(
            &["login", "--username", "owner"],
            &[("DPIPE_PASSWORD", "wrong-pw")],
        );
        assert_eq!(run.code, 4, "{run:?}");
    }
    let run = other.run_with(
        &["login", "--username", "owner"],
        &[("DPIPE_PASSWORD", "right-pw")],
    );
    assert_eq!(run.code, 4, "{run:?}");
    assert!(
        run.stderr
            .contains("Too many failed logins; try again in 900 seconds."),
        "{run:?}"
    );
}
