//! Reading objects: a [`Download`] holds an object's row, the range asked for and a
//! [`ReadCursor`] over its segments; its bytes are read in blocks of [`READ_BLOCK`] on
//! Tokio's blocking pool (one hand-off per MiB, not per 4 KiB), crossing from one segment
//! (part blob) to the next. The blobs stay pinned until the download is dropped.

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;

use super::blobs::{Blobs, Pinned, READ_BLOCK, Segment};
use super::index::ObjectRow;
use crate::error::{Error, ErrorKind, Result};

/// An object being read: its row, the range asked for, and its bytes.
pub(crate) struct Download {
    pub(crate) row: ObjectRow,
    /// `Some` for a ranged GET.
    pub(crate) range: Option<Range<u64>>,
    cursor: ReadCursor,
    first: Bytes,
}

impl Download {
    pub(crate) fn new(
        row: ObjectRow,
        range: Option<Range<u64>>,
        cursor: ReadCursor,
        first: Bytes,
    ) -> Download {
        Download {
            row,
            range,
            cursor,
            first,
        }
    }

    /// The bytes, in blocks: the first read with the lookup, the others on the blocking pool.
    pub(crate) fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        let first = (!self.first.is_empty()).then_some(self.first);
        futures::stream::try_unfold((self.cursor, first), |(mut cursor, first)| async move {
            if let Some(block) = first {
                return Ok(Some((block, (cursor, None))));
            }
            if cursor.left() == 0 {
                return Ok(None);
            }
            let (cursor, block) = tokio::task::spawn_blocking(move || {
                let block = cursor.next_block()?;
                Ok::<_, Error>((cursor, block))
            })
            .await
            .map_err(Error::join)??;
            Ok(Some((block, (cursor, None))))
        })
    }
}

/// A position in an object's segments, reading forward (blocking calls).
pub(crate) struct ReadCursor {
    blobs: Arc<Blobs>,
    segments: Vec<Segment>,
    index: usize,
    offset: u64,
    left: u64,
    file: Option<File>,
    _pinned: Pinned,
}

impl ReadCursor {
    /// Reads `len` bytes from `start` of the object made of `segments` (pinned by `pinned`).
    pub(crate) fn new(
        blobs: Arc<Blobs>,
        segments: Vec<Segment>,
        start: u64,
        len: u64,
        pinned: Pinned,
    ) -> ReadCursor {
        let (mut index, mut offset) = (0, start);
        while index < segments.len() && offset >= segments[index].size {
            offset -= segments[index].size;
            index += 1;
        }
        ReadCursor {
            blobs,
            segments,
            index,
            offset,
            left: len,
            file: None,
            _pinned: pinned,
        }
    }

    /// Bytes still to read.
    pub(crate) fn left(&self) -> u64 {
        self.left
    }

    /// The next block: at most [`READ_BLOCK`] bytes, never across two segments.
    pub(crate) fn next_block(&mut self) -> Result<Bytes> {
        while self.index < self.segments.len() && self.offset >= self.segments[self.index].size {
            self.index += 1;
            self.offset = 0;
            self.file = None;
        }
        let Some(segment) = self.segments.get(self.index).copied() else {
            return Err(Error::new(
                ErrorKind::Corrupt,
                "an object is shorter than its size",
            ));
        };
        let path = self.blobs.path(segment.blob);
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let mut file = File::open(&path)
                    .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
                file.seek(SeekFrom::Start(self.offset))
                    .map_err(|e| Error::io(format!("seek {}", path.display()), e))?;
                self.file.insert(file)
            }
        };
        let want = self
            .left
            .min(READ_BLOCK as u64)
            .min(segment.size - self.offset) as usize;
        let mut block = vec![0; want];
        file.read_exact(&mut block)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        self.offset += want as u64;
        self.left -= want as u64;
        Ok(Bytes::from(block))
    }
}
