//! The storage behaviour suite: every case runs against every [`Backend`].
//!
//! The cases, by family: [`sizes`] (round trips of every size), [`names`] (awkward names and
//! keys refused), [`scans`] (listings), [`missing`] (missing objects and deletes),
//! [`credentials`] (wrong credentials), [`integrity`] (dpipe's temporary files, stale
//! listings, changed sources, staged batches). This module holds the helpers they share.

mod credentials;
mod integrity;
mod missing;
mod names;
mod scans;
mod sizes;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use dpipe_storage::{ManifestEntry, Protocol, Storage, hash_file};
use sha2::{Digest as _, Sha256};

use crate::backends::PART_SIZE;

pub use credentials::wrong_credentials;
pub use integrity::{own_temp_files_and_hash, staged_in_batches, stale_listing_and_changed_source};
pub use missing::{delete, missing_objects};
pub use names::{planted_keys_reported_once, ugly_names, unsafe_keys_reported};
pub use scans::{scan_folders_is_shallow, scan_nested};
pub use sizes::{big_file, round_trip_sizes};

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
