//! `dpipe audit` in local mode and against a server — its filters and the collapsing of
//! repeated credential reads — and the exit code of a login refused after too many failures.

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
            .contains("Too many failed logins; try again in 1 second."),
        "{run:?}"
    );
}

/// `dpipe audit PIPE` (or `--pipe PIPE`) with `--since`, `--user` and `--action`, judged by
/// the server; the table collapses a user's credential reads within a minute into one line
/// with a count, `--json` lists every matching event.
#[test]
fn audit_filters_and_collapses_repeated_reads() {
    use chrono::{Days, Utc};
    use dpipe_client::{HttpApi, RepoApi as _};
    use dpipe_core::role::Access;

    let server = TestServer::start();
    let owner = crate::support::server_user(&server.url, "owner");
    crate::support::server_user(&server.url, "reader");
    owner.ok(&[
        "pipe",
        "create",
        "--name",
        "busy",
        "--protocol",
        "fs",
        "--location",
        "/srv/busy",
    ]);
    owner.ok(&[
        "perm", "grant", "busy", "--user", "reader", "--role", "read",
    ]);
    let token = |env: &Env| Some(env.ok(&["token", "get"]).trim().to_string());
    let owner_api = HttpApi::new(&server.url, token(&owner)).unwrap();
    let reader_login = HttpApi::new(&server.url, None)
        .unwrap()
        .login("reader", "pw-reader-long")
        .unwrap();
    let reader_api = HttpApi::new(&server.url, Some(reader_login.token)).unwrap();

    // Ten days ago: one read; today: twelve reads by the reader, one by the owner.
    let today = Utc::now().date_naive();
    server
        .clock
        .set(today.checked_sub_days(Days::new(10)).unwrap());
    reader_api.credentials("busy", Access::Read).unwrap();
    server.clock.set(today);
    for _ in 0..12 {
        reader_api.credentials("busy", Access::Read).unwrap();
    }
    owner_api.credentials("busy", Access::Read).unwrap();

    let table = owner.ok(&["audit", "busy"]);
    let reads: Vec<&str> = table
        .lines()
        .filter(|l| l.contains("credentials.read"))
        .collect();
    assert_eq!(reads.len(), 3, "{table}");
    assert!(
        reads[0].contains(" owner ") && reads[0].contains("credentials.read "),
        "{table}"
    );
    assert!(
        reads[1].contains(" reader ") && reads[1].contains("credentials.read \u{d7}12"),
        "{table}"
    );
    assert!(!reads[2].contains('\u{d7}'), "ten days apart: {table}");

    let count = |args: &[&str]| {
        let all = [&["audit", "busy"], args].concat();
        owner.json(&all).as_array().unwrap().len()
    };
    assert_eq!(
        count(&[]),
        16,
        "--json is exact: 14 reads, a grant, a create"
    );
    assert_eq!(count(&["--user", "reader"]), 13);
    assert_eq!(count(&["--since", "3d", "--user", "reader"]), 12);
    // The pipe and its grant were made at the server clock's start: today, midnight.
    assert_eq!(count(&["--since", &today.to_string()]), 15);
    assert_eq!(count(&["--action", "grant.set"]), 1);
    assert_eq!(
        count(&[
            "--action",
            "credentials.read",
            "--user",
            "owner",
            "--since",
            "1w"
        ]),
        1
    );
    assert_eq!(
        owner.json(&["audit", "--pipe", "busy", "--action", "grant.set"])[0]["grantee"],
        "reader",
        "--pipe is kept as an alias"
    );
    let run = owner.run(&["audit", "busy", "--user", "nobody"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains("No audit events of pipe busy match."),
        "{run:?}"
    );

    // Wrong calls: exit 2, naming what is expected.
    let stderr = owner.fails(
        &["audit", "busy", "--action", "credentials.steal"],
        2,
        "credentials.read",
    );
    for action in [
        "credentials.write",
        "grant.set",
        "grant.revoke",
        "pipe.create",
        "pipe.update",
        "pipe.delete",
    ] {
        assert!(stderr.contains(action), "{stderr}");
    }
    for since in ["yesterday", "2h30", "-1d", "2026-13-01"] {
        owner.fails(
            &["audit", "busy", &format!("--since={since}")],
            2,
            &format!("--since {since}: give a date (YYYY-MM-DD)"),
        );
    }
    owner.fails(
        &["audit", "busy", "--pipe", "busy"],
        2,
        "cannot be used with",
    );
    owner.fails(&["audit", "busy", "--user"], 2, "--user");
}
