//! The bytes of objects and parts: one file per blob, `blobs/xx/<id>`, named by a random
//! 128-bit id and never by a key (so no key, however hostile, names a path).
//!
//! A blob is written to `tmp/<id>`, hashed as it is written, checked against the digests
//! the client sent, fsynced, and renamed into its shard folder; the writer thread fsyncs the
//! shard folders of a batch before it commits the index rows that name the blobs
//! ([`super::index`]), so a committed row always names a durable file. Blobs are read in
//! blocks of [`READ_BLOCK`] on Tokio's blocking pool (one hand-off per MiB, not per 4 KiB).
//!
//! Pins: a GET pins the blobs of the version it read, under the same lock as its index
//! lookup; a blob released by an overwrite or delete while pinned is deleted only when its
//! last reader is done, so a download never loses its file half-way.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use md5::{Digest as _, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::dto::Checksum;

use crate::error::{Error, ErrorKind, Result};

/// Bytes read from a blob, or gathered before a write, at a time.
pub(crate) const READ_BLOCK: usize = 1024 * 1024;

/// A blob's name: 128 random bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct BlobId([u8; 16]);

impl BlobId {
    /// A new random id.
    pub(crate) fn random() -> BlobId {
        BlobId(rand::random())
    }

    /// The id written as 32 lowercase hex digits (its file name).
    pub(crate) fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The id of a file name or index value; `None` when it is not 32 hex digits.
    pub(crate) fn parse(s: &str) -> Option<BlobId> {
        let mut id = [0; 16];
        (s.len() == 32 && hex::decode_to_slice(s, &mut id).is_ok()).then_some(BlobId(id))
    }

    /// The shard folder the blob lives in (its first byte).
    pub(crate) fn shard(&self) -> u8 {
        self.0[0]
    }
}

/// A run of an object's bytes held in one blob.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Segment {
    /// The blob.
    pub(crate) blob: BlobId,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// The blob folders of a store, and the pins of the blobs being read.
pub(crate) struct Blobs {
    root: PathBuf,
    pins: Mutex<Pins>,
}

#[derive(Default)]
pub(crate) struct Pins {
    readers: HashMap<BlobId, usize>,
    /// Released while pinned: deleted when the last reader is done.
    doomed: HashSet<BlobId>,
}

impl Blobs {
    /// The blobs of the store at `root`, creating `tmp/` and the 256 shard folders.
    pub(crate) fn open(root: &Path) -> Result<Blobs> {
        let blobs = Blobs {
            root: root.to_path_buf(),
            pins: Mutex::default(),
        };
        let mkdir = |dir: &Path| {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("create {}", dir.display()), e))
        };
        mkdir(&blobs.tmp_dir())?;
        for shard in 0..=255u8 {
            mkdir(&blobs.shard_dir(shard))?;
        }
        sync_dir(&root.join("blobs"))?;
        sync_dir(root)?;
        Ok(blobs)
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(crate) fn shard_dir(&self, shard: u8) -> PathBuf {
        self.root.join("blobs").join(format!("{shard:02x}"))
    }

    pub(crate) fn path(&self, id: BlobId) -> PathBuf {
        self.shard_dir(id.shard()).join(id.hex())
    }

    /// Makes the renames into `shard`'s folder durable.
    pub(crate) fn sync_shard(&self, shard: u8) -> Result<()> {
        sync_dir(&self.shard_dir(shard))
    }

    /// Deletes blobs no longer named by the index, except those being read (deleted by
    /// their last reader).
    pub(crate) fn release(&self, ids: impl IntoIterator<Item = BlobId>) {
        let mut pins = self.lock_pins();
        for id in ids {
            if pins.readers.contains_key(&id) {
                pins.doomed.insert(id);
            } else {
                self.remove(id);
            }
        }
    }

    /// Removes a blob file; a failure only leaves garbage that the next open deletes.
    pub(crate) fn remove(&self, id: BlobId) {
        let path = self.path(id);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(target: "dpipe::objects", path = %path.display(), error = %e, "cannot delete a released blob");
        }
    }

    /// The pin table, locked: an index lookup made under it and followed by [`Blobs::pin`]
    /// cannot race with a release.
    pub(crate) fn lock_pins(&self) -> MutexGuard<'_, Pins> {
        self.pins.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Pins `segments` (under the lock from [`Blobs::lock_pins`]).
    pub(crate) fn pin(self: &Arc<Self>, pins: &mut Pins, segments: &[Segment]) -> Pinned {
        let ids: Vec<BlobId> = segments.iter().map(|s| s.blob).collect();
        for id in &ids {
            *pins.readers.entry(*id).or_default() += 1;
        }
        Pinned {
            blobs: Arc::clone(self),
            ids,
        }
    }
}

/// Blobs held for a reader; unpinned (and deleted, if released meanwhile) on drop.
pub(crate) struct Pinned {
    blobs: Arc<Blobs>,
    ids: Vec<BlobId>,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let mut pins = self.blobs.lock_pins();
        for id in &self.ids {
            if let Some(n) = pins.readers.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    pins.readers.remove(id);
                    if pins.doomed.remove(id) {
                        self.blobs.remove(*id);
                    }
                }
            }
        }
    }
}

/// fsyncs a folder, making the entries created or renamed in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("sync folder {}", dir.display()), e))
}

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
                    return Err(Error::new(ErrorKind::IncompleteBody, "the request was dropped"));
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
    /// `BadDigest` and nothing is kept), fsyncs and renames the file into its shard folder
    /// (blocking). The caller's commit makes the rename durable (see the module doc).
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
            ("CRC32", &expected.checksums.checksum_crc32, &checksums.checksum_crc32),
            ("CRC32C", &expected.checksums.checksum_crc32c, &checksums.checksum_crc32c),
            ("CRC64NVME", &expected.checksums.checksum_crc64nvme, &checksums.checksum_crc64nvme),
            ("SHA1", &expected.checksums.checksum_sha1, &checksums.checksum_sha1),
            ("SHA256", &expected.checksums.checksum_sha256, &checksums.checksum_sha256),
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
        Ok(Written {
            id: self.id,
            size: self.size,
            md5,
            checksums,
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
            return Err(Error::new(ErrorKind::Corrupt, "an object is shorter than its size"));
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
        let want = self.left.min(READ_BLOCK as u64).min(segment.size - self.offset) as usize;
        let mut block = vec![0; want];
        file.read_exact(&mut block)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        self.offset += want as u64;
        self.left -= want as u64;
        Ok(Bytes::from(block))
    }
}
