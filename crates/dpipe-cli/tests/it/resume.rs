//! A pull killed (`kill -9`) halfway through a 300 MiB download goes on, when run again, from
//! what the killed run wrote: the rerun says how many bytes it resumed, moves well under the
//! whole file, and the file is byte for byte the object (issue 11, "transfers that resume").
//! The object is planted in the storage's own folder; the pull is killed once the partial
//! file (`.dpipe-get-*.part`) passes 40% of it.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dpipe_testkit::services::s3::S3Server;
use dpipe_testkit::services::sftp::SftpServer;

use crate::support::{Env, create_s3_pipe, create_sftp_pipe, kill_when, local_profile};

const MIB: u64 = 1024 * 1024;
/// The object: large enough that a loopback pull is caught midway.
const SIZE: u64 = 300 * MIB;
const NAME: &str = "big.bin";

/// Writes [`SIZE`] bytes to `path`: one pseudo-random MiB (from `seed`), repeated with each
/// copy's number in its first bytes (no two MiB alike).
fn write_big(path: &Path, seed: u64) {
    let mut block = vec![0u8; MIB as usize];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for chunk in block.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..SIZE / MIB {
        block[..8].copy_from_slice(&i.to_le_bytes());
        file.write_all(&block).unwrap();
    }
    file.flush().unwrap();
}

/// Whether files `a` and `b` hold the same bytes (compared a MiB at a time).
fn same_bytes(a: &Path, b: &Path) -> bool {
    let open = |path: &Path| std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let (mut a, mut b) = (open(a), open(b));
    let (mut x, mut y) = (vec![0; MIB as usize], vec![0; MIB as usize]);
    loop {
        let n = a.read(&mut x).unwrap();
        if n == 0 {
            return b.read(&mut y).unwrap() == 0;
        }
        if b.read_exact(&mut y[..n]).is_err() || x[..n] != y[..n] {
            return false;
        }
    }
}

/// The partial download in `folder`, if there is one, and its length.
fn part_file(folder: &Path) -> Option<(PathBuf, u64)> {
    std::fs::read_dir(folder).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        (name.starts_with(".dpipe-get-") && name.ends_with(".part"))
            .then(|| (e.path(), e.metadata().map_or(0, |m| m.len())))
    })
}

/// Starts `dpipe pull --pipe p` and sends SIGKILL once the partial file in `local` passes
/// 40% of the object; returns how long it was.
fn kill_at_40_percent(env: &Env, local: &Path) -> u64 {
    kill_when(env, "pull", || match part_file(local) {
        Some((_, len)) if len > SIZE * 2 / 5 => Ok(()),
        other => Err(format!("partial file: {other:?}")),
    });
    part_file(local)
        .expect("the killed pull left its partial file")
        .1
}

/// Pulls the object planted (from `source`) in pipe `p` of `env`, killed halfway, then again:
/// the rerun resumes.
fn killed_pull_resumes(env: &Env, repo: &Path, source: &Path) {
    let local = repo.join("p");
    let left = kill_at_40_percent(env, &local);
    assert!(!local.join(NAME).exists(), "no file at its final name yet");

    let report = env.json(&["pull", "--pipe", "p"]);
    let bytes = report["bytes"].as_u64().unwrap();
    let resumed = report["resumed_bytes"].as_u64().unwrap();
    let moved = bytes - resumed;
    eprintln!("killed at {left} B; the rerun resumed {resumed} B and moved {moved} B");
    assert_eq!(bytes, SIZE, "{report}");
    assert!(resumed >= SIZE / 3, "resumed {resumed} B: {report}");
    assert!(moved <= SIZE * 2 / 3, "moved {moved} B: {report}");
    assert!(
        same_bytes(&local.join(NAME), source),
        "byte for byte the object"
    );
    assert_eq!(part_file(&local), None, "the partial file became the file");
}

/// An S3 server whose bucket holds the big object, and a local-mode profile with pipe `p` on
/// it: the server, the profile's env, its file repo and the object's file on the server.
fn big_object_on_s3() -> (S3Server, Env, PathBuf, PathBuf) {
    let server = S3Server::start();
    let bucket = server.create_bucket("resume-bucket");
    let source = bucket.join("data").join(NAME);
    write_big(&source, 1);
    let env = Env::new();
    let repo = local_profile(&env);
    create_s3_pipe(&env, &server, "resume-bucket");
    (server, env, repo, source)
}

#[test]
fn a_pull_killed_halfway_resumes_on_s3() {
    let (_server, env, repo, source) = big_object_on_s3();
    killed_pull_resumes(&env, &repo, &source);
}

#[test]
fn a_pull_killed_halfway_resumes_on_sftp() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let path = work.path.join(NAME);
    write_big(&path, 1);
    server.user.chown(&path);
    let env = Env::new();
    let repo = local_profile(&env);
    create_sftp_pipe(&env, &server, &work.path);
    killed_pull_resumes(&env, &repo, &path);
}

/// The summary line of a pull that resumed says how much.
#[test]
fn the_summary_says_what_was_resumed() {
    let (_server, env, repo, _) = big_object_on_s3();
    let left = kill_at_40_percent(&env, &repo.join("p"));
    let out = env.ok(&["pull", "--pipe", "p"]);
    let want = format!(
        "pulled 1 file, 300.0 MiB ({:.1} MiB of it resumed); 0 unchanged",
        left as f64 / MIB as f64
    );
    assert!(out.contains(&want), "{out:?} lacks {want:?}");
}

/// A partial download no run will resume — its object changed since, or it is older than
/// `--leftover-age` — is deleted by the next pull, which downloads the object whole.
#[test]
fn a_stale_partial_download_is_removed_not_resumed() {
    let (_server, env, repo, source) = big_object_on_s3();
    let local = repo.join("p");
    let pull_whole = |args: &[&str]| {
        let report = env.json(&[&["pull", "--pipe", "p"], args].concat());
        assert_eq!(report["resumed_bytes"], 0, "{report}");
        assert!(same_bytes(&local.join(NAME), &source));
        assert_eq!(part_file(&local), None, "no partial file left");
    };

    // The object changes (other bytes, a later time) after the pull was killed.
    kill_at_40_percent(&env, &local);
    std::thread::sleep(Duration::from_millis(20));
    write_big(&source, 2);
    pull_whole(&[]);

    // A partial file older than the age, of the version still listed.
    std::fs::remove_file(local.join(NAME)).unwrap();
    write_big(&source, 3);
    kill_at_40_percent(&env, &local);
    std::thread::sleep(Duration::from_millis(1100));
    pull_whole(&["--leftover-age", "1s"]);
}
