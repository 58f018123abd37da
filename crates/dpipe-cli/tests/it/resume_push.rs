//! A 300 MiB push killed with SIGKILL halfway, then run again: the rerun continues the upload
//! (S3: the multipart upload's stored parts; a folder or SFTP remote: the temporary key) and says how
//! many bytes it resumed, moves well under the file, and the result is byte-identical. Before
//! the rerun, `push --preview --leftover-age 1s` lists what the killed push left once it is
//! older than that; after the rerun nothing is left (no upload in progress, no temporary key).

use std::path::{Path, PathBuf};
use std::time::Duration;

use dpipe_testkit::services::s3::S3Server;
use dpipe_testkit::services::sftp::SftpServer;

use crate::support::{
    Env, create_fs_pipe, create_s3_pipe, create_sftp_pipe, kill_when, local_profile,
};

const MIB: u64 = 1024 * 1024;
const SIZE: u64 = 300 * MIB;

/// Writes the 300 MiB file `repo/p/big.bin` (pseudo-random, so nothing compresses it away).
fn big_file(env: &Env) -> PathBuf {
    let path = env.path().join("repo/p/big.bin");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut bytes = Vec::with_capacity(SIZE as usize);
    while (bytes.len() as u64) < SIZE {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&path, &bytes).unwrap();
    path
}

/// Files under `folder` (not below) whose names start with `prefix`, with their sizes.
fn named(folder: &Path, prefix: &str) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| (e.path(), e.metadata().map_or(0, |m| m.len())))
        .collect()
}

/// Starts `dpipe push --pipe p` and kills it (SIGKILL) once `arrived()` says between half and
/// 90% of the file reached the storage.
fn kill_push_midway(env: &Env, arrived: impl Fn() -> u64) {
    kill_when(env, "push", || {
        let bytes = arrived();
        if (SIZE / 2..SIZE * 9 / 10).contains(&bytes) {
            Ok(())
        } else {
            Err(format!("{bytes} bytes arrived"))
        }
    });
}

/// `push --preview --leftover-age 1s` (after a second) names the killed push's leftover.
fn preview_lists_leftover(env: &Env, what: &str) {
    std::thread::sleep(Duration::from_millis(1100));
    let run = env.run(&["push", "--pipe", "p", "--preview", "--leftover-age", "1s"]);
    assert_eq!(run.code, 0, "{run:?}");
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("would remove 1 leftover of interrupted pushes:") && said.contains(what),
        "{said}"
    );
    // With the default age (24 h) it is young: not listed.
    let run = env.run(&["push", "--pipe", "p", "--preview"]);
    assert!(
        !format!("{}{}", run.stdout, run.stderr).contains("leftover"),
        "{run:?}"
    );
}

/// The rerun: resumes, says so, moves well under the file; the object is the file.
fn rerun_resumes(env: &Env, object: &Path, local: &Path) {
    let report = env.json(&["push", "--pipe", "p"]);
    let resumed = report["resumed_bytes"].as_u64().expect("resumed_bytes");
    // At least half had arrived; S3 may lose the parts in flight (4 × 8 MiB).
    assert!(resumed >= SIZE * 4 / 10, "resumed only {resumed}: {report}");
    assert!(
        SIZE - resumed <= SIZE * 6 / 10,
        "moved {} of {SIZE}",
        SIZE - resumed
    );
    assert!(
        std::fs::read(object).unwrap() == std::fs::read(local).unwrap(),
        "the object is not the file"
    );
}

#[test]
fn s3_push_killed_halfway_resumes_from_stored_parts() {
    let server = S3Server::start();
    let env = Env::new();
    local_profile(&env);
    let bucket = server.create_bucket("resume-bucket");
    create_s3_pipe(&env, &server, "resume-bucket");
    let local = big_file(&env);
    // s3s-fs keeps each stored part as `.upload_id-<id>.part-<n>` in its root.
    let root = server.root().to_path_buf();
    kill_push_midway(&env, || {
        named(&root, ".upload_id-").iter().map(|(_, len)| len).sum()
    });
    assert_eq!(named(&root, ".upload-").len(), 1, "one upload in progress");

    preview_lists_leftover(&env, "big.bin (unfinished upload");
    rerun_resumes(&env, &bucket.join("data/big.bin"), &local);
    assert!(
        named(&root, ".upload").is_empty(),
        "an upload or part is left"
    );
    assert!(
        named(&env.path().join("repo/.dpipe/uploads"), "s3-upload-").is_empty(),
        "the upload's record is left"
    );
}

/// Kills the push of `env`'s pipe, whose objects are in `remote`, while it writes the
/// temporary key; the rerun continues it.
fn temp_key_push_resumes(env: &Env, remote: &Path) {
    let local = big_file(env);
    kill_push_midway(env, || {
        named(remote, ".dpipe-put-")
            .iter()
            .map(|(_, len)| len)
            .sum()
    });
    assert!(
        !remote.join("big.bin").exists(),
        "nothing under the final name"
    );

    preview_lists_leftover(env, ".dpipe-put-");
    rerun_resumes(env, &remote.join("big.bin"), &local);
    assert!(
        named(remote, ".dpipe-").is_empty(),
        "a temporary key is left"
    );
}

#[test]
fn fs_push_killed_halfway_resumes_from_the_temporary_key() {
    let env = Env::new();
    local_profile(&env);
    let remote = env.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    create_fs_pipe(&env, &remote, &[]);
    temp_key_push_resumes(&env, &remote);
}

#[test]
fn sftp_push_killed_halfway_resumes_from_the_temporary_key() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let env = Env::new();
    local_profile(&env);
    create_sftp_pipe(&env, &server, &work.path);
    temp_key_push_resumes(&env, &work.path);
}

/// A leftover that no push continues (its file is gone) is removed once older than the age.
#[test]
fn push_removes_old_leftovers_it_does_not_continue() {
    let env = Env::new();
    local_profile(&env);
    let remote = env.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    create_fs_pipe(&env, &remote, &[]);
    std::fs::create_dir_all(env.path().join("repo/p")).unwrap();
    std::fs::write(remote.join(".dpipe-put-0123456789abcdef.part"), b"partial").unwrap();
    env.ok(&["push", "--pipe", "p", "--quiet"]);
    assert_eq!(named(&remote, ".dpipe-").len(), 1, "young: kept");
    std::thread::sleep(Duration::from_millis(1100));
    let run = env.run(&["push", "--pipe", "p", "--leftover-age", "1s"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        format!("{}{}", run.stdout, run.stderr)
            .contains("removed 1 leftover of interrupted pushes: .dpipe-put-0123456789abcdef.part"),
        "{run:?}"
    );
    assert!(named(&remote, ".dpipe-").is_empty());
}
