//! The storage behaviour suite: every case runs against every [`Backend`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dpipe_storage::{ErrorKind, Location, ManifestEntry, Protocol, Storage, hash_file};
use sha2::{Digest as _, Sha256};

use crate::backends::{Backend, PART_SIZE, tuning};

/// Writes `size` deterministic pseudo-random bytes (from `seed`) to `path`; returns their SHA-256.
fn make_file(path: &Path, size: usize, seed: u64) -> String {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut sha = Sha256::new();
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len());
        for chunk in buf[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        sha.update(&buf[..n]);
        file.write_all(&buf[..n]).unwrap();
        left -= n;
    }
    file.flush().unwrap();
    hex::encode(sha.finalize())
}

/// Puts a fresh file of `size` bytes at `key`, gets it back into a fresh folder, checks both
/// hashes, the stat and the downloaded bytes.
async fn round_trip(storage: &Storage, key: &str, size: usize, seed: u64) {
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source");
    let sha = make_file(&source, size, seed);
    // Odd seeds give the SHA-256 as a scan would; even ones let the upload find it.
    let known = (seed % 2 == 1).then_some(sha.as_str());
    let put = storage
        .put(&source, key, known)
        .await
        .unwrap_or_else(|e| panic!("put {key:?} ({size} B): {e}"));
    assert_eq!(
        (put.size, put.sha256.as_str()),
        (size as u64, sha.as_str()),
        "put {key:?}"
    );
    let stat = storage
        .stat(key)
        .await
        .unwrap_or_else(|e| panic!("stat {key:?}: {e}"));
    assert_eq!(stat.size, size as u64, "stat {key:?}");
    if storage.protocol() == Protocol::S3 {
        // Uploaded in parts: the ETag is no MD5, so dpipe keeps the SHA-256 with the object.
        let multipart = size > PART_SIZE;
        assert_eq!(
            stat.sha256.as_deref(),
            multipart.then_some(sha.as_str()),
            "S3 keeps dpipe's SHA-256 in metadata exactly for multipart objects"
        );
    }
    // The get starts from the object as a scan lists it (no ETag on s3s-fs, no SHA-256 in any
    // S3 listing): what it verifies against comes from the GET's own response then.
    let folder = key.rsplit_once('/').map_or("", |(folder, _)| folder);
    let listed = storage.scan(folder).await.unwrap();
    let name = key.rsplit_once('/').map_or(key, |(_, name)| name);
    let mut object = listed
        .get(name)
        .unwrap_or_else(|| panic!("{key:?} listed in {listed:?}"))
        .clone();
    object.path = key.to_string();
    let into = local.path().join("into");
    std::fs::create_dir(&into).unwrap();
    let got = storage
        .get_into(&object, &into)
        .await
        .unwrap_or_else(|e| panic!("get {key:?} ({size} B): {e}"));
    assert_eq!(
        (got.size, got.sha256.as_str()),
        (size as u64, sha.as_str()),
        "get {key:?}"
    );
    assert_eq!(
        hash_file(&into.join(key)).await.unwrap(),
        sha,
        "downloaded bytes of {key:?}"
    );
    assert_eq!(
        leftovers(&into),
        Vec::<PathBuf>::new(),
        "no temporary file left"
    );
}

/// Temporary files of dpipe left anywhere under `dir`.
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".dpipe-")
            {
                found.push(path);
            }
        }
    }
    found
}

/// An object as a listing could describe it: only its key and size.
fn object(key: &str, size: u64) -> ManifestEntry {
    ManifestEntry {
        path: key.to_string(),
        size,
        modified: None,
        etag: None,
        sha256: None,
        md5: None,
    }
}

fn paths(manifest: &dpipe_storage::Manifest) -> Vec<&str> {
    manifest.entries.iter().map(|e| e.path.as_str()).collect()
}

pub async fn round_trip_sizes(b: &Backend) {
    let storage = b.storage();
    let sizes = [
        0,
        1,
        PART_SIZE - 1,
        PART_SIZE,
        PART_SIZE + 1,
        2 * PART_SIZE + 3,
    ];
    for (i, size) in sizes.into_iter().enumerate() {
        if size == 0 && b.protocol() == Protocol::Ftp {
            // A known gap (OpenDAL's FTP writer): refused loudly, never a silent no-op.
            let empty = tempfile::NamedTempFile::new().unwrap();
            let err = storage
                .put(empty.path(), "sizes/empty.bin", None)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
            continue;
        }
        round_trip(&storage, &format!("sizes/f{i}-{size}.bin"), size, i as u64).await;
    }
    let manifest = storage.scan("sizes").await.unwrap();
    let got: Vec<(String, u64)> = manifest
        .entries
        .iter()
        .map(|e| (e.path.clone(), e.size))
        .collect();
    let mut want: Vec<(String, u64)> = sizes
        .iter()
        .enumerate()
        .filter(|(_, s)| **s > 0 || b.protocol() != Protocol::Ftp)
        .map(|(i, s)| (format!("f{i}-{s}.bin"), *s as u64))
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert!(
        manifest.entries.iter().all(|e| e.modified.is_some()),
        "every entry has an mtime: {manifest:?}"
    );
    assert!(manifest.rejected.is_empty());
}

pub async fn big_file(b: &Backend) {
    let storage = b.storage();
    let start = Instant::now();
    round_trip(&storage, "big/100MiB.bin", 100 << 20, 42).await;
    eprintln!(
        "{}: 100 MiB put + get in {:.1?}",
        b.protocol(),
        start.elapsed()
    );
}

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

pub async fn wrong_credentials(b: &Backend) {
    let mut location: Location = b.location.clone();
    match location.protocol {
        Protocol::S3 => {
            location
                .credentials
                .insert("aws_secret_access_key".into(), "wrong-secret".into());
        }
        Protocol::Ftp => {
            location
                .credentials
                .insert("password".into(), "wrong-password".into());
        }
        Protocol::Sftp if location.credentials.contains_key("password") => {
            location
                .credentials
                .insert("password".into(), "wrong-password".into());
        }
        Protocol::Sftp => {
            // A key the server never authorized.
            let dir = tempfile::tempdir().unwrap();
            let key = dir.path().join("other");
            let status = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&key)
                .status()
                .unwrap();
            assert!(status.success());
            location
                .credentials
                .insert("private_key".into(), std::fs::read_to_string(&key).unwrap());
        }
        Protocol::Fs => unreachable!("a local folder has no credentials"),
    }
    let storage = Storage::connect(&location, tuning()).unwrap();
    let err = storage.scan("").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    for secret in ["wrong-secret", "wrong-password", "PRIVATE KEY"] {
        assert!(
            !err.to_string().contains(secret),
            "the error shows no secret: {err}"
        );
        assert!(
            !format!("{storage:?}{location:?}").contains(secret),
            "Debug shows no secret"
        );
    }
}

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
