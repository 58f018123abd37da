//! Receiving a request body into a new blob: gathered in blocks of 1 MiB, each written
//! (and hashed) on the blocking pool while the next block arrives, then checked, fsynced,
//! renamed and handed to the writer thread — from the blocking pool, so that a client
//! hanging up after the last byte cannot leave a durable blob that no row names.

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use s3s::checksum::ChecksumHasher;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::blobs::{BlobWrite, Expected, READ_BLOCK, Written};
use super::{Inner, ObjectStore};
use crate::error::{Error, ErrorKind, Result};

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
