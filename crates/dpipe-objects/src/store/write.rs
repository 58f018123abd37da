//! Receiving a request body into a new blob: gathered in blocks of 1 MiB, each written
//! (and hashed: MD5 for the ETag, plus the checksums the client announced) on the blocking
//! pool while the next block arrives, to `tmp/<id>`; then checked against the digests the
//! client sent, fsynced, renamed into its shard folder, the folder fsynced, and handed to the
//! writer thread — from the blocking pool, so that a client hanging up after the last byte
//! cannot leave a durable blob that no row names. So a committed row ([`super::index`])
//! always names a durable file, and the fsyncs of concurrent uploads run in parallel rather
//! than one after another in the writer.

use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest as _, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::dto::Checksum;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::blobs::{BlobId, Blobs, READ_BLOCK, sync_dir};
use super::{Inner, ObjectStore};
use crate::error::{Error, ErrorKind, Result};

/// The digests a client sent with the bytes, to check before the blob is kept.
#[derive(Debug, Default, Clone)]
pub(crate) struct Expected {
    /// `Content-MD5`, decoded.
    pub(crate) md5: Option<[u8; 16]>,
    /// `x-amz-checksum-*` values (headers or trailers), base64 as sent.
    pub(crate) checksums: Checksum,
}

/// What was written: the blob, its size and digests.
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) id: BlobId,
    pub(crate) size: u64,
    pub(crate) md5: [u8; 16],
    pub(crate) checksums: Checksum,
}

/// A blob being written to `tmp/`, hashed as it goes. Moved into the blocking pool for each
/// block and back; [`BlobWrite::finish`] checks, fsyncs and renames it into place.
pub(crate) struct BlobWrite {
    id: BlobId,
    tmp: PathBuf,
    target: PathBuf,
    file: Option<File>,
    md5: Md5,
    sums: ChecksumHasher,
    size: u64,
    abandoned: Arc<AtomicBool>,
}

/// Deletes the temp file of a write that did not finish (error, or the request dropped).
pub(crate) struct TmpGuard {
    tmp: PathBuf,
    abandoned: Arc<AtomicBool>,
    armed: bool,
}

impl TmpGuard {
    /// The write finished: its file is a blob now.
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if self.armed {
            // A block write still running on the blocking pool sees the flag and deletes
            // the file itself if it created it after this removal.
            self.abandoned.store(true, Ordering::SeqCst);
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl BlobWrite {
    /// A new blob, computing `sums` (the checksums the client announced) as it is written.
    pub(crate) fn start(blobs: &Blobs, sums: ChecksumHasher) -> (BlobWrite, TmpGuard) {
        let id = BlobId::random();
        let tmp = blobs.tmp_dir().join(id.hex());
        let abandoned = Arc::new(AtomicBool::new(false));
        let guard = TmpGuard {
            tmp: tmp.clone(),
            abandoned: Arc::clone(&abandoned),
            armed: true,
        };
        let write = BlobWrite {
            id,
            tmp,
            target: blobs.path(id),
            file: None,
            md5: Md5::new(),
            sums,
            size: 0,
            abandoned,
        };
        (write, guard)
    }

    /// Appends `block` (blocking).
    pub(crate) fn write(&mut self, block: &[u8]) -> Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = File::create_new(&self.tmp)
                    .map_err(|e| Error::io(format!("create {}", self.tmp.display()), e))?;
                if self.abandoned.load(Ordering::SeqCst) {
                    let _ = std::fs::remove_file(&self.tmp);
                    return Err(Error::new(
                        ErrorKind::IncompleteBody,
                        "the request was dropped",
                    ));
                }
                self.file.insert(file)
            }
        };
        self.md5.update(block);
        self.sums.update(block);
        file.write_all(block)
            .map_err(|e| Error::io(format!("write {}", self.tmp.display()), e))?;
        self.size += block.len() as u64;
        Ok(())
    }

    /// Writes the last `block`, checks the digests against `expected` (a mismatch is
    /// `BadDigest` and nothing is kept), fsyncs and renames the file into its shard folder and
    /// fsyncs that folder, so the blob is durable under its final name (blocking).
    pub(crate) fn finish(mut self, block: &[u8], expected: &Expected) -> Result<Written> {
        // Even an empty blob gets its file.
        self.write(block)?;
        let md5: [u8; 16] = self.md5.finalize().into();
        let checksums = self.sums.finalize();
        let fail = |what: &str| {
            let _ = std::fs::remove_file(&self.tmp);
            Err(Error::new(
                ErrorKind::BadDigest,
                format!("The {what} you specified did not match the bytes received."),
            ))
        };
        if expected.md5.is_some_and(|m| m != md5) {
            return fail("Content-MD5");
        }
        let pairs = [
            (
                "CRC32",
                &expected.checksums.checksum_crc32,
                &checksums.checksum_crc32,
            ),
            (
                "CRC32C",
                &expected.checksums.checksum_crc32c,
                &checksums.checksum_crc32c,
            ),
            (
                "CRC64NVME",
                &expected.checksums.checksum_crc64nvme,
                &checksums.checksum_crc64nvme,
            ),
            (
                "SHA1",
                &expected.checksums.checksum_sha1,
                &checksums.checksum_sha1,
            ),
            (
                "SHA256",
                &expected.checksums.checksum_sha256,
                &checksums.checksum_sha256,
            ),
        ];
        for (name, want, got) in pairs {
            if want.is_some() && want != got {
                return fail(&format!("x-amz-checksum-{}", name.to_lowercase()));
            }
        }
        let file = self.file.take().expect("written above");
        file.sync_data()
            .map_err(|e| Error::io(format!("sync {}", self.tmp.display()), e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target)
            .map_err(|e| Error::io(format!("rename into {}", self.target.display()), e))?;
        if let Some(shard) = self.target.parent() {
            sync_dir(shard)?;
        }
        Ok(Written {
            id: self.id,
            size: self.size,
            md5,
            checksums,
        })
    }
}

impl ObjectStore {
    /// Writes `body` to a new blob computing `sums`, checks it against `expected()` (called
    /// once the body has ended, when trailers are known), then calls `commit` on the
    /// blocking pool with the blob, to submit the index change and send its result.
    pub(crate) async fn write_blob<T, S>(
        &self,
        body: S,
        size_hint: Option<u64>,
        sums: ChecksumHasher,
        expected: impl FnOnce() -> Result<Expected>,
        commit: impl FnOnce(&Arc<Inner>, Written, oneshot::Sender<Result<T>>) + Send + 'static,
    ) -> Result<T>
    where
        T: Send + 'static,
        S: Stream<Item = Result<Bytes>> + Send,
    {
        let inner = Arc::clone(self.inner());
        let (write, guard) = BlobWrite::start(&inner.blobs, sums);
        let capacity = size_hint.map_or(READ_BLOCK, |n| n.min(READ_BLOCK as u64) as usize);
        let mut block = Vec::with_capacity(capacity);
        let mut idle = Some(write);
        let mut pending: Option<JoinHandle<Result<BlobWrite>>> = None;
        let mut body = std::pin::pin!(body);
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            let mut chunk = &chunk[..];
            while !chunk.is_empty() {
                let room = READ_BLOCK - block.len();
                let (now, later) = chunk.split_at(room.min(chunk.len()));
                block.extend_from_slice(now);
                chunk = later;
                if block.len() == READ_BLOCK {
                    let mut write = take(&mut idle, &mut pending).await?;
                    let full = std::mem::replace(&mut block, Vec::with_capacity(READ_BLOCK));
                    pending = Some(tokio::task::spawn_blocking(move || {
                        write.write(&full)?;
                        Ok(write)
                    }));
                }
            }
        }
        let write = take(&mut idle, &mut pending).await?;
        let expected = expected()?;
        let (tx, rx) = oneshot::channel();
        tokio::task::spawn_blocking(move || match write.finish(&block, &expected) {
            Ok(written) => commit(&inner, written, tx),
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        });
        let out = rx
            .await
            .map_err(|_| Error::new(ErrorKind::Internal, "a blob write was dropped"))?;
        guard.disarm();
        out
    }
}

/// The blob write: idle, or back from the block write in flight.
async fn take(
    idle: &mut Option<BlobWrite>,
    pending: &mut Option<JoinHandle<Result<BlobWrite>>>,
) -> Result<BlobWrite> {
    if let Some(handle) = pending.take() {
        return handle.await.map_err(Error::join)?;
    }
    idle.take()
        .ok_or_else(|| Error::new(ErrorKind::Internal, "a blob write was lost"))
}
