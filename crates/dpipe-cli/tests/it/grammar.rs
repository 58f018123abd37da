//! One command grammar: every command that takes a pipe takes it as its argument, with
//! `--pipe` kept as an alias (both at once, or neither, is a usage error); `--dry-run` wherever
//! `--preview` is; `status --exit-code`; `completions SHELL`; `profile init --local --db`; and
//! the rule of destructive commands: they show what they would do and act only with `--apply`
//! (or `--yes`), changing nothing otherwise. Local mode over an `fs` remote.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{Env, create_fs_pipe, local_profile, names, on_terminal};

/// Writes `files` (path, text) under `root`.
fn write_all(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A local-mode profile with an `fs` pipe `p` over `<home>/remote` holding two files, pulled
/// once; returns (the pipe's local folder, the remote folder).
fn pulled_pipe(env: &Env) -> (PathBuf, PathBuf) {
    let repo = local_profile(env);
    let remote = env.path().join("remote");
    write_all(&remote, &[("a.csv", "x,y\n1,2\n"), ("sub/b.txt", "bbbb")]);
    create_fs_pipe(env, &remote, &[]);
    env.ok(&["pull", "p"]);
    (repo.join("p"), remote)
}

#[test]
fn the_pipe_is_an_argument_or_a_flag_never_both() {
    let env = Env::new();
    let (local, _remote) = pulled_pipe(&env);
    // Each command, in the old form and the new: the same output.
    let commands: &[&[&str]] = &[
        &["status"],
        &["pull", "--preview"],
        &["push", "--preview"],
        &["scan", "remote"],
        &["scan", "local"],
        &["files"],
        &["reset"],
        &["remove-orphans", "both"],
        &["delete", "local"],
        &["pipe", "show"],
        &["perm", "list"],
    ];
    for command in commands {
        let positional = env.json(&[&command[..], &["p"]].concat());
        let flag = env.json(&[&command[..], &["--pipe", "p"]].concat());
        assert_eq!(positional, flag, "{command:?}");
        let both = [&command[..], &["p", "--pipe", "p"]].concat();
        env.fails(&both, 2, "cannot be used with");
        let stderr = env.fails(command, 2, "required");
        assert!(stderr.contains("PIPE"), "{command:?}: {stderr}");
    }
    // The pipe of `delete` and `remove-orphans` follows the side, as in `scan remote PIPE`.
    env.fails(&["delete", "p", "local"], 2, "invalid value 'p'");
    // Nothing above changed anything.
    assert!(local.join("a.csv").is_file() && local.join("sub/b.txt").is_file());
    assert_eq!(env.json(&["list", "local"])[0]["files"], 2);
}

#[test]
fn import_takes_the_pipe_first_or_as_a_flag() {
    let env = Env::new();
    let (local, _remote) = pulled_pipe(&env);
    let one = env.file("one.txt", "1", 0o644);
    let two = env.file("two.txt", "2", 0o644);
    env.ok(&["import", "p", one.to_str().unwrap()]);
    env.ok(&["import", "--pipe", "p", two.to_str().unwrap()]);
    assert!(local.join("one.txt").is_file() && local.join("two.txt").is_file());

    let three = env.file("three.txt", "3", 0o644);
    let three = three.to_str().unwrap();
    env.fails(
        &["import", "p"],
        2,
        "no file or folder to import into pipe p",
    );
    env.fails(&["import", "--pipe", "p"], 2, "required");
    env.fails(&["import"], 2, "required");
    // With --pipe every argument is a path: a pipe name among them is a missing file.
    env.fails(&["import", "--pipe", "p", "p", three], 1, "cannot read p");
    assert!(!local.join("three.txt").exists() && !local.join("p").exists());
    let help = env.ok(&["import", "--help"]);
    assert!(
        help.contains("dpipe import [OPTIONS] <PIPE> <PATH>...")
            && help.contains("dpipe import [OPTIONS] --pipe <PIPE> <PATH>..."),
        "{help}"
    );
}

#[test]
fn dry_run_is_preview_and_status_exit_code_tells_out_of_sync() {
    let env = Env::new();
    let (local, remote) = pulled_pipe(&env);
    write_all(&remote, &[("new.txt", "new")]);

    let dry = env.ok(&["pull", "p", "--dry-run"]);
    assert!(dry.contains("would pull 1 file"), "{dry}");
    assert_eq!(
        env.json(&["pull", "p", "--dry-run"]),
        env.json(&["pull", "p", "--preview"])
    );
    assert!(!local.join("new.txt").exists(), "a dry run moves nothing");

    // Out of sync: 1 with --exit-code, the differences printed and nothing on stderr; 0 without.
    let run = env.run(&["status", "p", "--exit-code"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("new.txt"), "{run:?}");
    assert_eq!(run.stderr, "", "the differences say it all: {run:?}");
    assert_eq!(env.run(&["--json", "status", "p", "--exit-code"]).code, 1);
    env.ok(&["status", "p"]);
    env.ok(&["pull", "p"]);
    let run = env.run(&["status", "p", "--exit-code"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    env.fails(&["status", "p", "--exit-code=yes"], 2, "--exit-code");
}

#[test]
fn completions_for_each_shell() {
    let env = Env::new();
    let bash = env.ok(&["completions", "bash"]);
    for word in ["dpipe", "pull", "remove-orphans", "--exit-code"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    for shell in ["zsh", "fish", "powershell"] {
        let script = env.ok(&["completions", shell]);
        assert!(script.contains("remove-orphans"), "{shell}: {script}");
    }
    env.fails(&["completions", "tcsh"], 2, "invalid value 'tcsh'");
    env.fails(&["completions"], 2, "<SHELL>");
    assert!(!env.config().exists(), "completions touch no profile");
}

#[test]
fn profile_init_local_with_its_own_database() {
    let env = Env::new();
    let db = env.path().join("data").join("mine.sqlite");
    let db_text = db.to_str().unwrap();
    env.fails(
        &[
            "profile",
            "init",
            "srv",
            "--server",
            "http://127.0.0.1:9",
            "--db",
            db_text,
        ],
        2,
        "'--server <URL>' cannot be used with '--db <PATH>'",
    );
    env.fails(&["profile", "init", "lap", "--db", db_text], 2, "required");
    env.fails(
        &["profile", "init", "lap", "--local", "--db", ""],
        2,
        "may not be empty",
    );
    assert!(!env.config().exists(), "no wrong call saved a profile");

    env.ok(&["profile", "init", "lap", "--local", "--db", db_text]);
    assert_eq!(env.json(&["profile", "show"])["db"], db_text);
    env.ok(&["remote", "list"]);
    assert!(db.is_file(), "local mode opened its database at --db");
}

/// The names of the pipes and remotes, and the pulled files, as a wrong or dry call must
/// leave them.
fn everything(env: &Env, local: &Path, remote: &Path) -> (Vec<String>, Vec<String>, Value, bool) {
    (
        names(&env.json(&["pipe", "list"])),
        names(&env.json(&["remote", "list"])),
        env.json(&["list", "local"]),
        local.join("a.csv").is_file()
            && local.join("orphan.txt").is_file()
            && remote.join("a.csv").is_file(),
    )
}

#[test]
fn destructive_commands_act_only_with_apply() {
    let env = Env::new();
    let (local, remote) = pulled_pipe(&env);
    let store = env.path().join("store");
    let store = store.to_str().unwrap();
    env.ok(&[
        "remote",
        "upsert",
        "spare",
        "--protocol",
        "fs",
        "--location",
        store,
    ]);
    env.ok(&["pipe", "create", "--name", "kid", "--parent", "p"]);
    write_all(&local, &[("orphan.txt", "o")]);
    let before = everything(&env, &local, &remote);

    // Without --apply (and with --dry-run): what would happen, on stdout; nothing changes.
    let dry_runs: &[(&[&str], &str)] = &[
        (
            &["pipe", "delete", "p"],
            "would delete pipe p and its 1 child pipe: kid",
        ),
        (
            &["remote", "delete", "spare"],
            "would delete remote spare (fs ",
        ),
        (
            &["reset", "p", "--local-files"],
            "would forget the sync state of pipe p (2 synced files) and remove its folder",
        ),
        (&["reset", "p"], "would forget the sync state of pipe p"),
        (&["delete", "both", "p"], "would delete 5 files, 25 B"),
        (
            &["remove-orphans", "both", "p"],
            "would delete 1 orphan, 1 B",
        ),
    ];
    for (args, says) in dry_runs {
        for dry_flag in [&[][..], &["--dry-run"]] {
            let run = env.run(&[args, dry_flag].concat());
            assert_eq!(run.code, 0, "{args:?}: {run:?}");
            assert!(run.stdout.contains(says), "{args:?}: {run:?}");
            assert!(run.stderr.contains("--apply to do it"), "{args:?}: {run:?}");
        }
        let json = env.json(&[&args[..], &["--dry-run"]].concat());
        assert!(json.is_object(), "{args:?}: {json}");
        let both = [&args[..], &["--apply", "--dry-run"]].concat();
        env.fails(&both, 2, "cannot be used with");
        assert_eq!(everything(&env, &local, &remote), before, "{args:?}");
    }
    env.fails(&["pipe", "delete", "nope"], 3, "pipe nope not found");
    env.fails(&["remote", "delete", "nope"], 3, "remote nope");
    env.fails(&["reset", "../p"], 2, "pipe name");
    assert_eq!(everything(&env, &local, &remote), before);

    // With --apply, or its alias --yes: done.
    env.ok(&["delete", "local", "p", "--files", "a.csv", "--yes"]);
    assert!(!local.join("a.csv").exists() && remote.join("a.csv").is_file());
    let reset = env.json(&["reset", "p", "--local-files", "--apply"]);
    assert_eq!(reset["local_files_removed"], true);
    assert!(!local.exists());
    assert_eq!(env.json(&["list", "local"]), serde_json::json!([]));
    env.ok(&["remote", "delete", "spare", "-y"]);
    assert_eq!(names(&env.json(&["remote", "list"])), Vec::<String>::new());
    let gone = env.json(&["pipe", "delete", "p", "--apply"]);
    assert_eq!(
        (gone["deleted"].as_bool(), &gone["children"]),
        (Some(true), &serde_json::json!(["kid"]))
    );
    assert_eq!(names(&env.json(&["pipe", "list"])), Vec::<String>::new());
    assert!(
        remote.join("a.csv").is_file(),
        "files in storage are left alone"
    );
}

#[test]
fn on_a_terminal_destructive_commands_ask_first() {
    let env = Env::new();
    let (local, _remote) = pulled_pipe(&env);
    env.ok(&["pipe", "create", "--name", "kid", "--parent", "p"]);

    let shown = on_terminal(&env, "pipe delete kid", "n\n");
    assert!(shown.contains("Delete pipe kid? [y/N]"), "{shown}");
    assert!(shown.contains("nothing changed"), "{shown}");
    assert_eq!(names(&env.json(&["pipe", "list"])), ["kid", "p"]);
    let shown = on_terminal(&env, "pipe delete kid --dry-run", "");
    assert!(!shown.contains("[y/N]"), "--dry-run never asks: {shown}");

    let shown = on_terminal(&env, "reset p --local-files", "y\n");
    assert!(shown.contains("Reset pipe p? [y/N]"), "{shown}");
    assert!(!local.exists(), "{shown}");
    let shown = on_terminal(&env, "pipe delete kid", "yes\n");
    assert!(shown.contains("Deleted pipe kid."), "{shown}");
    assert_eq!(names(&env.json(&["pipe", "list"])), ["p"]);
}
