//! The `--help` of every command and subcommand, compared with its snapshot in
//! `snapshots/help/`, so that a change of wording is a diff a reviewer sees. The command
//! tree is walked from the binary's own help (the `Commands:` list of each level), so a new
//! command gets a snapshot without touching this test, and a snapshot whose command is gone
//! fails it.
//!
//! After an intended change of a help text, rewrite the snapshots and review the diff:
//!
//! ```text
//! INSTA_UPDATE=always cargo nextest run -p dpipe-cli --test it help_snapshots::
//! git diff crates/dpipe-cli/tests/it/snapshots/help/
//! ```
//!
//! (or `cargo insta test -p dpipe-cli --test it -- help_snapshots::` and `cargo insta
//! review`). The binary runs with an empty environment and no terminal, so no path, variable
//! or terminal width of the machine gets into a snapshot.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Where the snapshots are, relative to this file.
const SNAPSHOTS: &str = "snapshots/help";

/// `dpipe WORDS... --help`, in an empty environment.
fn help(words: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_dpipe"))
        .env_clear()
        .args(words)
        .arg("--help")
        .output()
        .expect("dpipe runs");
    assert!(out.status.success(), "dpipe {words:?} --help: {out:?}");
    String::from_utf8(out.stdout).expect("UTF-8 help")
}

/// The subcommands a help text lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        // A command starts at two spaces; deeper lines continue a wrapped description.
        .filter(|line| line.starts_with("  ") && !line[2..].starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every command path below `words` with its help text, depth first.
fn walk(words: Vec<String>, found: &mut Vec<(Vec<String>, String)>) {
    let text = help(&words);
    let children = subcommands(&text);
    found.push((words.clone(), text));
    for child in children {
        let mut path = words.clone();
        path.push(child);
        walk(path, found);
    }
}

#[test]
fn help_texts_match_their_snapshots() {
    let mut found = Vec::new();
    walk(Vec::new(), &mut found);
    assert!(
        found.len() > 40,
        "the walk found only {} commands",
        found.len()
    );

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(SNAPSHOTS);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let mut names = BTreeSet::new();
    let mut differ = Vec::new();
    settings.bind(|| {
        for (words, text) in &found {
            let name = ["dpipe"]
                .into_iter()
                .chain(words.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join("-");
            let checked = std::panic::catch_unwind(|| insta::assert_snapshot!(name.clone(), text));
            if checked.is_err() {
                differ.push(name.clone());
            }
            names.insert(name);
        }
    });
    assert!(
        differ.is_empty(),
        "help texts differ from their snapshots: {differ:?}"
    );

    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it")
        .join(SNAPSHOTS);
    let stale: Vec<String> = std::fs::read_dir(&folder)
        .expect("the snapshot folder")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|file| file.strip_suffix(".snap").map(str::to_string))
        .filter(|name| !names.contains(name))
        .collect();
    assert!(
        stale.is_empty(),
        "snapshots of commands that are gone: {stale:?}"
    );
}
