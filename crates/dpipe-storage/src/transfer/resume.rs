//! Which downloads resume, and where their partial files live. A large download (at least
//! [`Tuning::part_size`]) is written to a temporary file named after the object's version
//! (key, size, and ETag or else time: [`download_part_name`]) in the target's folder, and kept
//! when the download is cut; the next get of the same version finds it, keeps its bytes (hashed
//! again, so the whole file is still verified end to end) and fetches only the rest. A changed
//! object has another name, so an old partial file never mixes in: the next pull of the
//! folder deletes it ([`leftovers_to_remove`]), as it does one older than
//! [`Tuning::leftover_age`].
//!
//! [`Tuning::part_size`]: crate::Tuning::part_size
//! [`Tuning::leftover_age`]: crate::Tuning::leftover_age

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use crate::manifest::{Manifest, ManifestEntry, TEMP_PREFIX};
use crate::operator::Tuning;

/// Bytes at the end of a kept partial file that a resumed download fetches again and
/// compares: where the storage has no checksum (a folder, FTP, SFTP), the size is all the final
/// check knows, and this catches a tail the disk lost (a power cut) or a file not the object's.
pub(crate) const OVERLAP: u64 = 64 * 1024;

/// What follows [`TEMP_PREFIX`] in the name of a resumable download's file.
const PART_INFIX: &str = "get-";
/// The end of the name of a resumable download's file.
const PART_SUFFIX: &str = ".part";

/// Whether a download of `size` bytes goes to a resumable file: smaller ones gain too little
/// from a resume to give up the random name (and the single disk access of a small file).
pub(crate) fn resumable(tuning: &Tuning, size: u64) -> bool {
    size >= tuning.part_size as u64
}

/// The name (no folder) of the partial file of a download of `object`:
/// `.dpipe-get-<16 hex>.part`, the hex the start of the SHA-256 of its key, size, and ETag
/// (or, without one, time). Another version of the object gets another name.
pub fn download_part_name(object: &ManifestEntry) -> String {
    let version = match (&object.etag, object.modified) {
        (Some(etag), _) => format!("etag {etag}"),
        (None, Some(time)) => {
            let ns = time.duration_since(UNIX_EPOCH).unwrap_or_default();
            format!("time {}", ns.as_nanos())
        }
        (None, None) => String::new(),
    };
    let id = Sha256::digest(format!("{}\n{}\n{version}", object.path, object.size));
    format!(
        "{TEMP_PREFIX}{PART_INFIX}{}{PART_SUFFIX}",
        &hex::encode(id)[..16]
    )
}

/// Whether `name` (no folder) is the partial file of a resumable download.
pub fn is_download_part(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_prefix(PART_INFIX))
        .and_then(|rest| rest.strip_suffix(PART_SUFFIX))
        .is_some_and(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Of the `leftovers` a scan of `folder` (the local folder of a pipe whose storage lists
/// `remote`) found — temporary files of killed runs and partial downloads — those to delete:
/// every one that is not a partial download, and the partial downloads of an object that is
/// gone or changed (no object of `remote` would resume from them) or last written more than
/// `max_age` ago.
pub fn leftovers_to_remove(
    folder: &Path,
    leftovers: Vec<PathBuf>,
    remote: &Manifest,
    max_age: Duration,
) -> Vec<PathBuf> {
    let is_part = |path: &Path| {
        path.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(is_download_part)
    };
    if !leftovers.iter().any(|p| is_part(p)) {
        return leftovers;
    }
    let resumable: HashSet<PathBuf> = remote
        .entries
        .iter()
        .map(|object| part_path(&folder.join(&object.path), object))
        .collect();
    let now = SystemTime::now();
    leftovers
        .into_iter()
        .filter(|path| {
            if !is_part(path) || !resumable.contains(path) {
                return true;
            }
            std::fs::symlink_metadata(path)
                .and_then(|meta| meta.modified())
                .is_ok_and(|time| now.duration_since(time).unwrap_or_default() > max_age)
        })
        .collect()
}

/// Where the partial file of a download of `object` to `dest` lives: next to `dest`.
pub(crate) fn part_path(dest: &Path, object: &ManifestEntry) -> PathBuf {
    dest.with_file_name(download_part_name(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(path: &str, size: u64, etag: Option<&str>) -> ManifestEntry {
        ManifestEntry {
            path: path.to_string(),
            size,
            modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            etag: etag.map(str::to_string),
            sha256: None,
            md5: None,
        }
    }

    #[test]
    fn each_version_of_an_object_has_its_own_part_name() {
        let name = download_part_name(&object("a/b.bin", 10, Some("e1")));
        assert!(is_download_part(&name), "{name}");
        assert_eq!(name, download_part_name(&object("a/b.bin", 10, Some("e1"))));
        for other in [
            object("a/c.bin", 10, Some("e1")),
            object("a/b.bin", 11, Some("e1")),
            object("a/b.bin", 10, Some("e2")),
            object("a/b.bin", 10, None),
        ] {
            assert_ne!(name, download_part_name(&other));
        }
        for not in [
            ".dpipe-12-Ab12.part",
            ".dpipe-get-xyz.part",
            ".dpipe-get-0123456789abcdef.tmp",
        ] {
            assert!(!is_download_part(not), "{not}");
        }
    }

    #[test]
    fn only_parts_of_listed_versions_younger_than_the_age_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let listed = object("d/big.bin", 100, Some("e1"));
        let changed = object("d/big.bin", 100, Some("e0"));
        let kept = part_path(&dir.path().join("d/big.bin"), &listed);
        let stale = part_path(&dir.path().join("d/big.bin"), &changed);
        let other = dir.path().join("d/.dpipe-99999999-Ab12.part");
        std::fs::create_dir_all(dir.path().join("d")).unwrap();
        for path in [&kept, &stale, &other] {
            std::fs::write(path, "x").unwrap();
        }
        let remote = Manifest {
            entries: vec![listed],
            rejected: Vec::new(),
        };
        let all = vec![kept.clone(), stale.clone(), other.clone()];
        let day = Duration::from_secs(86_400);
        let removed = leftovers_to_remove(dir.path(), all.clone(), &remote, day);
        assert_eq!(removed, vec![stale.clone(), other.clone()]);
        // Past the age, the part of the listed version goes too.
        let old = SystemTime::now() - 2 * day;
        std::fs::File::options()
            .write(true)
            .open(&kept)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(
            leftovers_to_remove(dir.path(), all.clone(), &remote, day),
            all
        );
    }
}
