//! Scans: nested folders, sub-folders and shallow listings of chosen folders.

use dpipe_storage::ErrorKind;

use super::{make_file, paths};
use crate::backends::Backend;

pub async fn scan_nested(b: &Backend) {
    let storage = b.storage();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source");
    make_file(&source, 10, 7);
    for key in [
        "top.txt",
        "a/one.txt",
        "a/b/two.txt",
        "a/b/c/three.txt",
        "ab/four.txt",
    ] {
        storage
            .put(&source, key, None)
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
    }
    let all = storage.scan("").await.unwrap();
    assert_eq!(
        paths(&all),
        [
            "a/b/c/three.txt",
            "a/b/two.txt",
            "a/one.txt",
            "ab/four.txt",
            "top.txt"
        ]
    );
    assert_eq!(all.total_size(), 50);
    assert_eq!(
        paths(&storage.scan("a").await.unwrap()),
        ["b/c/three.txt", "b/two.txt", "one.txt"]
    );
    assert_eq!(
        paths(&storage.scan("/a/b/").await.unwrap()),
        ["c/three.txt", "two.txt"]
    );
    assert_eq!(paths(&storage.scan("ab").await.unwrap()), ["four.txt"]);
    match storage.scan("nothing-here").await {
        Ok(m) => assert!(m.entries.is_empty()),
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound, "{e}"),
    }
    assert_eq!(
        storage.scan("../x").await.unwrap_err().kind(),
        ErrorKind::UnsafeKey
    );
}

/// `scan_folders` lists the files directly in the folders asked for, not below them.
pub async fn scan_folders_is_shallow(b: &Backend) {
    let storage = b.storage();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source");
    make_file(&source, 10, 25);
    for key in ["top.txt", "a/one.txt", "a/b/two.txt", "c/three.txt"] {
        storage.put(&source, key, None).await.unwrap();
    }
    let folders = ["".to_string(), "a".to_string()].into_iter().collect();
    let found = storage.scan_folders(&folders).await.unwrap();
    assert_eq!(paths(&found), ["a/one.txt", "top.txt"]);
    assert!(found.entries.iter().all(|e| e.size == 10));
    let none = storage
        .scan_folders(&["missing".to_string()].into_iter().collect())
        .await;
    assert!(
        none.as_ref().is_ok_and(|m| m.entries.is_empty())
            || none
                .as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::NotFound),
        "{none:?}"
    );
}
