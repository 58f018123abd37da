//! `dpipe profile ...`: creating, listing, showing and changing profiles, and the wrong calls
//! that must leave the profiles file as it was.

use serde_json::json;

use crate::support::Env;

#[test]
fn init_list_show_and_set() {
    let env = Env::new();
    env.ok(&[
        "profile",
        "init",
        "work",
        "--server",
        "http://127.0.0.1:9/",
        "--repo",
        "files/work",
    ]);
    env.ok(&["profile", "init", "lap", "--local"]);
    let list = env.json(&["profile", "list"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let lap = &list[0];
    let work = &list[1];
    assert_eq!(
        (lap["name"].as_str(), lap["default"].as_bool()),
        (Some("lap"), Some(false))
    );
    assert_eq!(
        work["server"], "http://127.0.0.1:9",
        "the first profile is the default, its URL trimmed"
    );
    assert_eq!(work["default"], true);
    assert_eq!(
        work["repo"],
        env.path().join("files/work").display().to_string(),
        "--repo is made absolute"
    );
    let home_files = env.path().join("dpipe/files/lap").display().to_string();
    assert_eq!(
        lap["repo"], home_files,
        "the default file folder is ~/dpipe/files/<profile>"
    );
    let table = env.ok(&["profile", "list"]);
    assert!(
        table.contains("work *") && table.contains("local mode"),
        "{table}"
    );

    // --profile, $DPIPE_PROFILE and the default all select.
    assert_eq!(env.json(&["profile", "show"])["name"], "work");
    assert_eq!(
        env.json(&["--profile", "lap", "profile", "show"])["name"],
        "lap"
    );
    let run = env.run_with(&["--json", "profile", "show"], &[("DPIPE_PROFILE", "lap")]);
    assert!(run.stdout.contains("\"lap\""), "{run:?}");
    assert_eq!(env.json(&["profile", "show", "lap"])["mode"], "local");

    env.ok(&["profile", "set", "default", "lap"]);
    assert_eq!(env.json(&["profile", "show"])["name"], "lap");
    env.ok(&["profile", "set", "db", "local.sqlite"]);
    env.ok(&["profile", "set", "email", "me@example.net"]);
    let lap = env.json(&["profile", "show"]);
    assert_eq!(
        lap["db"],
        env.path().join("local.sqlite").display().to_string()
    );
    assert_eq!(lap["email"], "me@example.net");
    // Switching modes drops the settings of the other mode.
    env.ok(&["profile", "set", "server", "https://pipe.example.com"]);
    let lap = env.json(&["profile", "show"]);
    assert_eq!(
        (lap["mode"].as_str(), lap["email"].clone()),
        (Some("server"), json!(null))
    );
    env.ok(&["--profile", "work", "profile", "set", "mode", "local"]);
    assert_eq!(env.json(&["profile", "show", "work"])["mode"], "local");
    let text = std::fs::read_to_string(env.config()).unwrap();
    assert!(
        text.contains("default = \"lap\"") && text.contains("[profiles.work]"),
        "{text}"
    );
}

#[test]
fn wrong_profile_calls_change_nothing() {
    let env = Env::new();
    env.fails(&["pipe", "list"], 2, "dpipe profile init");
    env.ok(&["profile", "init", "work", "--server", "http://127.0.0.1:9"]);
    let before = std::fs::read(env.config()).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["profile", "init", "work", "--local"], "already exists"),
        (&["profile", "init", "x", "--server", "ftp://h"], "http://"),
        (&["profile", "init", "a/b", "--local"], "profile name"),
        (&["profile", "init", "x"], "--server"),
        (
            &["profile", "init", "x", "--server", "http://h", "--local"],
            "cannot be used with",
        ),
        (
            &["profile", "set", "default", "ghost"],
            "no profile \"ghost\"",
        ),
        (
            &["profile", "set", "mode", "server"],
            "mode can only be \"local\"",
        ),
        (&["profile", "set", "username", "ann"], "local-mode setting"),
        (
            &["profile", "set", "colour", "red"],
            "invalid value 'colour'",
        ),
        (&["profile", "show", "ghost"], "no profile \"ghost\""),
        (
            &["--profile", "ghost", "pipe", "list"],
            "no profile \"ghost\"",
        ),
        (&["register", "--username", "u"], "--email"),
    ];
    for (args, expected) in cases {
        env.fails(args, 2, expected);
        assert_eq!(
            std::fs::read(env.config()).unwrap(),
            before,
            "dpipe {args:?} changed the profiles file"
        );
    }
    let run = env.run_with(&["pipe", "list"], &[("DPIPE_PROFILE", "ghost")]);
    assert!(
        run.code == 2 && run.stderr.contains("no profile \"ghost\""),
        "{run:?}"
    );

    env.ok(&["profile", "init", "lap", "--local"]);
    for args in [
        &[
            "register",
            "--username",
            "u",
            "--email",
            "u@example.com",
            "--password",
            "p",
        ][..],
        &["logout"],
        &["token", "get"],
    ] {
        env.fails(
            &[&["--profile", "lap"], args].concat(),
            2,
            "local mode has no accounts",
        );
    }
}

#[test]
fn a_broken_profiles_file_is_named() {
    let env = Env::new();
    std::fs::create_dir_all(env.config().parent().unwrap()).unwrap();
    let config = env.config().display().to_string();
    for text in [
        "default = [",
        "[profiles.a]\nserver = \"http://h\"\nmode = \"local\"\n",
        "[profiles.a]\nsrever = \"x\"\n",
    ] {
        std::fs::write(env.config(), text).unwrap();
        let stderr = env.fails(&["profile", "list"], 2, &config);
        assert!(stderr.contains("error:"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(env.config()).unwrap(),
            text,
            "nothing rewrote the file"
        );
    }
}
