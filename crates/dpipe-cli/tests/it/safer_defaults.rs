//! Safer defaults (issue 14 item 10) as a user meets them: a short password is refused at
//! register, a grant that would already have expired is refused before anything is sent, and
//! a settings file with a mistyped key is refused with the key it probably meant. Each wrong
//! call exits 2 and changes nothing.

use chrono::{Days, Utc};
use dpipe_client::HttpApi;
use dpipe_testkit::server::TestServer;
use serde_json::json;

use crate::support::{Env, local_profile, server_user};

#[test]
fn register_refuses_passwords_shorter_than_eight_characters() {
    let server = TestServer::start();
    let env = Env::new();
    env.ok(&["profile", "init", "srv", "--server", &server.url]);
    let register = |password: &str| {
        env.run(&[
            "register",
            "--username",
            "ann",
            "--email",
            "ann@example.com",
            "--password",
            password,
        ])
    };
    for short in ["1234567", "pw"] {
        let run = register(short);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains("at least 8 characters"), "{run:?}");
        assert!(
            !run.stderr.contains(short),
            "the password is echoed: {run:?}"
        );
    }
    let anonymous = HttpApi::new(&server.url, None).unwrap();
    assert!(
        anonymous.login("ann", "1234567").is_err(),
        "a refused registration made no account"
    );
    assert_eq!(register("12345678").code, 0);
    assert_eq!(env.json(&["whoami"])["username"], "ann");
}

#[test]
fn perm_grant_refuses_an_expiry_in_the_past_and_sends_nothing() {
    let env = Env::new();
    local_profile(&env);
    env.ok(&[
        "pipe",
        "create",
        "--name",
        "shared",
        "--protocol",
        "fs",
        "--location",
        "/srv/data",
    ]);
    let today = Utc::now().date_naive();
    let yesterday = today.checked_sub_days(Days::new(1)).unwrap().to_string();
    let grant = |expires: &str| {
        env.run(&[
            "perm",
            "grant",
            "shared",
            "--email",
            "bob@example.com",
            "--role",
            "read",
            "--expires",
            expires,
        ])
    };
    for expires in [yesterday.as_str(), "2020-01-01"] {
        let run = grant(expires);
        assert_eq!(run.code, 2, "{expires}: {run:?}");
        let expected = format!(
            "--expires {expires} is in the past (today is {today}, UTC): the grant would give no access"
        );
        assert!(run.stderr.contains(&expected), "{expires}: {run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
    }
    assert_eq!(
        env.json(&["audit", "shared", "--action", "grant.set"]),
        json!([]),
        "nothing reached the registry, not even as a refused attempt"
    );
    // A text that is not a date is the API's to judge; it names the format.
    for expires in ["31/12/2030", "2030-02-30"] {
        let run = grant(expires);
        assert_eq!(run.code, 2, "{expires}: {run:?}");
        assert!(
            run.stderr.contains("Date has wrong format"),
            "{expires}: {run:?}"
        );
    }
    assert_eq!(env.json(&["perm", "list", "shared"]), json!([]));
    // Today is the last day of access: still a grant that gives access.
    let run = grant(&today.to_string());
    assert_eq!(run.code, 0, "{run:?}");
    let grants = env.json(&["perm", "list", "shared"]);
    assert_eq!(grants[0]["expiration_date"], today.to_string());
}

/// The repo API still takes a past date (d6tpipe's own tests grant with one and expect no
/// access): only the CLI refuses it.
#[test]
fn the_api_still_accepts_a_past_expiry() {
    let server = TestServer::start();
    let owner = server_user(&server.url, "owner");
    server_user(&server.url, "bob");
    owner.ok(&[
        "pipe",
        "create",
        "--name",
        "old",
        "--protocol",
        "fs",
        "--location",
        "/srv/data",
    ]);
    let token = owner.ok(&["token", "get"]);
    let api = HttpApi::new(&server.url, Some(token.trim().to_string())).unwrap();
    let grant = dpipe_client::RepoApi::grant(
        &api,
        "old",
        &json!({"username": "bob", "role": "read", "expiration_date": "2020-01-01"}),
    )
    .unwrap();
    assert_eq!(grant.expiration_date.as_deref(), Some("2020-01-01"));
}

#[test]
fn a_settings_file_with_an_unknown_key_is_refused_with_the_known_one() {
    let env = Env::new();
    local_profile(&env);
    let file = env.file(
        "settings.yaml",
        "vendor:\n  protocl: fs\n  location: /srv/vendor\nkid:\n  parent: vendor\n  optons: {dir: a}\n",
        0o600,
    );
    let file = file.to_str().unwrap();
    let expected = format!("{file}: protocl: unknown setting; did you mean protocol?");
    env.fails(
        &["remote", "upsert", "--file", file, "--key", "vendor"],
        2,
        &expected,
    );
    env.fails(
        &["pipe", "upsert", "--file", file, "--key", "vendor"],
        2,
        &expected,
    );
    env.fails(
        &["pipe", "create", "--file", file, "--key", "kid"],
        2,
        "optons: unknown setting; did you mean options?",
    );
    assert_eq!(env.json(&["remote", "list"]), json!([]));
    assert_eq!(env.json(&["pipe", "list"]), json!([]));
}
