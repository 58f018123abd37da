//! Builders for the planner's table-driven tests: manifest entries as each protocol lists
//! them, sync records, requests. Hashes are fake but deterministic and well-formed.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Merge, Mode, PlanRequest};
use crate::filter::Filter;
use crate::manifest::{Manifest, ManifestEntry, RejectedKey, SyncedFile};

fn digest(salt: &str, content: &str) -> u64 {
    let mut h = DefaultHasher::new();
    (salt, content).hash(&mut h);
    h.finish()
}

/// The instant `secs` seconds after the epoch.
pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A fake MD5: 32 hex digits determined by `content`.
pub fn md5_of(content: &str) -> String {
    format!(
        "{:016x}{:016x}",
        digest("md5a", content),
        digest("md5b", content)
    )
}

/// A fake SHA-256: 64 hex digits determined by `content`.
pub fn sha_of(content: &str) -> String {
    format!("{}{}", md5_of(content), md5_of(&format!("{content}#2")))
}

/// A multipart ETag (`<hex>-<parts>`) for `content`.
pub fn multipart_etag(content: &str) -> String {
    format!("{}-3", md5_of(&format!("{content}#parts")))
}

fn entry(path: &str, size: usize, secs: u64) -> ManifestEntry {
    ManifestEntry {
        path: path.into(),
        size: size as u64,
        modified: Some(at(secs)),
        etag: None,
        sha256: None,
        md5: None,
    }
}

/// A local file: always hashed (SHA-256 and MD5).
pub fn local(path: &str, content: &str, secs: u64) -> ManifestEntry {
    ManifestEntry {
        sha256: Some(sha_of(content)),
        md5: Some(md5_of(content)),
        ..entry(path, content.len(), secs)
    }
}

/// An S3 object uploaded in one part by another tool: ETag = MD5, no stored SHA-256.
pub fn s3(path: &str, content: &str, secs: u64) -> ManifestEntry {
    ManifestEntry {
        etag: Some(md5_of(content)),
        ..entry(path, content.len(), secs)
    }
}

/// An S3 object uploaded by dpipe in one part: ETag = MD5 and the stored SHA-256.
pub fn dpipe_upload(path: &str, content: &str, secs: u64) -> ManifestEntry {
    ManifestEntry {
        sha256: Some(sha_of(content)),
        ..s3(path, content, secs)
    }
}

/// An S3 object uploaded by dpipe in parts: a multipart ETag and the stored SHA-256.
pub fn multipart(path: &str, content: &str, secs: u64) -> ManifestEntry {
    ManifestEntry {
        etag: Some(multipart_etag(content)),
        sha256: Some(sha_of(content)),
        ..entry(path, content.len(), secs)
    }
}

/// An FTP/SFTP/fs listing entry: size and mtime only.
pub fn ftp(path: &str, size: usize, secs: u64) -> ManifestEntry {
    entry(path, size, secs)
}

/// The record of a sync that left `local` and `remote` in place.
pub fn record(local: &ManifestEntry, remote: &ManifestEntry) -> SyncedFile {
    SyncedFile {
        path: local.path.clone(),
        size: local.size,
        sha256: local.sha256.clone().expect("local entries are hashed"),
        local_modified: local.modified,
        remote_etag: remote.etag.clone(),
        remote_modified: remote.modified,
    }
}

/// A manifest of `entries` (sorted) and `rejected` keys.
pub fn manifest(mut entries: Vec<ManifestEntry>, rejected: &[&str]) -> Manifest {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Manifest {
        entries,
        rejected: rejected
            .iter()
            .map(|k| RejectedKey {
                key: (*k).into(),
                reason: "dot segment (`.` or `..`)",
            })
            .collect(),
    }
}

/// Sync records of every path present in both manifests.
pub fn synced_all(local: &Manifest, remote: &Manifest) -> BTreeMap<String, SyncedFile> {
    local
        .entries
        .iter()
        .filter_map(|l| remote.get(&l.path).map(|r| (l.path.clone(), record(l, r))))
        .collect()
}

/// A request in `mode` with no filter, file list, nrecent or merge.
pub fn req(mode: Mode) -> PlanRequest {
    PlanRequest {
        mode,
        ..PlanRequest::default()
    }
}

/// A request with a filter.
pub fn filtered(include: Option<&str>, exclude: Option<&str>) -> PlanRequest {
    PlanRequest {
        filter: Filter::new(include, exclude).unwrap(),
        ..PlanRequest::default()
    }
}

/// A request for exactly `files`.
pub fn files(names: &[&str], merge: Option<Merge>) -> PlanRequest {
    PlanRequest {
        files: Some(names.iter().map(|n| n.to_string()).collect()),
        merge,
        ..PlanRequest::default()
    }
}
