//! What a newcomer meets (issue 14, items 4 and 5): an unreachable server named in words, and
//! a wrong pipe or user name named, with its exit code and the close names the caller can see.

use dpipe_testkit::moto::closed_port;
use dpipe_testkit::server::TestServer;

use crate::support::{Env, create_listed_pipe, server_user};

#[test]
fn an_unreachable_server_is_named_with_what_to_do() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}");
    let env = Env::new();
    env.ok(&["profile", "init", "srv", "--server", &url]);
    let token = "0123456789abcdef0123456789abcdef01234567";
    env.ok(&["token", "set", token]);
    let expected = format!(
        "cannot reach the repo API at http://127.0.0.1:{port}: connection refused \
         (is dpipe serve running? see dpipe profile show)"
    );
    for args in [
        &["pipe", "list"][..],
        &["whoami"],
        &["pull", "--pipe", "demo"],
        &["login", "--username", "ann", "--password", "pw-ann-long"],
        &[
            "register",
            "--username",
            "ann",
            "--email",
            "ann@example.com",
            "--password",
            "pw-ann-long",
        ],
    ] {
        let run = env.run(args);
        assert_eq!(run.code, 5, "dpipe {args:?}: {run:?}");
        assert!(run.stderr.contains(&expected), "dpipe {args:?}: {run:?}");
        assert!(!run.stderr.contains("url ()"), "{run:?}");
        assert!(!run.stderr.contains(token), "{run:?}");
        assert!(!run.stderr.contains("role="), "{run:?}");
        let errors: Vec<&str> = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("error"))
            .collect();
        assert_eq!(errors.len(), 1, "one error line: {run:?}");
        assert_eq!(
            run.stderr.matches("127.0.0.1").count(),
            1,
            "URL once: {run:?}"
        );
    }
}

#[test]
fn a_wrong_pipe_name_is_named_with_close_names() {
    let server = TestServer::start();
    let ann = server_user(&server.url, "ann");
    create_listed_pipe(&ann, "demo");
    let bob = server_user(&server.url, "bob");
    let commands: [&[&str]; 5] = [
        &["pull", "--pipe"],
        &["push", "--pipe"],
        &["status", "--pipe"],
        &["scan", "remote", "--pipe"],
        &["files", "--pipe"],
    ];
    for command in commands {
        let typo = [command, &["demoo"]].concat();
        let stderr = ann.fails(&typo, 3, "pipe demoo not found");
        assert!(stderr.contains("did you mean demo?"), "{typo:?}: {stderr}");
        // A common prefix is close too.
        let prefix = [command, &["dem"]].concat();
        let stderr = ann.fails(&prefix, 3, "pipe dem not found");
        assert!(
            stderr.contains("did you mean demo?"),
            "{prefix:?}: {stderr}"
        );
        // Nothing close: no suggestion.
        let far = [command, &["zzzzzz"]].concat();
        let stderr = ann.fails(&far, 3, "pipe zzzzzz not found");
        assert!(!stderr.contains("did you mean"), "{far:?}: {stderr}");
        // Only names the caller can see are suggested.
        let stderr = bob.fails(&typo, 3, "pipe demoo not found");
        assert!(!stderr.contains("did you mean"), "{typo:?}: {stderr}");
    }
}

#[test]
fn a_wrong_pipe_name_in_local_mode_is_named_too() {
    let env = Env::new();
    let store = env.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    crate::support::local_profile(&env);
    let location = store.to_str().unwrap();
    env.ok(&[
        "pipe",
        "create",
        "--name",
        "sales",
        "--protocol",
        "fs",
        "--location",
        location,
    ]);
    let stderr = env.fails(&["pull", "--pipe", "sale"], 3, "pipe sale not found");
    assert!(stderr.contains("did you mean sales?"), "{stderr}");
    let stderr = env.fails(&["files", "--pipe", "sale"], 3, "pipe sale not found");
    assert!(stderr.contains("did you mean sales?"), "{stderr}");
}

#[test]
fn a_wrong_password_is_denied_and_an_unknown_user_not_found() {
    let server = TestServer::start();
    let ann = server_user(&server.url, "ann");
    ann.fails(
        &["login", "--username", "ann", "--password", "wrong-password"],
        4,
        "Unable to log in",
    );
    create_listed_pipe(&ann, "demo");
    ann.fails(
        &[
            "perm", "grant", "demo", "--user", "nobody", "--role", "read",
        ],
        3,
        "nobody",
    );
}
