//! Ctrl-C in the middle of a pull or a push (issue 14, item 11): dpipe says `interrupted:
//! rerun to continue` on stderr and exits 130; the same command again completes, and the
//! pipe is in sync.
//!
//! As in `interrupt.rs`, the run is caught mid-way by the size of what it moves, never by
//! sleeping in dpipe: one large file that goes first and many small ones behind it; the test
//! polls the target folder and sends SIGINT once some but not all small files have arrived.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Env, create_fs_pipe, local_profile};

/// The large file: first in the plan's order, still moving when the small ones arrive.
const BIG: (&str, usize) = ("a-big.bin", 32 << 20);
/// The small files, `d/f000.bin`…: 30 MiB, put in place in several batches.
const SMALL: usize = 120;
const SMALL_LEN: usize = 256 << 10;

/// Every file of the pipe: its path and its content (distinct bytes per file).
fn files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![(BIG.0.to_string(), pattern(0, BIG.1))];
    files.extend((0..SMALL).map(|i| (format!("d/f{i:03}.bin"), pattern(i + 1, SMALL_LEN))));
    files
}

fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect()
}

fn write_all(root: &Path, files: &[(String, Vec<u8>)]) {
    for (path, bytes) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// How many small files are under their final names in `root`.
fn small_arrived(root: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root.join("d")) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with(".dpipe-"))
        .count()
}

/// Starts `dpipe verb --pipe p`, sends SIGINT once `target` holds a few but not all of the
/// small files, and returns the exit code and stderr.
fn interrupt_midway(env: &Env, verb: &str, target: &Path) -> (Option<i32>, String) {
    let mut child = env
        .command(&[verb, "--pipe", "p"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let arrived = small_arrived(target);
        if (3..SMALL).contains(&arrived) {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("dpipe {verb} ended ({status}) before it could be interrupted");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "dpipe {verb} hangs"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code(), stderr)
}

/// `root` holds exactly the pipe's files, byte for byte (dpipe's temporary files aside).
fn exactly(root: &Path, files: &[(String, Vec<u8>)]) {
    for (path, bytes) in files {
        let found = std::fs::read(root.join(path)).unwrap_or_default();
        assert!(found == *bytes, "{path}: not the pipe's file");
    }
    assert_eq!(small_arrived(root), SMALL, "{}", root.display());
}

/// A local-mode profile with pipe `p` on an `fs` remote; returns (local folder, remote).
fn pipe(env: &Env) -> (PathBuf, PathBuf) {
    let repo = local_profile(env);
    let remote = env.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    create_fs_pipe(env, &remote, &[]);
    (repo.join("p"), remote)
}

fn interrupted_then_rerun(verb: &str) {
    let env = Env::new();
    let (local, remote) = pipe(&env);
    let (source, target) = match verb {
        "pull" => (&remote, &local),
        _ => (&local, &remote),
    };
    let files = files();
    write_all(source, &files);

    let (code, stderr) = interrupt_midway(&env, verb, target);
    assert_eq!(code, Some(130), "dpipe {verb} after SIGINT: {stderr}");
    assert!(
        stderr.contains("interrupted: rerun to continue"),
        "dpipe {verb}: {stderr:?}"
    );
    assert!(!stderr.contains("error"), "dpipe {verb}: {stderr:?}");
    assert!(small_arrived(target) < SMALL, "nothing was left to do");

    env.ok(&[verb, "--pipe", "p", "--quiet"]);
    exactly(target, &files);
    let status = env.json(&["status", "--pipe", "p"]);
    assert_eq!(status["in_sync"], true, "{status}");
}

#[test]
fn ctrl_c_stops_a_pull_that_a_rerun_completes() {
    interrupted_then_rerun("pull");
}

#[test]
fn ctrl_c_stops_a_push_that_a_rerun_completes() {
    interrupted_then_rerun("push");
}
