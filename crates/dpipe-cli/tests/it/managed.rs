//! Managed pipes end to end: `dpipe serve` alone — its repo API and its built-in object store,
//! no other server — and the CLI as an owner and a reader sharing a dataset.

use std::path::Path;

use dpipe_testkit::files::files_under;
use serde_json::Value;

use crate::serve_process::ServeProcess;
use crate::support::{Env, server_user};

/// Files of a dataset: small ones, one in a sub-folder, one large enough for multipart upload.
pub(crate) fn write_dataset(folder: &Path) -> Vec<(String, Vec<u8>)> {
    let big: Vec<u8> = (0..12 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let files = vec![
        ("a.csv".to_string(), b"x,y\n1,2\n".to_vec()),
        ("sub/b.txt".to_string(), b"bbbb".to_vec()),
        ("big.bin".to_string(), big),
    ];
    for (path, bytes) in &files {
        let path = folder.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    files
}

pub(crate) fn repo(env: &Env, pipe: &str) -> std::path::PathBuf {
    env.path().join("repo").join(pipe)
}

pub(crate) fn transferred(report: &Value) -> usize {
    report["transferred"]
        .as_array()
        .expect("a transfer list")
        .len()
}

#[test]
fn serve_alone_is_enough_to_share_a_dataset() {
    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(data.path(), &[]);
    let ann = server_user(&server.url, "ann");
    let view = ann.json(&["pipe", "create", "demo"]);
    assert_eq!(view["protocol"], "s3");
    assert_eq!(view["options"]["remotepath"], "s3://dpipe/ann/demo/");

    let files = write_dataset(&repo(&ann, "demo"));
    assert_eq!(transferred(&ann.json(&["push", "--pipe", "demo"])), 3);
    assert_eq!(transferred(&ann.json(&["push", "--pipe", "demo"])), 0);
    let scan = ann.json(&["scan", "remote", "--pipe", "demo"]);
    assert_eq!(scan["files"].as_array().map(Vec::len), Some(3), "{scan}");

    // A reader pulls everything, byte for byte, and cannot push.
    let bob = server_user(&server.url, "bob");
    ann.ok(&["perm", "grant", "demo", "--user", "bob", "--role", "read"]);
    assert_eq!(transferred(&bob.json(&["pull", "--pipe", "demo"])), 3);
    for (path, bytes) in &files {
        assert_eq!(
            &std::fs::read(repo(&bob, "demo").join(path)).unwrap(),
            bytes,
            "{path}"
        );
    }
    std::fs::write(repo(&bob, "demo").join("mine.csv"), "bob's").unwrap();
    bob.fails(&["push", "--pipe", "demo"], 4, "read");
    // The owner's change reaches the reader.
    std::fs::write(repo(&ann, "demo").join("a.csv"), "x,y\n3,4\n").unwrap();
    assert_eq!(transferred(&ann.json(&["push", "--pipe", "demo"])), 1);
    assert_eq!(transferred(&bob.json(&["pull", "--pipe", "demo"])), 1);
    assert_eq!(
        std::fs::read_to_string(repo(&bob, "demo").join("a.csv")).unwrap(),
        "x,y\n3,4\n"
    );

    // Every handout is in the owner's trail with its key and expiry.
    let trail = ann.ok(&["audit", "--pipe", "demo"]);
    let bobs_key = bob.json(&["pipe", "credentials", "demo"])["aws_access_key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let trail_after = ann.ok(&["audit", "--pipe", "demo"]);
    assert!(
        trail.contains("credentials.write") && trail.contains(" key DPK"),
        "{trail}"
    );
    assert!(
        trail_after
            .lines()
            .any(|l| l.contains("bob") && l.contains(&format!("key {bobs_key} until"))),
        "{trail_after}"
    );

    // Revoked: no more credentials for bob.
    ann.ok(&["perm", "revoke", "demo", "--user", "bob"]);
    bob.fails(&["pull", "--pipe", "demo"], 4, "permission");

    // The store keeps objects by id: no key became a path in the data folder.
    let storage = data.path().join("storage");
    let stored = files_under(&storage);
    for (path, _) in &files {
        let file = Path::new(path).file_name().unwrap();
        assert!(
            !stored.keys().any(|p| p.iter().any(|part| part == file)),
            "{file:?} in {stored:?}"
        );
    }
    assert!(
        server.log().contains("dpipe::objects"),
        "one log line per request"
    );
    let creds = ann.json(&["pipe", "credentials", "demo"]);
    for secret in ["aws_secret_access_key", "aws_session_token"] {
        let value = creds[secret].as_str().expect("a secret");
        assert!(!server.log().contains(value), "{secret} in the server log");
    }
}

#[test]
fn a_pipe_created_with_protocol_d6tfree_or_a_name_only_nests_children() {
    let data = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(data.path(), &[]);
    let ann = server_user(&server.url, "ann");
    ann.ok(&[
        "pipe",
        "create",
        "--name",
        "vendor",
        "--protocol",
        "d6tfree",
    ]);
    let kid = ann.json(&[
        "pipe",
        "create",
        "vendor-eu",
        "--parent",
        "vendor",
        "--dir",
        "eu",
    ]);
    assert_eq!(kid["options"]["remotepath"], "s3://dpipe/ann/vendor/eu/");
    write_dataset(&repo(&ann, "vendor-eu"));
    assert_eq!(transferred(&ann.json(&["push", "--pipe", "vendor-eu"])), 3);
    // The parent sees the child's files under eu/.
    assert_eq!(transferred(&ann.json(&["pull", "--pipe", "vendor"])), 3);
    assert!(repo(&ann, "vendor").join("eu/sub/b.txt").is_file());
    // Wrong calls change nothing.
    ann.fails(
        &["pipe", "create", "x", "--location", "some-bucket"],
        2,
        "location",
    );
    ann.fails(
        &["pipe", "create", "x", "--name", "y"],
        2,
        "cannot be used with",
    );
    assert_eq!(
        ann.json(&["pipe", "list"]).as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn a_server_killed_during_a_push_lists_no_partial_object_and_the_next_push_converges() {
    let data = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start(data.path(), &[]);
    let ann = server_user(&server.url, "ann");
    ann.ok(&["pipe", "create", "demo"]);
    let folder = repo(&ann, "demo");
    std::fs::create_dir_all(&folder).unwrap();
    let mut files = Vec::new();
    for i in 0..200u32 {
        files.push((
            format!("part-{i:03}.bin"),
            vec![(i % 251) as u8; 1024 * 1024 + i as usize],
        ));
    }
    for i in 0..2u8 {
        files.push((format!("large-{i}.bin"), vec![i + 1; 24 * 1024 * 1024]));
    }
    for (path, bytes) in &files {
        std::fs::write(folder.join(path), bytes).unwrap();
    }
    let mut push = ann
        .command(&["push", "--pipe", "demo"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while server.log().matches("op=\"PutObject\"").count() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "no uploads seen:\n{}",
            server.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    server.signal_and_wait("-KILL");
    assert!(
        !push.wait().unwrap().success(),
        "the push must see the server die"
    );

    // Restarted on the same folder (new ports): whatever is listed is whole.
    let server = ServeProcess::start(data.path(), &[]);
    ann.ok(&["profile", "set", "server", &server.url]);
    let listed = ann.json(&["scan", "remote", "--pipe", "demo"]);
    let listed = listed["files"].as_array().unwrap().clone();
    assert!(
        listed.len() < files.len(),
        "the kill came after the push: {}",
        listed.len()
    );
    for file in &listed {
        let path = file["path"].as_str().unwrap();
        let (_, bytes) = files
            .iter()
            .find(|(p, _)| p == path)
            .expect("a pushed file");
        assert_eq!(
            file["size"].as_u64(),
            Some(bytes.len() as u64),
            "{path} is partial"
        );
    }
    // The rerun converges, and a reader gets every byte.
    let report = ann.json(&["push", "--pipe", "demo"]);
    assert_eq!(transferred(&report), files.len() - listed.len());
    assert_eq!(transferred(&ann.json(&["push", "--pipe", "demo"])), 0);
    let bob = server_user(&server.url, "bob");
    ann.ok(&["perm", "grant", "demo", "--user", "bob", "--role", "read"]);
    assert_eq!(
        transferred(&bob.json(&["pull", "--pipe", "demo"])),
        files.len()
    );
    for (path, bytes) in &files {
        assert_eq!(
            &std::fs::read(repo(&bob, "demo").join(path)).unwrap(),
            bytes,
            "{path}"
        );
    }
}
