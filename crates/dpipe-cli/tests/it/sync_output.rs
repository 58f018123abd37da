//! What `pull`, `push` and `status` print: a preview's rows aligned in columns, `--json` names
//! that say what they count, the files include/exclude left out, and one-sided changes said in
//! words of the direction ("changed locally", "changed on storage").

use crate::conflicts::{moved, rewrite, sync};
use crate::support::{Env, create_fs_pipe, local_profile};

/// A profile with pipe `p` on a folder remote holding files of unlike name lengths and sizes,
/// and two `*.tmp` files its `--exclude` leaves out.
fn pipe_with_files() -> (Env, std::path::PathBuf, std::path::PathBuf) {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    rewrite(&remote.join("b"), "1");
    rewrite(&remote.join("a/much/longer/path.csv"), &"x".repeat(5000));
    rewrite(&remote.join("mid.txt"), "hello");
    rewrite(&remote.join("scratch.tmp"), "t");
    rewrite(&remote.join("sub/other.tmp"), "t");
    create_fs_pipe(&env, &remote, &["--exclude", "*.tmp"]);
    (env, remote, repo.join("p"))
}

#[test]
fn a_preview_lists_its_files_in_aligned_columns() {
    let (env, _, _) = pipe_with_files();
    let text = env.ok(&["pull", "--pipe", "p", "--preview"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "header, 3 files, summary: {text}");
    assert!(lines[0].starts_with("REASON"), "{text}");
    let column = |line: &str, word: &str| line.find(word).unwrap_or_else(|| panic!("{text}"));
    let path_at = column(lines[0], "PATH");
    let size_at = column(lines[0], "SIZE");
    for (row, (path, size)) in lines[1..4].iter().zip([
        ("a/much/longer/path.csv", "4.9 KiB"),
        ("b ", "1 B"),
        ("mid.txt", "5 B"),
    ]) {
        assert_eq!(column(row, path), path_at, "{text}");
        assert_eq!(column(row, size), size_at, "{text}");
        assert!(row.starts_with("new "), "{text}");
    }
    assert!(lines[4].starts_with("would pull 3 files"), "{text}");
}

#[test]
fn json_reports_name_what_they_count() {
    let (env, remote, local) = pipe_with_files();
    let first = sync(&env, "pull", &[]);
    assert_eq!(moved(&first).len(), 3, "{first}");
    // One file differs, one is new: mode `new` moves the new one, leaves the other out.
    rewrite(&remote.join("mid.txt"), "HELLO");
    rewrite(&remote.join("new.txt"), "new");
    let report = sync(&env, "pull", &["--mode", "new"]);
    assert_eq!(moved(&report), ["new.txt"], "{report}");
    assert_eq!(report["plan"]["unchanged"], 2, "{report}");
    assert_eq!(report["plan"]["left_out_by_mode"], 1, "{report}");
    // `skipped` meant "unchanged or left out" at the top and "left out" in the plan: gone.
    assert!(report.get("skipped").is_none(), "{report}");
    assert!(report["plan"].get("skipped").is_none(), "{report}");
    let text = env.ok(&["pull", "--pipe", "p", "--mode", "new"]);
    assert_eq!(
        text,
        "pulled 0 files, 0 B; 3 unchanged; 1 left out by --mode\n"
    );
    assert!(local.join("new.txt").exists());
}

#[test]
fn status_counts_the_files_include_and_exclude_left_out() {
    let (env, _, _) = pipe_with_files();
    env.ok(&["pull", "--pipe", "p"]);
    let text = env.ok(&["status", "--pipe", "p"]);
    assert_eq!(
        text,
        "pipe p is in sync\n2 files left out by include/exclude\n"
    );
    assert_eq!(
        env.json(&["status", "--pipe", "p"])["left_out_by_filter"],
        2
    );
    // The flags replace the pipe's own filter.
    let only_csv = env.json(&["status", "--pipe", "p", "--include", "*.csv"]);
    assert_eq!(only_csv["left_out_by_filter"], 4, "{only_csv}");
    let all = env.json(&["status", "--pipe", "p", "--exclude", "nothing"]);
    assert_eq!(all["left_out_by_filter"], 0, "{all}");
    assert_eq!(
        all["to_pull"],
        serde_json::json!(["scratch.tmp", "sub/other.tmp"])
    );
    let text = env.ok(&["status", "--pipe", "p", "--exclude", "nothing"]);
    assert!(!text.contains("left out"), "{text}");
}

#[test]
fn one_sided_changes_are_said_in_words_of_the_direction() {
    let (env, remote, local) = pipe_with_files();
    env.ok(&["pull", "--pipe", "p"]);
    rewrite(&local.join("mid.txt"), "local");
    let run = env.run(&["pull", "--pipe", "p"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("1 file changed locally, left for push: mid.txt"),
        "{run:?}"
    );
    env.ok(&["push", "--pipe", "p"]);

    rewrite(&remote.join("mid.txt"), "later");
    let run = env.run(&["push", "--pipe", "p", "--preview"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("1 file changed on storage, left for pull: mid.txt"),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("would refuse: mid.txt (changed on storage, not pulled yet)"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("target side"), "{run:?}");
}
