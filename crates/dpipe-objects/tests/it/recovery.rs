//! Opening a store after a crash: stray temp files and unreferenced blobs are deleted,
//! abandoned uploads aborted, acknowledged objects kept; one process at a time.

use std::time::Duration;

use dpipe_objects::{ErrorKind, ObjectStore, StoreOptions};

use crate::support::*;

/// Opens `root`, waiting for the previous owner (a stopped server) to let go.
fn reopen(root: &std::path::Path, options: &StoreOptions) -> ObjectStore {
    for _ in 0..100 {
        match ObjectStore::open_with(root, options) {
            Ok(store) => return store,
            Err(e) if e.kind() == ErrorKind::Locked => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("reopen: {e}"),
        }
    }
    panic!("the store stayed locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_after_a_crash_cleans_the_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path()).await;
    let root = server.root().to_path_buf();
    let c = server.admin();
    let data = bytes(100_000, 5);
    let etag = put(&c, "kept", data.clone()).await;
    let id = c
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("abandoned")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();
    c.upload_part()
        .bucket(BUCKET)
        .key("abandoned")
        .upload_id(&id)
        .part_number(1)
        .body(bytes(1000, 6).into())
        .send()
        .await
        .unwrap();
    assert_eq!(server.blob_count(), 2);
    drop(c);
    server.stop().await;

    // What a kill -9 leaves: a half-written temp file, a renamed blob no row names.
    std::fs::write(
        root.join("tmp").join("0123456789abcdef0123456789abcdef"),
        b"half",
    )
    .unwrap();
    let stray = root
        .join("blobs")
        .join("ab")
        .join("ab000000000000000000000000000000");
    std::fs::write(&stray, b"orphan").unwrap();
    std::fs::write(
        root.join("blobs").join("cd").join("not-a-blob-name"),
        b"junk",
    )
    .unwrap();

    // A young upload survives a reopen.
    let store = reopen(&root, &StoreOptions::default());
    assert!(files_under(&root.join("tmp")).is_empty());
    assert!(!stray.exists());
    assert_eq!(
        files_under(&root.join("blobs")).len(),
        2,
        "the object and the part"
    );
    drop(store);
    // An old one is aborted.
    let store = reopen(
        &root,
        &StoreOptions {
            abandon_uploads_after: Duration::ZERO,
        },
    );
    assert_eq!(files_under(&root.join("blobs")).len(), 1, "the object only");
    drop(store);

    let server = Server::start_in(dir.path()).await;
    let c = server.admin();
    assert_eq!(get(&c, "kept").await, data);
    let listed = c.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    assert_eq!(listed.contents().len(), 1);
    assert_eq!(listed.contents()[0].e_tag(), Some(etag.as_str()));
    let err = c
        .list_parts()
        .bucket(BUCKET)
        .key("abandoned")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(err), "NoSuchUpload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_at_a_time() {
    let server = Server::start().await;
    let err = ObjectStore::open(server.root()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Locked);
    assert!(err.to_string().contains("in use"), "{err}");
}

#[test]
fn bucket_names_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let store = ObjectStore::open(dir.path()).unwrap();
    for bad in ["", "UPPER", "a", "has space", "../up"] {
        let err = store.ensure_bucket(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
    }
    store.ensure_bucket("fine-bucket").unwrap();
    store.ensure_bucket("fine-bucket").unwrap();
    assert!(store.has_bucket("fine-bucket"));
    drop(store);
    let store = ObjectStore::open(dir.path()).unwrap();
    assert!(store.has_bucket("fine-bucket"), "buckets survive a reopen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_acknowledged_is_in_a_copy_taken_without_a_shutdown() {
    let server = Server::start().await;
    let c = server.admin();
    let mut want = Vec::new();
    for i in 0..20 {
        let data = bytes(50_000 + i, i as u64);
        put(&c, &format!("ack/{i}"), data.clone()).await;
        want.push(data);
    }
    // The folder as a crash would leave it: copied while serving, WAL and all.
    let copy = tempfile::tempdir().unwrap();
    let target = copy.path().join("objects");
    copy_dir(server.root(), &target);
    let store = ObjectStore::open(&target).unwrap();
    drop(store);
    drop(c);
    let server2 = Server::start_in(copy.path()).await;
    let c2 = server2.admin();
    for (i, data) in want.iter().enumerate() {
        assert_eq!(&get(&c2, &format!("ack/{i}")).await, data);
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
