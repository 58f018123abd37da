//! dpipe's temporary files and integrity: partial files never listed, stale listings and
//! changed sources refused, downloads staged and committed in batches.

use std::path::PathBuf;

use dpipe_storage::{ErrorKind, Protocol, hash_file};

use super::{leftovers, make_file, paths};
use crate::backends::{Backend, PART_SIZE};

/// A partial file dpipe left behind (`.dpipe-*`, from a killed run) is never listed as a file
/// of the pipe; `hash_object` streams an object's SHA-256 without writing anything.
pub async fn own_temp_files_and_hash(b: &Backend) {
    let storage = b.storage();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source");
    let sha = make_file(&source, 3 * PART_SIZE + 5, 11);
    storage.put(&source, "d/data.bin", None).await.unwrap();
    let raw = b.raw_root.join("d/.dpipe-123-4-5.part");
    std::fs::write(&raw, "partial").unwrap();
    let all = storage.scan("").await.unwrap();
    assert_eq!(paths(&all), ["d/data.bin"]);
    assert_eq!(storage.hash_object(&all.entries[0]).await.unwrap(), sha);
    assert_eq!(leftovers(local.path()), Vec::<PathBuf>::new());
}

/// The object as listed is what a get verifies against: replaced since (another size), the get
/// fails as an integrity error and leaves neither a partial nor a final file. A put given the
/// SHA-256 of an earlier version of its file (a scan hashed it, then it changed) is refused the
/// same way, and the remote keeps the version it had.
pub async fn stale_listing_and_changed_source(b: &Backend) {
    let storage = b.storage();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source");
    make_file(&source, 2 * PART_SIZE + 1, 21);
    storage.put(&source, "d/data.bin", None).await.unwrap();
    let listed = storage.scan("").await.unwrap().entries[0].clone();
    make_file(&source, PART_SIZE + 7, 22);
    storage.put(&source, "d/data.bin", None).await.unwrap();

    let into = local.path().join("into");
    std::fs::create_dir(&into).unwrap();
    let err = storage.get_into(&listed, &into).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity, "{err}");
    assert!(!into.join("d/data.bin").exists());
    assert_eq!(leftovers(&into), Vec::<PathBuf>::new());

    let first = make_file(&source, 5, 20);
    storage.put(&source, "d/changed.bin", None).await.unwrap();
    for size in [10, 2 * PART_SIZE + 3] {
        let earlier = make_file(&source, size, 23);
        make_file(&source, size, 24);
        let err = storage
            .put(&source, "d/changed.bin", Some(&earlier))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity, "{size} B: {err}");
        let all = storage.scan("").await.unwrap();
        assert_eq!(paths(&all), ["d/changed.bin", "d/data.bin"], "{size} B");
        assert!(all.rejected.is_empty(), "{size} B: {:?}", all.rejected);
        // FTP cannot abort an upload: the file as read (a whole version of it) went up.
        let kept = if b.protocol() == Protocol::Ftp {
            hash_file(&source).await.unwrap()
        } else {
            first.clone()
        };
        assert_eq!(
            storage.hash_object(&all.entries[0]).await.unwrap(),
            kept,
            "{size} B: the remote keeps its earlier version"
        );
    }
}

/// Downloads staged and committed by a `Stager`: more files than one batch holds, all in place
/// and whole after `finish`; none of the last batch at its final name before it. A file whose
/// rename fails (a folder holds its final name) is reported alone, its temporary file deleted.
pub async fn staged_in_batches(b: &Backend) {
    const FILES: usize = 260; // more than a batch (256 files)
    let storage = b.storage();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source");
    let mut sha = std::collections::BTreeMap::new();
    for i in 0..FILES {
        let key = format!("batch/f{i:03}");
        sha.insert(key.clone(), make_file(&source, 100 + i, i as u64));
        storage.put(&source, &key, None).await.unwrap();
    }
    let into = local.path().join("into");
    let blocked = into.join("batch/f259");
    std::fs::create_dir_all(blocked.join("kept")).unwrap();

    let stager = dpipe_storage::Stager::new();
    let listed = storage.scan("batch").await.unwrap();
    assert_eq!(listed.entries.len(), FILES);
    for entry in &listed.entries {
        let mut object = entry.clone();
        object.path = format!("batch/{}", entry.path);
        let staged = storage.stage_into(&object, &into).await.unwrap();
        assert_eq!(staged.key(), object.path);
        assert_eq!(staged.transferred().sha256, sha[&object.path]);
        stager.add(staged);
    }
    assert!(
        !into.join("batch/f258").exists(),
        "the last batch is not in place before finish"
    );
    let failed = stager.finish().await;
    let keys: Vec<&str> = failed.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["batch/f259"], "{failed:?}");
    assert!(
        blocked.join("kept").is_dir(),
        "the folder in the way is kept"
    );
    for (key, want) in sha.iter().filter(|(key, _)| key.as_str() != "batch/f259") {
        assert_eq!(hash_file(&into.join(key)).await.unwrap(), *want, "{key}");
    }
    assert_eq!(leftovers(&into), Vec::<PathBuf>::new());
}
