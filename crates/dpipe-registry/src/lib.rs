//! The repo API's rules, once.
//!
//! [`Registry`] offers every operation of the repo API as a method taking the [`Caller`] and
//! the request (a JSON body where there is one) and returning a wire shape from
//! [`dpipe_core::wire`] or a [`dpipe_core::Error`]. The HTTP server is a thin face over it, and
//! local mode calls it in-process: both get the same validation, inheritance, permission
//! checks and error texts because there is no other code that decides them.
//!
//! Modules: [`accounts`] (register, login, tokens), [`remotes`], [`pipes`], [`grants`],
//! [`invitations`] (grants to an email, claimed only from a verified address),
//! [`credentials`] (releasing storage credentials), [`managed`] (managed storage: the keys
//! minted for it and the check of every request to the built-in object store; minting in
//! `minting`), with the shared pieces in `tree`
//! (a pipe's ancestry and storage), `access` (effective roles) and `secrets` (hashing and
//! token derivation).

mod access;
pub mod accounts;
pub mod audit;
mod caller;
mod clock;
pub mod credentials;
pub mod grants;
pub mod invitations;
mod key_ring;
mod login_limit;
pub mod managed;
mod minting;
pub mod pipes;
pub mod remotes;
mod sealing;
mod secrets;
mod tree;
mod views;

use std::path::PathBuf;
use std::sync::Arc;

use dpipe_core::{Error, Result};
use dpipe_store::{Store, StoreError};

pub use caller::Caller;
pub use clock::{Clock, FixedClock, SystemClock};
pub use dpipe_core::managed::{StorageRefusal, StorageRequest, StorageTarget};
pub use dpipe_core::wire::UpdateMode;
pub use invitations::Mailer;
use key_ring::SealingKeys;
pub use key_ring::{KeyRing, write_private_file};
pub use managed::{Issuer, ManagedStorage};
pub use sealing::reseal_credentials;
pub use secrets::ServerKey;

/// The repo API's rules over a [`Store`].
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: Arc<ServerKey>,
    /// The keys that seal and open stored credentials.
    ring: Arc<SealingKeys>,
    /// The storage of managed pipes, when this server provides one.
    managed: Option<Arc<ManagedStorage>>,
    /// How verification links for invitations are mailed, when this server sends mail.
    mail: Option<invitations::LinkMail>,
}

impl Registry {
    /// A registry over `store`, judging expirations by `clock`, deriving tokens with `key` and
    /// sealing stored credentials with `ring`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        key: ServerKey,
        ring: KeyRing,
    ) -> Registry {
        Registry {
            ring: Arc::new(SealingKeys::new(ring, None, store.clone())),
            store,
            clock,
            key: Arc::new(key),
            managed: None,
            mail: None,
        }
    }

    /// This registry re-reading its key ring from `file` when a stored value needs a key it
    /// lacks (another server sharing the database rotated the keys since this one started).
    pub fn with_ring_file(mut self, file: PathBuf) -> Registry {
        let ring = self.ring.ring();
        self.ring = Arc::new(SealingKeys::new(ring, Some(file), self.store.clone()));
        self
    }

    /// This registry with `managed` as the storage of managed (`d6tfree`) pipes.
    pub fn with_managed_storage(mut self, managed: ManagedStorage) -> Registry {
        self.managed = Some(Arc::new(managed));
        self
    }

    /// The storage of managed pipes, if any.
    pub fn managed_storage(&self) -> Option<&ManagedStorage> {
        self.managed.as_deref()
    }

    /// A fresh per-request lookup of pipes' storage.
    pub(crate) fn storage_lookup(&self) -> tree::StorageLookup<'_> {
        tree::StorageLookup::new(self.store.as_ref(), &self.ring, self.managed.as_deref())
    }

    /// The store underneath (for the server's health check).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// Translates a store failure into the domain error the caller sees; backend details are
/// logged, not returned.
pub(crate) fn store_error(err: StoreError) -> Error {
    match err {
        StoreError::Unique(field) => Error::not_unique(field),
        StoreError::InUse(names) => {
            Error::invalid(format!("Still in use by: {}.", names.join(", ")))
        }
        StoreError::Backend(message) => {
            tracing::error!(%message, "store failure");
            Error::internal("The repo database failed; see the server log.")
        }
    }
}

/// `?`-friendly conversion of store results.
pub(crate) trait StoreResultExt<T> {
    fn or_internal(self) -> Result<T>;
}

impl<T> StoreResultExt<T> for std::result::Result<T, StoreError> {
    fn or_internal(self) -> Result<T> {
        self.map_err(store_error)
    }
}
