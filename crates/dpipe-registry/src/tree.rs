//! The pipes as a forest: a pipe's chain of ancestors, its descendants, and the storage its
//! root provides (from a remote or inline), from which `remotepath` and the credentials of
//! every pipe in the chain follow.

use std::collections::HashMap;

use dpipe_core::credentials::Credentials;
use dpipe_core::managed::managed_prefix;
use dpipe_core::options::{dir_of, join_dir};
use dpipe_core::protocol::{MANAGED, Protocol};
use dpipe_core::{Error, Result};
use dpipe_store::{PipeRecord, RemoteRecord, Store};
use serde_json::{Map, Value};

use crate::StoreResultExt;
use crate::key_ring::SealingKeys;
use crate::managed::ManagedStorage;
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
        Ok(PipeTree::of(store.all_pipes().or_internal()?))
    }

    /// Loads pipe `id` and its ancestors only: enough to judge that one pipe.
    pub(crate) fn load_chain(store: &dyn Store, id: i64) -> Result<PipeTree> {
        Ok(PipeTree::of(store.pipe_chain(id).or_internal()?))
    }

    /// Loads the pipe called `name` and its ancestors only (none when there is no such pipe):
    /// enough to judge that one pipe without reading every pipe on each request.
    pub(crate) fn load_named(store: &dyn Store, name: &str) -> Result<PipeTree> {
        match store.pipe_by_name(name).or_internal()? {
            Some(pipe) if pipe.parent_id.is_none() => Ok(PipeTree::of(vec![pipe])),
            Some(pipe) => PipeTree::load_chain(store, pipe.id),
            None => Ok(PipeTree::of(Vec::new())),
        }
    }

    /// A tree over `pipes` (each with its ancestors, for chains to resolve).
    pub(crate) fn of(pipes: Vec<PipeRecord>) -> PipeTree {
        let by_id = pipes.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        let by_name = pipes
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        PipeTree {
            pipes,
            by_id,
            by_name,
        }
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
    /// True for the server's managed storage: credentials are minted per caller, not stored.
    pub(crate) managed: bool,
}

impl Storage {
    /// The storage a root pipe provides: its remote's, the server's managed storage, or its
    /// inline fields.
    pub(crate) fn of_root(root: &PipeRecord, remotes: &mut StorageLookup<'_>) -> Result<Storage> {
        if let Some(remote_id) = root.remote_id {
            let ring = remotes.ring;
            let remote = remotes.get(remote_id)?;
            return Storage::of_remote(remote, ring);
        }
        if root.protocol.as_deref() == Some(MANAGED) {
            let owner = remotes.owner_name(root.owner_id)?;
            return Ok(Storage::managed(remotes.managed, &owner, &root.name));
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
            managed: false,
        })
    }

    /// A managed root pipe's storage: the managed bucket, the folder `<owner>/<pipe>/` in it
    /// (as its `dir` setting) and the endpoint and region released with minted credentials.
    /// A server without managed storage still shows where such a pipe lived, under the
    /// default bucket name.
    fn managed(managed: Option<&ManagedStorage>, owner: &str, pipe: &str) -> Storage {
        let mut settings = Map::new();
        settings.insert("dir".into(), managed_prefix(owner, pipe).into());
        let bucket = match managed {
            Some(managed) => {
                if let Some(url) = &managed.endpoint_url {
                    settings.insert("endpoint".into(), url.clone().into());
                }
                settings.insert("region".into(), managed.region.clone().into());
                managed.bucket.clone()
            }
            None => crate::managed::DEFAULT_BUCKET.to_string(),
        };
        Storage {
            protocol: Protocol::S3,
            location: bucket,
            credentials: None,
            settings,
            remote: None,
            managed: true,
        }
    }

    /// The storage a remote describes.
    pub(crate) fn of_remote(remote: &RemoteRecord, ring: &SealingKeys) -> Result<Storage> {
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
            managed: false,
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

/// What resolving pipes' storage needs during one request: the remotes and owner names read
/// so far (so listing many pipes reads each once), the key ring that opens credentials, and
/// the server's managed storage.
pub(crate) struct StorageLookup<'a> {
    store: &'a dyn Store,
    ring: &'a SealingKeys,
    managed: Option<&'a ManagedStorage>,
    remotes: HashMap<i64, RemoteRecord>,
    owners: HashMap<i64, String>,
}

impl<'a> StorageLookup<'a> {
    /// An empty cache over `store`, opening credentials with `ring`.
    pub(crate) fn new(
        store: &'a dyn Store,
        ring: &'a SealingKeys,
        managed: Option<&'a ManagedStorage>,
    ) -> StorageLookup<'a> {
        StorageLookup {
            store,
            ring,
            managed,
            remotes: HashMap::new(),
            owners: HashMap::new(),
        }
    }

    /// The username of user `id` (empty when the user is gone).
    pub(crate) fn owner_name(&mut self, id: i64) -> Result<String> {
        if let Some(name) = self.owners.get(&id) {
            return Ok(name.clone());
        }
        let name = self
            .store
            .user_by_id(id)
            .or_internal()?
            .map(|u| u.username)
            .unwrap_or_default();
        self.owners.insert(id, name.clone());
        Ok(name)
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
