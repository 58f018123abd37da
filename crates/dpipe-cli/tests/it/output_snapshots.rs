//! What the CLI prints, compared with its snapshot in `snapshots/output/`, so that a change of
//! wording or layout is a diff a reviewer sees: every table in text mode ([`tables`]) and the
//! error messages a newcomer meets, each with its exit code ([`errors`]). A snapshot is a
//! transcript: each command line, its exit code, its stdout and its stderr.
//!
//! After an intended change of an output, rewrite the snapshots and review the diff:
//!
//! ```text
//! INSTA_UPDATE=always cargo nextest run -p dpipe-cli --test it output_snapshots::
//! git diff crates/dpipe-cli/tests/it/snapshots/output/
//! ```
//!
//! (or `cargo insta test -p dpipe-cli --test it -- output_snapshots::` and `cargo insta
//! review`). What differs from run to run is made fixed or named: file times are set to
//! [`FIXED_TIME`], and the temporary home folders, server URLs and ports are replaced by
//! names such as `[HOME]` ([`Transcript::scrub`]).

mod errors;
mod tables;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::support::{Env, create_fs_pipe, local_profile};

/// Where the snapshots are, relative to this file.
const SNAPSHOTS: &str = "snapshots/output";

/// The modification time of every file the tests write: 2024-01-02 03:04:05 UTC.
const FIXED_TIME: u64 = 1_704_164_645;

/// The runs of one snapshot as a reader sees them, with the parts that differ from one test
/// run to the next replaced by names.
pub struct Transcript {
    text: String,
    /// (found, shown instead), longest first when applied.
    scrub: Vec<(String, String)>,
}

impl Transcript {
    /// A transcript of commands run in `env`, whose home folder is shown as `[HOME]`.
    pub fn new(env: &Env) -> Transcript {
        let mut transcript = Transcript {
            text: String::new(),
            scrub: Vec::new(),
        };
        transcript.scrub(env.path().to_str().unwrap(), "[HOME]");
        transcript
    }

    /// Shows `found` as `shown` wherever it is printed (or is part of a command line), in
    /// the runs before and after.
    pub fn scrub(&mut self, found: &str, shown: &str) -> &mut Transcript {
        self.scrub.push((found.to_string(), shown.to_string()));
        self.scrub
            .sort_by_key(|(found, _)| std::cmp::Reverse(found.len()));
        self
    }

    /// Runs `dpipe args...` in `env` and adds it to the transcript.
    pub fn run(&mut self, env: &Env, args: &[&str]) -> &mut Transcript {
        let run = env.run(args);
        let mut part = format!("$ dpipe {}\nexit code: {}\n", args.join(" "), run.code);
        for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            if text.is_empty() {
                part.push_str(&format!("{stream}: (empty)\n"));
                continue;
            }
            part.push_str(&format!("{stream}:\n"));
            // Indented, so that the streams stand apart; an empty line stays empty.
            for line in text.trim_end_matches('\n').lines() {
                let indent = if line.is_empty() { "" } else { "  " };
                part.push_str(&format!("{indent}{line}\n"));
            }
        }
        if !self.text.is_empty() {
            self.text.push('\n');
        }
        self.text.push_str(&part);
        self
    }

    /// Compares the transcript with the snapshot `name`.
    pub fn check(&self, name: &str) {
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(SNAPSHOTS);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        let text = self
            .scrub
            .iter()
            .fold(self.text.clone(), |text, (found, shown)| {
                text.replace(found, shown)
            });
        settings.bind(|| insta::assert_snapshot!(name, text));
    }
}

/// Writes `files` (path, text) under `root`, each modified at [`FIXED_TIME`].
pub fn write_all(root: &Path, files: &[(&str, &str)]) {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED_TIME);
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(time).unwrap();
    }
}

/// A local-mode profile with pipe `p` on the folder remote `<home>/remote` (excluding
/// `*.tmp`), which holds a README, a CSV file, a file in a sub-folder and one left out.
/// Returns (the pipe's local folder, the remote folder); nothing is pulled yet.
pub fn folder_pipe(env: &Env) -> (PathBuf, PathBuf) {
    let repo = local_profile(env);
    let remote = env.path().join("remote");
    write_all(
        &remote,
        &[
            ("README.md", "# Sales\nDaily sales by shop.\n"),
            ("a.csv", "shop,sales\n1,20\n2,35\n"),
            ("sub/b.txt", "bbbb"),
            ("scratch.tmp", "left out"),
        ],
    );
    create_fs_pipe(env, &remote, &["--exclude", "*.tmp"]);
    (repo.join("p"), remote)
}

/// [`folder_pipe`] pulled, then changed on both sides: a file to pull, a file to push, a
/// conflict (changed on both sides) and a key no local path can have.
pub fn out_of_sync_pipe(env: &Env) {
    let (local, remote) = folder_pipe(env);
    env.ok(&["pull", "p", "--quiet"]);
    write_all(&local, &[("a.csv", "shop,sales\n1,215\n2,35\n")]);
    write_all(&local, &[("sub/b.txt", "local edit")]);
    write_all(&remote, &[("sub/b.txt", "remote edit")]);
    write_all(
        &remote,
        &[("c.csv", "shop,sales\n3,7\n"), ("..\\evil.txt", "e")],
    );
}
