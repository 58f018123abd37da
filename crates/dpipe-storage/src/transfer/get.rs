//! Downloads: the object as a scan (or [`Storage::stat`]) described it is read without
//! another request for its size — in one streamed GET, or, from [`Tuning::ranged_get_cutoff`]
//! on, in ranged parts fetched concurrently (pinned to the listed ETag, so a replaced object
//! cannot mix in). Bytes go to a temporary file in the target's folder and are hashed
//! (SHA-256, and MD5 for an S3 single-part ETag) on the way; the size and any hash the storage
//! knows (the ETag, or the SHA-256 dpipe stored with the object, from the listing or the GET's
//! own response) are checked; the download is then staged, and only made durable and renamed
//! to its final name when committed ([`crate::staging`]). A failed get leaves no partial file
//! under a final name.
//!
//! [`Tuning::ranged_get_cutoff`]: crate::Tuning::ranged_get_cutoff

use std::path::Path;

use dpipe_core::plan::is_single_part_etag;
use futures::TryStreamExt as _;

use crate::error::{Error, ErrorKind, Result};
use crate::local_io::{Hashed, TempWriter, WRITE_BATCH};
use crate::manifest::{ManifestEntry, check_key, sha256_of, unsafe_key};
use crate::operator::Storage;
use crate::staging::Staged;

use super::Transferred;

impl Storage {
    /// Downloads `object` (an entry of a scan or a stat) into `folder`, at the same relative
    /// path, and commits it on its own (fsync, rename; see [`Staged::commit`]). The key is
    /// checked first (no `..`, absolute path, backslash or NUL), and no folder on the way may
    /// be a symlink. Many files are better staged ([`Storage::stage_into`]) and committed in
    /// batches by a [`Stager`](crate::Stager).
    pub async fn get_into(&self, object: &ManifestEntry, folder: &Path) -> Result<Transferred> {
        self.stage_into(object, folder).await?.commit().await
    }

    /// Downloads `object` (an entry of a scan or a stat) to a temporary file in `folder`, at
    /// the same relative path, and verifies it: the download is then [`Staged`], to be
    /// committed (made durable and renamed into place). The key is checked first (no `..`,
    /// absolute path, backslash or NUL), and no folder on the way may be a symlink.
    pub async fn stage_into(&self, object: &ManifestEntry, folder: &Path) -> Result<Staged> {
        let key = object.path.as_str();
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let mut file = TempWriter::into_folder(folder, key);
        let _budget = self.reserve(self.get_buffer(object.size)).await;

        let reader = self.reader(object).await?;
        let mut stream = reader
            .clone()
            .into_bytes_stream(..)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        // The ETag to check the MD5 against: the listing's, else the GET's own (known once
        // the first bytes arrived).
        let mut md5_etag: Option<String> = None;
        let mut first = true;
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::from_stream(e, key, Path::new(key)))?
        {
            if std::mem::take(&mut first) {
                md5_etag = object
                    .etag
                    .clone()
                    .or_else(|| reader.metadata().and_then(|m| m.etag()).map(str::to_string))
                    .map(|t| t.trim_matches('"').to_ascii_lowercase())
                    .filter(|t| is_single_part_etag(t));
                if md5_etag.is_some() {
                    file.with_md5();
                }
            }
            file.write(chunk).await?;
        }
        let (owned_key, size) = (key.to_string(), object.size);
        let stored_sha = object
            .sha256
            .clone()
            .or_else(|| reader.metadata().and_then(sha256_of));
        let check = move |got: &Hashed| {
            let integrity = |what: &str| {
                Err(
                    Error::new(ErrorKind::Integrity, format!("get failed: {what}"))
                        .with("path", owned_key.clone()),
                )
            };
            if got.size != size {
                return integrity(&format!("got {} bytes, the storage said {size}", got.size));
            }
            if let Some(want) = stored_sha
                && !want.eq_ignore_ascii_case(&got.sha256)
            {
                return integrity("SHA-256 differs from the one stored with the object");
            }
            if let (Some(want), Some(md5)) = (md5_etag, &got.md5)
                && *md5 != want
            {
                return integrity("MD5 differs from the object's ETag");
            }
            Ok(())
        };
        // The object's time, as rclone and `aws s3 sync` do: the file's own time then lies in
        // the past, so its hashes can be cached at once (see dpipe-client's local scan).
        file.stage(key, object.modified, check).await
    }

    /// Whether an object of `size` bytes is fetched in ranged parts.
    fn ranged(&self, size: u64) -> bool {
        size >= self.tuning.ranged_get_cutoff && size > self.tuning.part_size as u64
    }

    /// The most a get of `size` bytes buffers: its ranged parts in flight, or (streamed) a
    /// write batch and what the network hands over meanwhile.
    pub(super) fn get_buffer(&self, size: u64) -> u64 {
        let parts = if self.ranged(size) {
            self.tuning.part_size as u64 * self.tuning.part_concurrency.max(1) as u64
        } else {
            0
        };
        size.min(parts + 2 * WRITE_BATCH as u64)
    }

    /// A reader of `object` that needs no request for its size: one streamed GET below the
    /// ranged-get cutoff, concurrent ranged GETs from it on (pinned to the listed ETag, if
    /// any).
    pub(super) async fn reader(&self, object: &ManifestEntry) -> Result<opendal::Reader> {
        let mut reader = self
            .op
            .reader_with(&object.path)
            .content_length_hint(object.size);
        if self.ranged(object.size) {
            reader = reader
                .chunk(self.tuning.part_size)
                .concurrent(self.tuning.part_concurrency.max(1));
            if let Some(etag) = &object.etag {
                reader = reader.if_match(&format!("\"{etag}\""));
            }
        }
        reader
            .await
            .map_err(|e| Error::from_opendal(e, "get", &object.path))
    }
}
