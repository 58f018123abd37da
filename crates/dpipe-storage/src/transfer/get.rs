//! Downloads: the object as a scan (or [`Storage::stat`]) described it is read without
//! another request for its size — in one streamed GET, or, from [`Tuning::ranged_get_cutoff`]
//! on, in ranged parts fetched concurrently (pinned to the listed ETag, so a replaced object
//! cannot mix in). Bytes go to a temporary file in the target's folder and are hashed
//! (SHA-256, and MD5 for an S3 single-part ETag) on the way; the size and any hash the storage
//! knows (the ETag, or the SHA-256 dpipe stored with the object, from the listing or the GET's
//! own response) are checked; the download is then staged, and only made durable and renamed
//! to its final name when committed ([`crate::staging`]). A failed get leaves no partial file
//! under a final name. A large download that is cut keeps its partial file, and the next get
//! of the same version goes on from it with a ranged read ([`super::resume`]).
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
use super::resume::{OVERLAP, part_path, resumable};

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
    ///
    /// A large object (see [`resume`](super::resume)) goes on from what an earlier, cut
    /// download of the same version left ([`Transferred::resumed`]); if the whole then fails
    /// its check, it is downloaded once more from the start.
    pub async fn stage_into(&self, object: &ManifestEntry, folder: &Path) -> Result<Staged> {
        let key = object.path.as_str();
        check_key(key).map_err(|reason| unsafe_key(key, reason))?;
        let _budget = self.reserve(self.get_buffer(object.size)).await;
        if !resumable(&self.tuning, object.size) {
            return self
                .fetch(object, TempWriter::into_folder(folder, key))
                .await;
        }
        let part = part_path(&folder.join(key), object);
        // The MD5 of the kept bytes is computed with their SHA-256 if the listing says it
        // will be checked (an ETag only the GET tells comes too late for them).
        let md5 = md5_etag(object.etag.as_deref()).is_some();
        let file = TempWriter::resume(folder, key, part.clone(), object.size, md5, OVERLAP).await?;
        let resumed = file.resumed();
        match self.fetch(object, file).await {
            // The bad file is gone: once more, from the start.
            Err(e) if resumed > 0 && e.kind() == ErrorKind::Integrity => {
                let file = TempWriter::resume(folder, key, part, object.size, md5, 0).await?;
                self.fetch(object, file).await
            }
            done => done,
        }
    }

    /// Fetches what `file` lacks of `object`, appends it, and checks the whole. A resumable
    /// file is kept when the transfer fails on the way, but not for an object that is gone or
    /// not the version listed.
    async fn fetch(&self, object: &ManifestEntry, mut file: TempWriter) -> Result<Staged> {
        let key = object.path.as_str();
        let (reader, md5_etag) = match self.append_missing(object, &mut file).await {
            Ok(fetched) => fetched,
            Err(e) if matches!(e.kind(), ErrorKind::Integrity | ErrorKind::NotFound) => {
                return Err(file.discard(e).await);
            }
            Err(e) => return Err(e),
        };
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

    /// Appends to `file` what it lacks of `object` (all of it, or what follows the bytes it
    /// resumed, fetched from a little before them: those must match the kept ones). Returns
    /// the reader (whose metadata may carry the stored SHA-256) and the MD5 ETag to check:
    /// the listing's, else the GET's own (known once the first bytes arrived).
    async fn append_missing(
        &self,
        object: &ManifestEntry,
        file: &mut TempWriter,
    ) -> Result<(opendal::Reader, Option<String>)> {
        let key = object.path.as_str();
        let reader = self.reader(object).await?;
        let mut overlap = file.kept_tail().len();
        let offset = file.resumed() - overlap as u64;
        let mut md5_want = md5_etag(object.etag.as_deref());
        if md5_want.is_some() {
            file.with_md5();
        }
        // A file kept whole needs no more than its end again.
        if offset >= object.size {
            return Ok((reader, md5_want));
        }
        let mut stream = reader
            .clone()
            .into_bytes_stream(offset..)
            .await
            .map_err(|e| Error::from_opendal(e, "get", key))?;
        let mut first = true;
        while let Some(mut chunk) = stream
            .try_next()
            .await
            .map_err(|e| Error::from_stream(e, key, Path::new(key)))?
        {
            if std::mem::take(&mut first) && md5_want.is_none() {
                md5_want = md5_etag(reader.metadata().and_then(|m| m.etag()));
                if md5_want.is_some() {
                    file.with_md5();
                }
            }
            if overlap > 0 {
                let n = overlap.min(chunk.len());
                let kept = file.kept_tail();
                if chunk[..n] != kept[kept.len() - overlap..][..n] {
                    let why = "the partial file kept from an earlier run differs from the object";
                    return Err(
                        Error::new(ErrorKind::Integrity, format!("get failed: {why}"))
                            .with("path", key.to_string()),
                    );
                }
                overlap -= n;
                chunk = chunk.slice(n..);
            }
            file.write(chunk).await?;
        }
        Ok((reader, md5_want))
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

/// `etag` without quotes, lowercase, if it is the MD5 of the content (a single-part ETag).
fn md5_etag(etag: Option<&str>) -> Option<String> {
    etag.map(|t| t.trim_matches('"').to_ascii_lowercase())
        .filter(|t| is_single_part_etag(t))
}
