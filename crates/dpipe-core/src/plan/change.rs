//! Content comparison: whether two versions of a file hold the same bytes, and whether one
//! side changed since the last sync — by hash wherever a hash exists, never by mtime alone.
//!
//! Evidence, strongest first:
//! 1. SHA-256 on both sides (local files are always hashed; dpipe stores the full-file SHA-256
//!    in object metadata when it uploads, so multipart objects have one too).
//! 2. On S3 only, the local MD5 against a single-part ETag (32 hex digits). A multipart ETag
//!    (`<hex>-<parts>`) is an MD5 of MD5s and never equals a file's MD5: it is not compared.
//! 3. Different sizes: different content.
//! 4. The last-sync record: the remote still looks as it did right after the sync (same ETag,
//!    or same size and an mtime within the protocol's window — FTP/SFTP have no server hash)
//!    and the local file still has the SHA-256 that was synced: same content.
//!
//! Anything else is [`Sameness::Unknown`], which the planner treats as a change: a transfer,
//! never a silent skip.

use std::time::{Duration, SystemTime};

use crate::manifest::{ManifestEntry, SyncedFile};
use crate::protocol::Protocol;

/// How a protocol's metadata may be trusted to detect changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeRules {
    /// The storage protocol of the remote side.
    pub protocol: Protocol,
    /// How far apart two mtimes of an unchanged remote file may be: MDTM and directory
    /// listings round times differently, so equality is too strict for FTP/SFTP.
    pub mtime_window: Duration,
}

impl ChangeRules {
    /// The rules of `protocol`: S3 and fs report exact times (0 s window), SFTP whole seconds
    /// (2 s), FTP seconds or, from `LIST`, only minutes (60 s).
    pub fn for_protocol(protocol: Protocol) -> ChangeRules {
        let secs = match protocol {
            Protocol::S3 | Protocol::Fs => 0,
            Protocol::Sftp => 2,
            Protocol::Ftp => 60,
        };
        ChangeRules {
            protocol,
            mtime_window: Duration::from_secs(secs),
        }
    }

    /// Whether two mtimes are the same within the window; unknown times never are.
    fn same_time(&self, a: Option<SystemTime>, b: Option<SystemTime>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => {
                let gap = a.duration_since(b).or_else(|_| b.duration_since(a));
                gap.is_ok_and(|gap| gap <= self.mtime_window)
            }
            _ => false,
        }
    }
}

/// Whether two versions of a file hold the same content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sameness {
    /// Shown to be the same.
    Same,
    /// Shown to differ.
    Different,
    /// Cannot be told apart with what is known; to be treated as changed.
    Unknown,
}

/// Whether `etag` is the MD5 of a single-part upload: exactly 32 hex digits (a multipart ETag
/// has a `-<parts>` suffix).
pub fn is_single_part_etag(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

fn same_hash(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Compares the local and the remote version of a file (see the module docs for the order
/// of evidence). `synced` is the record of the file's last sync, if any.
pub fn compare(
    local: &ManifestEntry,
    remote: &ManifestEntry,
    synced: Option<&SyncedFile>,
    rules: ChangeRules,
) -> Sameness {
    let verdict = |same: bool| {
        if same {
            Sameness::Same
        } else {
            Sameness::Different
        }
    };
    if let (Some(l), Some(r)) = (&local.sha256, &remote.sha256) {
        return verdict(same_hash(l, r));
    }
    if rules.protocol == Protocol::S3
        && let (Some(md5), Some(etag)) = (&local.md5, &remote.etag)
        && is_single_part_etag(etag)
    {
        return verdict(same_hash(md5, etag));
    }
    if local.size != remote.size {
        return Sameness::Different;
    }
    match synced {
        Some(record)
            if !remote_changed_since_sync(remote, Some(record), rules)
                && !local_changed_since_sync(local, Some(record)) =>
        {
            Sameness::Same
        }
        _ => Sameness::Unknown,
    }
}

/// Whether the MD5 of the local version of a file could tell [`compare`] more than the rest
/// does, so that a scan must compute it: only for an S3 object whose ETag is an MD5, with no
/// stored SHA-256, and no record of a sync that saw that very ETag (with such a record, the
/// record decides: the local file is unchanged since, or it differs from the object). Reading
/// a file only for SHA-256 spares the MD5, the costlier of the two, where it cannot matter
/// (a file new on one side, or synced and not replaced since).
pub fn md5_may_decide(
    remote: &ManifestEntry,
    synced: Option<&SyncedFile>,
    rules: ChangeRules,
) -> bool {
    let Some(etag) = remote.etag.as_deref() else {
        return false;
    };
    let seen_at_sync = synced
        .and_then(|record| record.remote_etag.as_deref())
        .is_some_and(|seen| same_hash(seen, etag));
    rules.protocol == Protocol::S3
        && remote.sha256.is_none()
        && is_single_part_etag(etag)
        && !seen_at_sync
}

/// Whether the local file changed since its last sync: its SHA-256 differs from the one
/// synced, or it was never synced, or it has no hash to tell.
pub fn local_changed_since_sync(local: &ManifestEntry, synced: Option<&SyncedFile>) -> bool {
    match (synced, &local.sha256) {
        (Some(record), Some(sha)) => !same_hash(sha, &record.sha256),
        _ => true,
    }
}

/// Whether the remote file changed since its last sync. The ETag decides when both the
/// listing and the record have one; else the stored SHA-256 and the size when the listing has
/// a hash; else size and mtime (within the protocol's window). Never synced → changed; an
/// mtime missing on either side → changed.
pub fn remote_changed_since_sync(
    remote: &ManifestEntry,
    synced: Option<&SyncedFile>,
    rules: ChangeRules,
) -> bool {
    let Some(record) = synced else {
        return true;
    };
    if let (Some(now), Some(then)) = (&remote.etag, &record.remote_etag) {
        return now != then;
    }
    if remote.size != record.size {
        return true;
    }
    if let Some(sha) = &remote.sha256 {
        return !same_hash(sha, &record.sha256);
    }
    !rules.same_time(remote.modified, record.remote_modified)
}

#[cfg(test)]
mod tests;
