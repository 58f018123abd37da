//! Hostile keys are values, never paths: whatever the key, nothing is created outside the
//! store's folder, and inside it only the index, the blob shards and `tmp/` exist.

use std::path::Path;

use crate::support::*;

/// Asserts that the store folder holds only what the store writes, and that its parent
/// holds only the store folder.
fn assert_only_store_files(root: &Path) {
    let parent = root.parent().unwrap();
    let siblings: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(siblings, ["objects"], "nothing beside the store folder");
    for entry in std::fs::read_dir(root).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            [
                "index.sqlite",
                "index.sqlite-wal",
                "index.sqlite-shm",
                "blobs",
                "tmp"
            ]
            .contains(&name.as_str()),
            "unexpected {name:?} in the store folder"
        );
    }
    for file in files_under(&root.join("blobs")) {
        let rel = file.strip_prefix(root.join("blobs")).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(parts.len(), 2, "{rel:?}");
        assert!(parts[0].len() == 2 && parts[1].len() == 32, "{rel:?}");
        assert!(parts[1].starts_with(&parts[0]), "{rel:?}");
        assert!(parts[1].chars().all(|c| c.is_ascii_hexdigit()), "{rel:?}");
    }
    assert!(files_under(&root.join("tmp")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_keys_stay_inside_the_store() {
    let server = Server::start().await;
    let c = server.admin();
    let hostile = [
        "../x",
        "a/../../x",
        "%2e%2e/x",
        "/abs",
        "//double",
        "a\\b",
        "..\\..\\win",
        "tab\tand\nnewline",
        ".",
        "..",
        "blobs/00/../../index.sqlite",
    ];
    for (i, key) in hostile.iter().enumerate() {
        let data = format!("hostile {i}").into_bytes();
        put(&c, key, data.clone()).await;
        assert_eq!(get(&c, key).await, data, "{key:?} round-trips");
    }
    let listed = keys(&c, "").await;
    assert_eq!(listed.len(), hostile.len(), "{listed:?}");
    for key in hostile {
        assert!(listed.contains(&key.to_owned()), "{key:?} listed as itself");
    }
    // Keys XML 1.0 cannot carry (NUL, most control characters) would break every listing
    // of the bucket: refused.
    for key in ["nul\0key", "bell\u{7}", "cr\rkey", "esc\u{1b}[31m"] {
        let err = c
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(err), "InvalidArgument", "{key:?}");
        let err = c
            .create_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(err), "InvalidArgument", "{key:?}");
    }
    assert_eq!(keys(&c, "").await.len(), hostile.len());
    assert_only_store_files(server.root());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_dot_dot_paths_are_keys_too() {
    let server = Server::start().await;
    for target in [
        format!("/{BUCKET}/%2e%2e/%2e%2e/raw1"),
        format!("/{BUCKET}/..%2f..%2fraw2"),
        format!("/{BUCKET}/%2Fetc%2Fraw3"),
    ] {
        let (status, answer) = send_raw(
            server.addr,
            Raw {
                method: "PUT",
                target: &target,
                headers: vec![],
                body: b"raw".to_vec(),
                sign_as: Some(("admin", "secret-of-admin")),
                payload: None,
            },
        )
        .await;
        assert_eq!(status, 200, "{target}: {answer}");
    }
    let mut listed = keys(&server.admin(), "").await;
    listed.sort();
    assert_eq!(listed, ["../../raw1", "../../raw2", "/etc/raw3"]);
    assert_only_store_files(server.root());
}
