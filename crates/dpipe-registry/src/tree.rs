//! The pipes as a forest: a pipe's chain of ancestors, its descendants, and the storage its
//! root provides (from a remote or inline), from which `remotepath` and the credentials of
//! every pipe in the chain follow.

use std::collections::HashMap;

use dpipe_core::credentials::Credentials;
use dpipe_core::options::{dir_of, join_dir};
use dpipe_core::protocol::Protocol;
use dpipe_core::{Error, Result};
use dpipe_store::{PipeRecord, RemoteRecord, Store};
use serde_json::{Map, Value};

use crate::StoreResultExt;
use crate::key_ring::KeyRing;
use crate::sealing::{self, Holder};

/// Chains longer than this are treated as corrupt rather than followed forever.
const MAX_DEPTH: usize = 64;

/// All pipes, indexed by id and name.
pub(crate) struct PipeTree {
    pipes: Vec<PipeRecord>,
    by_id: HashMap<i64, usize>,
    by_name: HashMap<String, usize>,
}

impl PipeTree {
    /// Loads every pipe from the store.
    pub(crate) fn load(store: &dyn Store) -> Result<PipeTree> {
        let pipes = store.all_pipes().or_internal()?;
        let by_id = pipes.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        let by_name = pipes
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        Ok(PipeTree {
            pipes,
            by_id,
            by_name,
        })
    }

    /// Every pipe, by name.
    pub(crate) fn all(&self) -> &[PipeRecord] {
        &self.pipes
    }

    /// The pipe called `name`.
    pub(crate) fn named(&self, name: &str) -> Option<&PipeRecord> {
        self.by_name.get(name).map(|&i| &self.pipes[i])
    }

    /// The pipe with row id `id`.
    pub(crate) fn by_id(&self, id: i64) -> Option<&PipeRecord> {
        self.by_id.get(&id).map(|&i| &self.pipes[i])
    }

    /// `pipe` and its ancestors, root first.
    pub(crate) fn chain<'a>(&'a self, pipe: &'a PipeRecord) -> Result<Vec<&'a PipeRecord>> {
        let mut chain = vec![pipe];
        let mut current = pipe;
        while let Some(parent_id) = current.parent_id {
            current = self.by_id(parent_id).ok_or_else(|| {
                Error::internal(format!("pipe {} has a missing parent", current.name))
            })?;
            chain.push(current);
            if chain.len() > MAX_DEPTH {
                return Err(Error::internal(format!(
                    "pipe {} has a parent cycle",
                    pipe.name
                )));
            }
        }
        chain.reverse();
        Ok(chain)
    }

    /// True when `pipe_id` is `ancestor_id` or lies below it.
    pub(crate) fn is_within(&self, pipe_id: i64, ancestor_id: i64) -> bool {
        let mut current = Some(pipe_id);
        for _ in 0..=MAX_DEPTH {
            match current {
                Some(id) if id == ancestor_id => return true,
                Some(id) => current = self.by_id(id).and_then(|p| p.parent_id),
                None => return false,
            }
        }
        false
    }
}

/// Where a root pipe's files live and how to reach them.
pub(crate) struct Storage {
    pub(crate) protocol: Protocol,
    pub(crate) location: String,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) settings: Map<String, Value>,
    pub(crate) remote: Option<String>,
}

impl Storage {
    /// The storage a root pipe provides: its remote's, or its inline fields.
    pub(crate) fn of_root(root: &PipeRecord, remotes: &mut RemoteCache<'_>) -> Result<Storage> {
        if let Some(remote_id) = root.remote_id {
            let ring = remotes.ring;
            let remote = remotes.get(remote_id)?;
            return Storage::of_remote(remote, ring);
        }
        let protocol =
            Protocol::parse(root.protocol.as_deref().unwrap_or_default()).map_err(|_| {
                Error::internal(format!("pipe {} has no valid protocol stored", root.name))
            })?;
        Ok(Storage {
            protocol,
            location: root.location.clone().unwrap_or_default(),
            credentials: sealing::open(
                remotes.ring,
                Holder::Pipe,
                &root.name,
                root.credentials.as_deref(),
            )?,
            settings: root.settings.clone(),
            remote: None,
        })
    }

    /// The storage a remote describes.
    pub(crate) fn of_remote(remote: &RemoteRecord, ring: &KeyRing) -> Result<Storage> {
        let protocol = Protocol::parse(&remote.protocol).map_err(|_| {
            Error::internal(format!(
                "remote {} has no valid protocol stored",
                remote.name
            ))
        })?;
        Ok(Storage {
            protocol,
            location: remote.location.clone(),
            credentials: sealing::open(
                ring,
                Holder::Remote,
                &remote.name,
                remote.credentials.as_deref(),
            )?,
            settings: remote.settings.clone(),
            remote: Some(remote.name.clone()),
        })
    }

    /// The folder of the last pipe of `chain` (root first): the storage root, the storage's
    /// `dir` setting, then each pipe's `options.dir`. Always ends with `/`.
    pub(crate) fn remotepath(&self, chain: &[&PipeRecord]) -> String {
        let mut path = join_dir(
            &self.protocol.root_path(&self.location),
            dir_of(&self.settings),
        );
        for pipe in chain {
            path = join_dir(&path, dir_of(&pipe.options));
        }
        path
    }
}

/// Remotes looked up during one request, so listing many pipes reads each remote once, with
/// the key ring that opens their credentials.
pub(crate) struct RemoteCache<'a> {
    store: &'a dyn Store,
    ring: &'a KeyRing,
    remotes: HashMap<i64, RemoteRecord>,
}

impl<'a> RemoteCache<'a> {
    /// An empty cache over `store`, opening credentials with `ring`.
    pub(crate) fn new(store: &'a dyn Store, ring: &'a KeyRing) -> RemoteCache<'a> {
        RemoteCache {
            store,
            ring,
            remotes: HashMap::new(),
        }
    }

    /// The remote with id `id`.
    pub(crate) fn get(&mut self, id: i64) -> Result<&RemoteRecord> {
        if !self.remotes.contains_key(&id) {
            let remote = self.store.remote_by_id(id).or_internal()?.ok_or_else(|| {
                Error::internal(format!("remote {id} referenced by a pipe is missing"))
            })?;
            self.remotes.insert(id, remote);
        }
        Ok(&self.remotes[&id])
    }
}
