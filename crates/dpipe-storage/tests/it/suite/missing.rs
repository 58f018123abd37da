//! Missing objects and deletes.

use std::path::PathBuf;

use dpipe_storage::ErrorKind;

use super::{leftovers, make_file, object, paths};
use crate::backends::Backend;

pub async fn missing_objects(b: &Backend) {
    let storage = b.storage();
    let into = tempfile::tempdir().unwrap();
    let err = storage
        .get_into(&object("no/such.txt", 5), into.path())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(
        err.to_string().contains("no/such.txt"),
        "the error names the path: {err}"
    );
    assert!(!into.path().join("no/such.txt").exists());
    assert_eq!(leftovers(into.path()), Vec::<PathBuf>::new());
    assert_eq!(
        storage.stat("no-such.txt").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let err = storage
        .put(&into.path().join("absent"), "x.txt", None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

pub async fn delete(b: &Backend) {
    let storage = b.storage();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source");
    make_file(&source, 123, 9);
    storage.put(&source, "d/gone.txt", None).await.unwrap();
    storage.put(&source, "d/kept.txt", None).await.unwrap();
    storage.delete("d/gone.txt").await.unwrap();
    assert_eq!(
        storage.stat("d/gone.txt").await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(paths(&storage.scan("").await.unwrap()), ["d/kept.txt"]);
    storage
        .delete("d/gone.txt")
        .await
        .expect("deleting a missing key succeeds");
    assert_eq!(
        storage.delete("../d/kept.txt").await.unwrap_err().kind(),
        ErrorKind::UnsafeKey
    );
    assert_eq!(paths(&storage.scan("").await.unwrap()), ["d/kept.txt"]);
}
