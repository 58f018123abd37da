//! The bytes of objects and parts: one file per blob, `blobs/xx/<id>`, named by a random
//! 128-bit id and never by a key (so no key, however hostile, names a path). Written by
//! [`super::write`], read by [`super::reads`], freed here.
//!
//! Pins: a GET pins the blobs of the version it read, under the same lock as its index
//! lookup; a blob released by an overwrite or delete while pinned is deleted only when its
//! last reader is done, so a download never loses its file half-way.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};

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
