//! Changes are detected by content, never by time alone, on a folder (`fs`) remote too: two
//! profiles share one remote folder; one pushes with `--mode all` after changing one file of
//! eleven (which rewrites every file on the remote, with new times); the other's `status` lists
//! only that file, its pull moves only that file's bytes, and the content check is recorded so
//! that later runs are in sync without reading the objects again. Over FTP and SFTP, whose
//! listings have no hash either, an object whose time moved but whose bytes did not is no
//! change.

use std::path::Path;
use std::time::Duration;

use dpipe_testkit::services::ftp::FtpServer;
use dpipe_testkit::services::sftp::SftpServer;
use dpipe_testkit::services::user::TestUser;

use crate::conflicts::{moved, read, rewrite, sync};
use crate::support::{Env, create_fs_pipe, create_ftp_pipe, create_sftp_pipe, local_profile};

/// Ten data files of 1 MiB each (each its own bytes) and a README.
fn write_dataset(folder: &Path) {
    for i in 0..10u8 {
        let bytes: Vec<u8> = (0..1 << 20).map(|n: u32| (n % 251) as u8 ^ i).collect();
        let path = folder.join(format!("data/part-{i:02}.bin"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    rewrite(&folder.join("README.md"), "# the dataset\n");
}

/// A profile of its own with pipe `p` on the folder `remote`; returns it and its pipe folder.
fn profile_on(remote: &Path) -> (Env, std::path::PathBuf) {
    let env = Env::new();
    let repo = local_profile(&env);
    create_fs_pipe(&env, remote, &[]);
    (env, repo.join("p"))
}

#[test]
fn a_push_of_identical_files_is_not_a_change_for_the_other_profile() {
    let shared = tempfile::tempdir().unwrap();
    let remote = shared.path().join("remote");
    std::fs::create_dir_all(&remote).unwrap();
    let (producer, produced) = profile_on(&remote);
    let (consumer, consumed) = profile_on(&remote);

    write_dataset(&produced);
    assert_eq!(moved(&sync(&producer, "push", &[])).len(), 11);
    let first = sync(&consumer, "pull", &[]);
    assert_eq!(moved(&first).len(), 11, "{first}");

    // One file changes; `--mode all` rewrites all eleven on the remote, with new times.
    rewrite(&produced.join("README.md"), "# the dataset, v2\n");
    let all = sync(&producer, "push", &["--mode", "all"]);
    assert_eq!(moved(&all).len(), 11, "{all}");

    let status = consumer.json(&["status", "--pipe", "p"]);
    assert_eq!(
        status["to_pull"],
        serde_json::json!(["README.md"]),
        "{status}"
    );
    assert_eq!(status["to_push"], serde_json::json!([]), "{status}");
    assert_eq!(status["conflicts"], serde_json::json!([]), "{status}");
    let pulled = sync(&consumer, "pull", &[]);
    assert_eq!(moved(&pulled), ["README.md"], "{pulled}");
    assert_eq!(pulled["bytes"], "# the dataset, v2\n".len(), "{pulled}");
    assert_eq!(pulled["plan"]["unchanged"], 10, "{pulled}");
    assert_eq!(read(&consumed.join("README.md")), "# the dataset, v2\n");

    // The content check was recorded: in sync, and a local edit is a change to push, not a
    // conflict with the rewritten object.
    assert_eq!(
        consumer.ok(&["status", "--pipe", "p"]),
        "pipe p is in sync\n"
    );
    rewrite(&consumed.join("data/part-03.bin"), "edited");
    let status = consumer.json(&["status", "--pipe", "p"]);
    assert_eq!(
        status["to_push"],
        serde_json::json!(["data/part-03.bin"]),
        "{status}"
    );
    assert_eq!(status["conflicts"], serde_json::json!([]), "{status}");
}

#[test]
fn a_touched_object_with_the_same_content_is_not_pulled_and_a_local_edit_is_no_conflict() {
    let env = Env::new();
    let repo = local_profile(&env);
    let remote = env.path().join("remote");
    rewrite(&remote.join("a.csv"), "x,y\n1,2\n");
    rewrite(&remote.join("b.csv"), "x,y\n3,4\n");
    create_fs_pipe(&env, &remote, &[]);
    assert_eq!(moved(&sync(&env, "pull", &[])).len(), 2);

    // Both objects get a new time, same bytes; one of them is edited locally.
    for name in ["a.csv", "b.csv"] {
        rewrite(&remote.join(name), &read(&remote.join(name)));
    }
    rewrite(&repo.join("p/b.csv"), "x,y\n5,6\n");
    let status = env.json(&["status", "--pipe", "p"]);
    assert_eq!(status["to_pull"], serde_json::json!([]), "{status}");
    assert_eq!(status["to_push"], serde_json::json!(["b.csv"]), "{status}");
    assert_eq!(status["conflicts"], serde_json::json!([]), "{status}");
    let pulled = sync(&env, "pull", &[]);
    assert!(moved(&pulled).is_empty(), "{pulled}");
    assert_eq!(moved(&sync(&env, "push", &[])), ["b.csv"]);
    assert_eq!(read(&remote.join("b.csv")), "x,y\n5,6\n");
    assert_eq!(env.ok(&["status", "--pipe", "p"]), "pipe p is in sync\n");
}

/// Writes `text` at `root/path` as the server's user would have, its time `days_ago`.
fn plant(user: &TestUser, root: &Path, path: &str, text: &str, days_ago: u64) {
    let path = root.join(path);
    std::fs::write(&path, text).unwrap();
    user.chown(&path);
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    let time = std::time::SystemTime::now() - Duration::from_secs(days_ago * 24 * 3600);
    file.set_modified(time).unwrap();
}

/// Two files pulled from the server folder `root`; then both objects rewritten with the same
/// bytes and an earlier time (vsftpd lists a future time as a date without a time), and one
/// edited locally: nothing to pull, one file to push, no conflict.
fn touched_objects_are_no_change(env: &Env, user: &TestUser, root: &Path, local: &Path) {
    let files = [("a.csv", "x,y\n1,2\n"), ("b.csv", "x,y\n3,4\n")];
    for (path, text) in files {
        plant(user, root, path, text, 3);
    }
    assert_eq!(moved(&sync(env, "pull", &[])).len(), 2);
    for (path, text) in files {
        plant(user, root, path, text, 5);
    }
    rewrite(&local.join("b.csv"), "x,y\n5,6\n");
    for _ in 0..2 {
        let status = env.json(&["status", "--pipe", "p"]);
        assert_eq!(status["to_pull"], serde_json::json!([]), "{status}");
        assert_eq!(status["to_push"], serde_json::json!(["b.csv"]), "{status}");
        assert_eq!(status["conflicts"], serde_json::json!([]), "{status}");
        assert!(moved(&sync(env, "pull", &[])).is_empty());
    }
}

#[test]
fn sftp_touched_objects_are_no_change() {
    let server = SftpServer::start();
    let work = server.user.workdir();
    let env = Env::new();
    let repo = local_profile(&env);
    create_sftp_pipe(&env, &server, &work.path);
    touched_objects_are_no_change(&env, server.user, &work.path, &repo.join("p"));
}

#[test]
fn ftp_touched_objects_are_no_change() {
    let server = FtpServer::start();
    let work = server.user.workdir();
    let env = Env::new();
    let repo = local_profile(&env);
    create_ftp_pipe(&env, &server, &work.path);
    touched_objects_are_no_change(&env, server.user, &work.path, &repo.join("p"));
}
