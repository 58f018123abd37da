//! Round trips of every size around the part size, and one big file.

use std::time::Instant;

use dpipe_storage::{ErrorKind, Protocol};

use super::round_trip;
use crate::backends::{Backend, PART_SIZE};

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
