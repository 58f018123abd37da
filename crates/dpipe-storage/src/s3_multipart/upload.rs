//! One S3 multipart upload, continued where an interrupted run left it when that is safe.
//!
//! The file's SHA-256 goes up as the object's `dpipe-sha256` metadata at the upload's
//! creation, so an upload may only ever be continued with the very version of the file it was
//! started for: the [record](super::record) names that version (size, time, inode, SHA-256)
//! and the part size, and any difference aborts the old upload and starts a new one. A kept
//! part must be listed by the server (ListParts) with its recorded size (and ETag, where the
//! server lists one), and the MD5 of the local bytes of that part must equal the ETag the
//! server returned when it stored them; any other part is uploaded again. Every byte of the
//! file is still read and hashed: a file whose SHA-256, size, time or inode changed aborts the
//! upload ([`ErrorKind::Integrity`]). After completion the object's size and stored SHA-256
//! are read back and compared with the file's.
//!
//! Parts go up `part_concurrency` at a time, each recorded as the server acknowledges it, so
//! a kill loses at most the parts in flight. An upload that fails otherwise (the network, the
//! server) is kept for the next run when uploads are recorded, else aborted; the next push
//! aborts recorded uploads older than [`Tuning::leftover_age`](crate::Tuning::leftover_age)
//! (see [`crate::leftovers`]).

use std::collections::HashMap;
use std::fs::Metadata;
use std::path::Path;

use aws_sdk_s3::types::CompletedPart;
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use md5::{Digest as _, Md5};

use super::Multipart;
use super::record::{FileVersion, RecordedPart, UploadRecord, now_secs};
use crate::error::{Error, ErrorKind, Result};
use crate::local_io::{LocalReader, same_version};
use crate::manifest::SHA256_METADATA_KEY;
use crate::operator::Storage;
use crate::transfer::{Transferred, hash_file, local_file_changed};

/// A part the server holds that this upload may keep: its size as listed (`None`: the
/// server's listing could not be read; the part's MD5 still decides) and ETag as recorded.
struct Kept {
    size: Option<u64>,
    part: RecordedPart,
}

impl Storage {
    /// Uploads `file` (open on `source`, `opened` its metadata then; SHA-256 `sha256` if
    /// known) to `key` in parts, continuing a recorded upload of the same version (see the
    /// module docs).
    pub(crate) async fn put_in_parts(
        &self,
        mut file: LocalReader,
        source: &Path,
        key: &str,
        opened: &Metadata,
        sha256: Option<&str>,
    ) -> Result<Transferred> {
        let multipart = self
            .multipart
            .as_deref()
            .expect("an S3 storage has its SDK client");
        let sha = match sha256 {
            Some(known) => known.to_ascii_lowercase(),
            None => hash_file(source).await?,
        };
        let full_key = multipart.full_key(key);
        let version = FileVersion::of(opened, &sha);
        let part_size = self.tuning.part_size.max(1) as u64;
        let (mut record, mut kept) = multipart
            .resume_or_start(&full_key, &version, part_size)
            .await?;

        let mut in_flight = FuturesUnordered::new();
        let mut sent = 0u64;
        let mut resumed = 0u64;
        let mut number = 0i32;
        let outcome: Result<()> = async {
            loop {
                let bytes = file.read(part_size as usize).await?;
                if bytes.is_empty() {
                    break;
                }
                number += 1;
                sent += bytes.len() as u64;
                if let Some(k) = kept.remove(&number) {
                    if k.size.is_none_or(|size| size == bytes.len() as u64)
                        && hex::encode(Md5::digest(&bytes)) == k.part.etag
                    {
                        resumed += bytes.len() as u64;
                        continue;
                    }
                    // Not these bytes: the part goes up again.
                    record.parts.retain(|p| p.number != number);
                }
                while in_flight.len() >= self.tuning.part_concurrency.max(1) {
                    let done = in_flight.next().await.expect("a part is in flight")?;
                    multipart.acknowledge(&mut record, done)?;
                }
                let (key, id) = (full_key.clone(), record.upload_id.clone());
                let n = number;
                in_flight.push(async move {
                    let (etag, crc32c) = multipart
                        .upload_part(&key, &id, n, bytes::Bytes::from(bytes))
                        .await?;
                    Ok::<_, Error>(RecordedPart {
                        number: n,
                        etag,
                        crc32c,
                    })
                });
            }
            while let Some(done) = in_flight.next().await {
                multipart.acknowledge(&mut record, done?)?;
            }
            Ok(())
        }
        .await;
        drop(in_flight);
        if let Err(e) = outcome {
            if !multipart.records.enabled() {
                let _ = multipart.abort(&full_key, &record.upload_id).await;
            }
            return Err(e);
        }
        let (read_sha, now) = file.finish()?;
        if sent != opened.len() || read_sha != sha || !same_version(opened, &now) {
            let _ = multipart.abort(&full_key, &record.upload_id).await;
            return Err(local_file_changed(source, key));
        }
        record.parts.sort_by_key(|p| p.number);
        let parts = record
            .parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number)
                    .e_tag(format!("\"{}\"", p.etag))
                    .set_checksum_crc32_c(p.crc32c.clone())
                    .build()
            })
            .collect();
        if let Err(e) = multipart
            .complete(&full_key, &record.upload_id, parts)
            .await
        {
            // Refused (a part missing or wrong): this upload cannot be completed, ever.
            if e.kind() != ErrorKind::Transient {
                let _ = multipart.abort(&full_key, &record.upload_id).await;
            }
            return Err(e);
        }
        multipart
            .records
            .remove(&multipart.endpoint, &multipart.bucket, &full_key);
        let (size, stored) = multipart.head(&full_key, SHA256_METADATA_KEY).await?;
        if size != sent || stored.as_deref() != Some(sha.as_str()) {
            return Err(Error::new(
                ErrorKind::Integrity,
                "put failed: the object the S3 server assembled differs from the local file (size or SHA-256)",
            )
            .with("local", source.display().to_string())
            .with("path", key));
        }
        Ok(Transferred {
            size: sent,
            sha256: read_sha,
            md5: None,
            file: Some(now),
            resumed,
        })
    }
}

impl Multipart {
    /// The upload of `key` (full key) to continue — the recorded one when it is of `version`
    /// with parts of `part_size` and still exists, with the parts it may keep — or a new one.
    /// A recorded upload of another version is aborted.
    async fn resume_or_start(
        &self,
        key: &str,
        version: &FileVersion,
        part_size: u64,
    ) -> Result<(UploadRecord, HashMap<i32, Kept>)> {
        if let Some(record) = self.record_of(key) {
            if record.version == *version && record.part_size == part_size {
                match self.list_parts(key, &record.upload_id).await {
                    Ok(listed) => {
                        let kept = kept_parts(&record, listed.as_deref());
                        let parts = record
                            .parts
                            .iter()
                            .filter(|p| kept.contains_key(&p.number))
                            .cloned()
                            .collect();
                        return Ok((UploadRecord { parts, ..record }, kept));
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            } else {
                self.abort(key, &record.upload_id).await?;
            }
        }
        let upload_id = self
            .create(key, (SHA256_METADATA_KEY, &version.sha256))
            .await?;
        let record = UploadRecord {
            endpoint: self.endpoint.clone(),
            bucket: self.bucket.clone(),
            key: key.to_string(),
            upload_id,
            part_size,
            version: version.clone(),
            started: now_secs(),
            parts: Vec::new(),
        };
        self.records.save(&record)?;
        Ok((record, HashMap::new()))
    }

    /// Records that the server acknowledged `part` of `record`'s upload.
    fn acknowledge(&self, record: &mut UploadRecord, part: RecordedPart) -> Result<()> {
        record.parts.retain(|p| p.number != part.number);
        record.parts.push(part);
        self.records.save(record)
    }
}

/// The recorded parts of `record` that the server lists (`listed`: number, size, ETag) with
/// the same ETag where it lists one, with their sizes as listed; every recorded part when the
/// listing could not be read (`None`): a part the server lost then fails the completion, and
/// the next run starts afresh.
fn kept_parts(
    record: &UploadRecord,
    listed: Option<&[(i32, u64, Option<String>)]>,
) -> HashMap<i32, Kept> {
    record
        .parts
        .iter()
        .filter_map(|part| {
            let size = match listed {
                None => None,
                Some(listed) => {
                    let (_, size, etag) = listed.iter().find(|(n, ..)| *n == part.number)?;
                    if etag.as_ref().is_some_and(|e| *e != part.etag) {
                        return None;
                    }
                    Some(*size)
                }
            };
            Some((
                part.number,
                Kept {
                    size,
                    part: part.clone(),
                },
            ))
        })
        .collect()
}
