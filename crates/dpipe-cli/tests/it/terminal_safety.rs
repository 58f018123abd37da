//! Strings from storage and from other users never reach the terminal raw: object keys with
//! control and bidi characters planted in a folder remote and in S3, a README with escape
//! sequences, names and emails another user chose, and storage errors, checked in what `pull`,
//! `pull --preview`, `scan remote`, `status` and `files` print — on pipes and under a
//! pseudo-terminal, where the progress bar draws. `--json` keeps the exact strings.

use std::path::Path;

use dpipe_testkit::server::TestServer;
use dpipe_testkit::services::s3::S3Server;
use serde_json::Value;

use crate::support::{
    Env, Run, create_fs_pipe, create_s3_pipe, local_profile, on_terminal, server_user,
};

/// A key that recolours the terminal and sets its window title.
const TITLE_KEY: &str = "x\u{1b}[31mRED\u{1b}]0;TITLE\u{7}.txt";
/// How [`TITLE_KEY`] is shown.
const TITLE_SHOWN: &str = "x\\x1b[31mRED\\x1b]0;TITLE\\x07.txt";
/// A key with C0, DEL and C1 (CSI) controls.
const CONTROL_KEY: &str = "ctl\u{1}\u{7f}\u{9b}2J.txt";
const CONTROL_SHOWN: &str = "ctl\\x01\\x7f\\u{9b}2J.txt";
/// A key that a right-to-left override shows as `…exe.txt`, with other bidi controls.
const BIDI_KEY: &str = "invoice\u{202e}txt.exe\u{2066}\u{200f}";
const BIDI_SHOWN: &str = "invoice\\u{202e}txt.exe\\u{2066}\\u{200f}";
/// A key with a tab and a newline, which must not break a table row.
const LINES_KEY: &str = "two\tcells\nrow.txt";
const LINES_SHOWN: &str = "two\\tcells\\nrow.txt";

/// The planted keys and how each is shown.
const PLANTED: [(&str, &str); 4] = [
    (TITLE_KEY, TITLE_SHOWN),
    (CONTROL_KEY, CONTROL_SHOWN),
    (BIDI_KEY, BIDI_SHOWN),
    (LINES_KEY, LINES_SHOWN),
];

/// The first character in `text` that could steer a terminal or reorder what it shows; the
/// newlines and tabs of the output's own layout are allowed.
fn raw_unsafe(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

/// Both streams of `run` hold no raw control or bidi character.
fn assert_safe(what: &str, run: &Run) {
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        if let Some(c) = raw_unsafe(text) {
            panic!("{what}: raw {c:?} on {stream}: {run:?}");
        }
    }
}

/// `run` is safe and its stdout shows every planted key escaped, tabs and newlines within the
/// key included.
fn assert_keys_shown(what: &str, run: &Run) {
    assert_safe(what, run);
    for (_, shown) in PLANTED {
        assert!(
            run.stdout.contains(shown),
            "{what}: {shown} not on stdout: {run:?}"
        );
    }
}

/// Plants every key of [`PLANTED`] as a file under `root`, its content the key's index.
fn plant(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    for (i, (key, _)) in PLANTED.iter().enumerate() {
        std::fs::write(root.join(key), i.to_string()).unwrap();
    }
}

/// The paths listed under `field` (a JSON pointer to an array of objects with a `path`; `""`
/// for the whole document) of a JSON report.
fn paths(report: &Value, field: &str) -> Vec<String> {
    let mut paths: Vec<String> = report
        .pointer(field)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no {field} in {report}"))
        .iter()
        .map(|t| t["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    paths
}

/// The planted keys, sorted.
fn planted_keys() -> Vec<String> {
    let mut keys: Vec<String> = PLANTED.iter().map(|(k, _)| k.to_string()).collect();
    keys.sort();
    keys
}

/// Every command that lists keys, against pipe `p` of `env` whose storage holds [`PLANTED`].
fn check_listings(env: &Env) {
    let preview = env.run(&["pull", "p", "--preview"]);
    assert_eq!(preview.code, 0, "{preview:?}");
    assert_keys_shown("pull --preview", &preview);
    // One table row per key: header, four rows, the summary.
    assert_eq!(preview.stdout.lines().count(), 6, "{preview:?}");

    let scan = env.run(&["scan", "remote", "p"]);
    assert_eq!(scan.code, 0, "{scan:?}");
    assert_keys_shown("scan remote", &scan);
    assert_eq!(scan.stdout.lines().count(), 6, "{scan:?}");

    let status = env.run(&["status", "p"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert_keys_shown("status", &status);
    assert_eq!(status.stdout.lines().count(), 4, "{status:?}");

    let json = env.json(&["scan", "remote", "p"]);
    assert_eq!(
        paths(&json, "/files"),
        planted_keys(),
        "--json keeps the keys exact"
    );

    let pull = env.run(&["pull", "p"]);
    assert_eq!(pull.code, 0, "{pull:?}");
    assert_safe("pull", &pull);
    assert!(pull.stdout.contains("pulled 4 files"), "{pull:?}");

    let files = env.run(&["files", "p"]);
    assert_eq!(files.code, 0, "{files:?}");
    assert_keys_shown("files", &files);
    let json = env.json(&["files", "p"]);
    assert_eq!(
        paths(&json, ""),
        planted_keys(),
        "--json keeps the keys exact"
    );
}

#[test]
fn planted_keys_in_a_folder_remote_are_shown_escaped() {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    plant(&remote);
    create_fs_pipe(&env, &remote, &[]);
    check_listings(&env);
    for (i, (key, _)) in PLANTED.iter().enumerate() {
        let pulled = std::fs::read_to_string(repo.join("p").join(key)).unwrap();
        assert_eq!(pulled, i.to_string(), "the file keeps its exact name");
    }
}

#[test]
fn planted_keys_in_s3_are_shown_escaped_and_exact_in_json() {
    let server = S3Server::start();
    let bucket = server.create_bucket("safe-bucket");
    plant(&bucket.join("data"));
    let env = Env::new();
    local_profile(&env);
    create_s3_pipe(&env, &server, "safe-bucket");
    let preview = env.json(&["pull", "p", "--preview"]);
    assert_eq!(paths(&preview, "/plan/transfers"), planted_keys());
    check_listings(&env);
}

#[test]
fn refused_keys_are_shown_escaped() {
    let env = Env::new();
    local_profile(&env);
    let remote = env.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    // A backslash makes the key refused; the warning that names it is escaped too.
    std::fs::write(remote.join("..\\\u{1b}[31m\u{202e}evil.txt"), "x").unwrap();
    create_fs_pipe(&env, &remote, &[]);
    for (args, code) in [
        (&["pull", "p", "--preview"][..], 0),
        (&["pull", "p"], 1),
        (&["scan", "remote", "p"], 1),
        (&["status", "p"], 0),
    ] {
        let run = env.run(args);
        assert_eq!(run.code, code, "{args:?}: {run:?}");
        assert_safe(&format!("{args:?}"), &run);
        let text = format!("{}{}", run.stdout, run.stderr);
        assert!(text.contains("refused"), "{args:?}: {run:?}");
        assert!(text.contains("\\u{202e}evil.txt"), "{args:?}: {run:?}");
    }
}

#[test]
fn a_readme_with_escape_sequences_is_shown_escaped_at_the_first_pull() {
    let env = Env::new();
    local_profile(&env);
    let remote = env.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    let readme = "# Data\u{1b}]0;pwned\u{7}\n\tcolumns\u{1b}[2J\u{202e}\r\nend\u{9b}\n";
    std::fs::write(remote.join("README.md"), readme).unwrap();
    create_fs_pipe(&env, &remote, &[]);
    let pull = env.run(&["pull", "p"]);
    assert_eq!(pull.code, 0, "{pull:?}");
    assert_safe("pull", &pull);
    assert!(
        pull.stdout.contains(
            "===== README.md =====\n# Data\\x1b]0;pwned\\x07\n\tcolumns\\x1b[2J\\u{202e}\nend\\u{9b}\n"
        ),
        "the README keeps its lines and tabs: {pull:?}"
    );
    // With --json the README goes to stderr, escaped the same way.
    std::fs::remove_dir_all(env.path().join("repo")).unwrap();
    let pull = env.run(&["--json", "pull", "p"]);
    assert_eq!(pull.code, 0, "{pull:?}");
    assert_safe("pull --json", &pull);
    assert!(
        pull.stderr.contains("# Data\\x1b]0;pwned\\x07\n"),
        "{pull:?}"
    );
}

#[test]
fn names_emails_and_settings_from_other_users_are_shown_escaped() {
    let server = TestServer::start();
    let remote = tempfile::tempdir().unwrap();
    let ann = server_user(&server.url, "ann");
    create_fs_pipe(
        &ann,
        remote.path(),
        &["--exclude", "junk\u{1b}]0;TITLE\u{7}*"],
    );
    let bob = server_user(&server.url, "bob");
    ann.ok(&["perm", "grant", "p", "--user", "bob", "--role", "read"]);
    let show = bob.run(&["pipe", "show", "p"]);
    assert_eq!(show.code, 0, "{show:?}");
    assert_safe("pipe show", &show);
    assert!(show.stdout.contains("junk\\x1b]0;TITLE\\x07*"), "{show:?}");
    let json = bob.json(&["pipe", "show", "p"]);
    assert_eq!(json["options"]["exclude"], "junk\u{1b}]0;TITLE\u{7}*");
    // An invitation to an address that a right-to-left override disguises.
    let email = "exe.\u{202e}txt@example.com";
    let grant = ann.run(&["perm", "grant", "p", "--email", email, "--role", "read"]);
    assert_eq!(grant.code, 0, "{grant:?}");
    assert_safe("perm grant", &grant);
    assert!(
        grant.stdout.contains("exe.\\u{202e}txt@example.com"),
        "{grant:?}"
    );
    let list = ann.run(&["perm", "list", "p"]);
    assert_eq!(list.code, 0, "{list:?}");
    assert_safe("perm list", &list);
    assert!(
        list.stdout.contains("exe.\\u{202e}txt@example.com"),
        "{list:?}"
    );
    let json = ann.json(&["perm", "list", "p"]);
    let emails: Vec<&Value> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|g| &g["email"])
        .collect();
    assert!(
        emails.contains(&&Value::from(email)),
        "--json keeps the email exact: {json}"
    );
}

#[test]
fn a_storage_error_about_a_place_another_user_chose_is_shown_escaped() {
    let server = TestServer::start();
    let ann = server_user(&server.url, "ann");
    let missing = ann.path().join("gone\u{202e}txt.exe");
    create_fs_pipe(&ann, &missing, &[]);
    let bob = server_user(&server.url, "bob");
    ann.ok(&["perm", "grant", "p", "--user", "bob", "--role", "read"]);
    for args in [&["pull", "p"][..], &["scan", "remote", "p"]] {
        let run = bob.run_with(args, &[("RUST_LOG", "debug")]);
        assert_ne!(run.code, 0, "{args:?}: {run:?}");
        assert_safe(&format!("{args:?}"), &run);
        assert!(
            run.stderr.contains("gone\\u{202e}txt.exe"),
            "{args:?}: {run:?}"
        );
    }
}

#[test]
fn on_a_terminal_keys_and_progress_are_shown_escaped() {
    let env = Env::new();
    local_profile(&env);
    let remote = env.path().join("remote");
    plant(&remote);
    create_fs_pipe(&env, &remote, &[]);
    let shown = on_terminal(&env, "pull p", "");
    // The progress bar moves the cursor with escape sequences of its own; none of the keys'.
    for raw in [
        "\u{1b}[31m",
        "\u{1b}]0;",
        "\u{7}",
        "\u{1}",
        "\u{7f}",
        "\u{9b}",
        "\u{202e}",
    ] {
        assert!(
            !shown.contains(raw),
            "raw {raw:?} on the terminal: {shown:?}"
        );
    }
    assert!(
        shown.contains("1/4"),
        "the progress bar was drawn: {shown:?}"
    );
    assert!(shown.contains("pulled 4 files"), "{shown:?}");
    // Without a transfer no bar draws: nothing raw at all.
    std::fs::write(remote.join(TITLE_KEY), "changed").unwrap();
    for args in ["status p", "pull p --preview"] {
        let shown = on_terminal(&env, args, "");
        assert!(shown.contains(TITLE_SHOWN), "{args}: {shown:?}");
        assert_eq!(
            raw_unsafe(&shown.replace('\r', "")),
            None,
            "{args}: {shown:?}"
        );
    }
}
