//! s3s-fs's `FileSystem` with GET bodies read in 1 MiB blocks.
//!
//! s3s-fs 0.14.1 streams a GET body through `tokio::fs` 4 KiB at a time, and every such read
//! is a hand-off to Tokio's blocking pool: 25 thread wake-ups per 100 KiB object. Measured on
//! a pull of 1,000 × 100 KiB, that cost the server ~1 s of CPU — as much as the client
//! pulling — most of it in futex wake-ups and task switches, so a benchmark on 2 cores
//! measured the server's hand-offs more than the clients (DESIGN.md §8). [`BlockReads`]
//! answers every request as s3s-fs does (the same headers, ETag, metadata and errors: each
//! call goes to s3s-fs) and only swaps a GET's body for the same bytes of the same file read
//! in blocks of [`READ_BLOCK`].

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;
use s3s::dto::{GetObjectInput, GetObjectOutput, StreamingBlob};
use s3s::{S3, S3Request, S3Response, S3Result};
use s3s_fs::FileSystem;

/// Bytes read from the object's file at a time.
pub const READ_BLOCK: usize = 1024 * 1024;

/// s3s-fs with GET bodies read in [`READ_BLOCK`] blocks; everything else is s3s-fs's own.
pub struct BlockReads {
    inner: FileSystem,
    /// The folder holding the buckets, as s3s-fs resolved it (absolute, links resolved).
    root: PathBuf,
}

impl BlockReads {
    /// Serves the buckets under `root` (an existing folder).
    pub fn new(root: &Path) -> std::io::Result<BlockReads> {
        let inner = FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        Ok(BlockReads {
            inner,
            root: std::env::current_dir()?.join(root).canonicalize()?,
        })
    }

    /// The file of `key` in `bucket`, when both are plain relative paths (the only ones whose
    /// file is simply `root/bucket/key`; s3s-fs resolves the others itself).
    fn plain_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        let plain = |s: &str| {
            !s.is_empty()
                && Path::new(s)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
        };
        (plain(bucket) && plain(key)).then(|| self.root.join(bucket).join(key))
    }
}

/// The first byte of a `Content-Range` (`bytes START-END/SIZE`).
fn range_start(content_range: &str) -> Option<u64> {
    content_range
        .strip_prefix("bytes ")?
        .split_once('-')?
        .0
        .parse()
        .ok()
}

/// `len` bytes of the file at `path` from `start`, as a stream of blocks of [`READ_BLOCK`],
/// each read in one call on the blocking pool.
fn block_stream(path: PathBuf, start: u64, len: u64) -> StreamingBlob {
    let state = (path, None::<std::fs::File>, start, len);
    let stream = futures::stream::try_unfold(state, |(path, file, at, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let (path, file, block) = tokio::task::spawn_blocking(move || {
            let mut file = match file {
                Some(file) => file,
                None => {
                    let mut file = std::fs::File::open(&path)?;
                    file.seek(SeekFrom::Start(at))?;
                    file
                }
            };
            let want = left.min(READ_BLOCK as u64) as usize;
            let mut block = vec![0; want];
            file.read_exact(&mut block)?;
            Ok::<_, std::io::Error>((path, file, block))
        })
        .await
        .map_err(std::io::Error::other)??;
        let read = block.len() as u64;
        let next = (path, Some(file), at + read, left - read);
        Ok::<_, std::io::Error>(Some((Bytes::from(block), next)))
    });
    StreamingBlob::wrap(stream)
}

/// The `S3` implementation: each listed operation handed to s3s-fs as it is, then the
/// operations given as items. (The attribute must see the methods the macro writes, so the
/// macro writes the whole `impl`.)
macro_rules! s3_delegating {
    ($($op:ident: $input:ident -> $output:ident;)* { $($own:item)* }) => {
        #[async_trait::async_trait]
        impl S3 for BlockReads {
            $(
                async fn $op(
                    &self,
                    req: S3Request<s3s::dto::$input>,
                ) -> S3Result<S3Response<s3s::dto::$output>> {
                    self.inner.$op(req).await
                }
            )*
            $($own)*
        }
    };
}

s3_delegating! {
    abort_multipart_upload: AbortMultipartUploadInput -> AbortMultipartUploadOutput;
    complete_multipart_upload: CompleteMultipartUploadInput -> CompleteMultipartUploadOutput;
    copy_object: CopyObjectInput -> CopyObjectOutput;
    create_bucket: CreateBucketInput -> CreateBucketOutput;
    create_multipart_upload: CreateMultipartUploadInput -> CreateMultipartUploadOutput;
    delete_bucket: DeleteBucketInput -> DeleteBucketOutput;
    delete_object: DeleteObjectInput -> DeleteObjectOutput;
    delete_objects: DeleteObjectsInput -> DeleteObjectsOutput;
    get_bucket_location: GetBucketLocationInput -> GetBucketLocationOutput;
    head_bucket: HeadBucketInput -> HeadBucketOutput;
    head_object: HeadObjectInput -> HeadObjectOutput;
    list_buckets: ListBucketsInput -> ListBucketsOutput;
    list_objects: ListObjectsInput -> ListObjectsOutput;
    list_objects_v2: ListObjectsV2Input -> ListObjectsV2Output;
    list_parts: ListPartsInput -> ListPartsOutput;
    put_object: PutObjectInput -> PutObjectOutput;
    upload_part: UploadPartInput -> UploadPartOutput;
    upload_part_copy: UploadPartCopyInput -> UploadPartCopyOutput;
    {
        /// s3s-fs's answer, its body replaced by the same bytes read in blocks.
        async fn get_object(
            &self,
            req: S3Request<GetObjectInput>,
        ) -> S3Result<S3Response<GetObjectOutput>> {
            let path = self.plain_path(&req.input.bucket, &req.input.key);
            let mut response = self.inner.get_object(req).await?;
            let output = &mut response.output;
            let start = match output.content_range.as_deref() {
                Some(range) => range_start(range),
                None => Some(0),
            };
            let len = output.content_length.and_then(|l| u64::try_from(l).ok());
            if let (Some(path), Some(start), Some(len)) = (path, start, len) {
                output.body = Some(block_stream(path, start, len));
            }
            Ok(response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_range_gives_its_first_byte() {
        assert_eq!(range_start("bytes 100-199/1000"), Some(100));
        assert_eq!(range_start("bytes 0-0/1"), Some(0));
        assert_eq!(range_start("bytes */1000"), None);
        assert_eq!(range_start("100-199/1000"), None);
    }
}
