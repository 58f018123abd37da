//! dpipe's built-in object store: the S3-compatible endpoint `dpipe serve` runs for
//! managed pipes, over a folder of its data directory.
//!
//! * [`ObjectStore`] (`store`): buckets of objects in a folder — an SQLite index and blob
//!   files named by random ids, so no key ever becomes a path; durable before it answers.
//! * [`objects_service`] (`s3`, `access`): the store's S3 face on the `s3s` crate, which
//!   parses requests and checks SigV4 signatures; every request is put to a [`Gate`] before
//!   anything is read or written.
//! * [`serve`] (`server`): the accept loop, with one log line per request.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn run(gate: Arc<dyn dpipe_objects::Gate>) -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(dpipe_objects::ObjectStore::open("data/objects".as_ref())?);
//! store.ensure_bucket("dpipe-managed")?;
//! let service = dpipe_objects::objects_service(store, gate);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! dpipe_objects::serve(listener, service, std::future::pending()).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod access;
mod error;
mod gate;
mod s3;
mod server;
mod store;

use std::sync::Arc;

pub use access::ALLOWED as ALLOWED_OPERATIONS;
pub use error::{Error, ErrorKind, Result};
pub use gate::{Gate, StorageRefusal, StorageRequest, StorageTarget};
pub use s3s::service::S3Service;
pub use server::{SHUTDOWN_GRACE, serve};
pub use store::{ObjectStore, StoreOptions};

/// The S3 service of `store`, every request checked by `gate`: s3s checks the signature
/// with the secret [`Gate::secret`] gives, then [`Gate::authorize`] decides. Path-style
/// addressing (`http://host:port/bucket/key`).
pub fn objects_service(store: Arc<ObjectStore>, gate: Arc<dyn Gate>) -> S3Service {
    let mut builder = s3s::service::S3ServiceBuilder::new(s3::ObjectsS3::new(store));
    builder.set_auth(access::GateAuth::new(Arc::clone(&gate)));
    builder.set_access(access::GateAccess::new(gate));
    builder.build()
}
