//! Names and keys: awkward names that round-trip, and keys that must never become files here
//! (refused on a get, reported once by a scan).

use dpipe_storage::ErrorKind;

use super::{make_file, object, paths, round_trip};
use crate::backends::Backend;

const UGLY: [&str; 6] = [
    "with space/a file.csv",
    "ünïcødé/日本語 データ.txt",
    "100% done %41%2F.txt",
    "quotes/it's \"quoted\".txt",
    "sym+bols=&;,#@!~[](){}.txt",
    "dash-leading/-x .txt",
];

pub async fn ugly_names(b: &Backend) {
    let storage = b.storage();
    for (i, key) in UGLY.iter().enumerate() {
        round_trip(&storage, key, 1000 + i, 100 + i as u64).await;
    }
    let manifest = storage.scan("").await.unwrap();
    let mut want = UGLY.to_vec();
    want.sort();
    assert_eq!(paths(&manifest), want);
    assert!(manifest.rejected.is_empty(), "{:?}", manifest.rejected);
}

/// A key that no client would send, planted in the server's own folder: a backslash-separated
/// `..\..\evil.txt` (one file name on Unix, a path that climbs out on Windows and in naive code).
pub async fn unsafe_keys_reported(b: &Backend) {
    let storage = b.storage();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source");
    make_file(&source, 5, 1);
    storage.put(&source, "ok/fine.txt", None).await.unwrap();
    let planted = b.raw_root.join("ok").join("..\\..\\evil.txt");
    std::fs::write(&planted, b"evil").unwrap();

    let manifest = storage.scan("").await.unwrap();
    assert_eq!(
        paths(&manifest),
        ["ok/fine.txt"],
        "the planted key is no entry"
    );
    assert_eq!(
        manifest.rejected.len(),
        1,
        "the planted key is reported: {manifest:?}"
    );
    assert_eq!(manifest.rejected[0].key, "ok/..\\..\\evil.txt");

    let repo = local.path().join("repo").join("pipe");
    std::fs::create_dir_all(&repo).unwrap();
    for key in [
        "ok/..\\..\\evil.txt",
        "../evil.txt",
        "ok/../../evil.txt",
        "/etc/evil.txt",
        "a\0b",
    ] {
        let err = storage.get_into(&object(key, 4), &repo).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsafeKey, "{key:?}: {err}");
    }
    // Nothing was written anywhere: not in the repo, not beside it.
    assert!(std::fs::read_dir(&repo).unwrap().next().is_none());
    assert_eq!(
        std::fs::read_dir(local.path().join("repo"))
            .unwrap()
            .count(),
        1
    );
    assert!(!local.path().join("evil.txt").exists());

    // A link planted in the target folder is never followed, nor a folder created through it.
    let outside = local.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, repo.join("linked")).unwrap();
    for key in ["linked/new/fine.txt", "linked/fine.txt"] {
        storage.put(&source, key, None).await.unwrap();
        let err = storage.get_into(&object(key, 5), &repo).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsafeKey, "{key:?}: {err}");
    }
    assert!(std::fs::read_dir(&outside).unwrap().next().is_none());
}

/// Keys an S3 store holds that cannot become files here, planted next to fine ones (moto holds
/// them; a folder, s3s-fs, an FTP or SFTP server cannot: their keys are file names): each is
/// reported once, by its key, with its reason, and the fine files are entries. The marker of
/// the pipe's own folder is the folder, not a key.
pub async fn planted_keys_reported_once(b: &Backend) {
    use dpipe_core::manifest::{FILE_FOLDER_CLASH, FOLDER_MARKER, NAME_TOO_LONG};
    let long = format!("long/{}.txt", "l".repeat(300));
    let refused = [
        ("", "the pipe's folder"),
        ("//abs.txt", "absolute path"),
        // Listed twice once, through `a//` read as `a/`.
        ("a/../c.txt", "dot segment (`.` or `..`)"),
        ("a//b.txt", "empty path segment"),
        ("clash", FILE_FOLDER_CLASH),
        ("e/", FOLDER_MARKER),
        (long.as_str(), NAME_TOO_LONG),
        ("ok/", FOLDER_MARKER),
    ];
    for (key, _) in refused {
        crate::backends::plant_on_moto(b, key);
    }
    crate::backends::plant_on_moto(b, "clash/inner.txt");
    crate::backends::plant_on_moto(b, "ok/fine.txt");

    let manifest = b.storage().scan("").await.unwrap();
    assert_eq!(paths(&manifest), ["clash/inner.txt", "ok/fine.txt"]);
    let got: Vec<(&str, &str)> = manifest
        .rejected
        .iter()
        .map(|k| (k.key.as_str(), k.reason))
        .collect();
    assert_eq!(got, refused[1..], "each key once, with its reason");
    // A scan of a sub-folder names its keys relative to it.
    let sub = b.storage().scan("a").await.unwrap();
    let got: Vec<&str> = sub.rejected.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(got, ["../c.txt", "/b.txt"], "{sub:?}");
}
