//! dpipe's data plane: the only crate that speaks to storage, through Apache OpenDAL (S3,
//! FTP/FTPS, folders, and SFTP through dpipe's own OpenDAL service on russh) and, for S3
//! multipart uploads that must survive an interruption, the AWS SDK.
//!
//! * [`location`]: where files live — protocol, location, the pipe's root, credentials,
//!   settings (plain types, filled by whoever resolved the pipe).
//! * [`operator`]: a [`Location`] → a [`Storage`] (an OpenDAL operator with retries with
//!   jittered backoff, timeouts and a concurrency limit), tuned by [`Tuning`]; each protocol's
//!   service is configured in `services` (SFTP: `services::sftp`, with its host-key checks).
//! * [`reachability`]: a run's calls retried while the storage is out of reach, until
//!   [`Tuning::give_up_after`] says the run gives up.
//! * [`manifest`]: a recursive scan of a prefix into a sorted [`Manifest`]; keys that would
//!   escape the folder are reported as [`RejectedKey`]s.
//! * [`transfer`]: streamed, hash-verified get to a staged temporary file; streamed
//!   (multipart) put, continued after an interruption; delete.
//! * `s3_multipart`: S3 multipart uploads recorded so that the next run continues them.
//! * [`leftovers`]: what interrupted uploads left on the storage, listed and removed.
//! * [`staging`]: staged downloads made durable (fsync) and renamed into place, one by one or
//!   in batches committed in the background.
//! * `local_io`: the local side of transfers, batched onto Tokio's blocking pool; download
//!   folders created without following symlinks.
//! * [`error`]: the one [`Error`] type, with an [`ErrorKind`].
//!
//! ```no_run
//! # async fn demo() -> dpipe_storage::Result<()> {
//! use dpipe_storage::{Location, Protocol, Storage, Tuning};
//! let location = Location::new(Protocol::S3, "bucket", "pipes/sales")
//!     .setting("endpoint", "http://127.0.0.1:9000")
//!     .credential("aws_access_key_id", "AKID")
//!     .credential("aws_secret_access_key", "secret");
//! let storage = Storage::connect(&location, Tuning::default())?;
//! let manifest = storage.scan("").await?;
//! for entry in &manifest.entries {
//!     storage.get_into(entry, std::path::Path::new("/data/sales")).await?;
//! }
//! # Ok(()) }
//! ```

pub mod error;
pub mod leftovers;
mod local_io;
pub mod location;
pub mod manifest;
pub mod operator;
pub mod reachability;
mod s3_multipart;
mod services;
pub mod staging;
pub mod transfer;

pub use error::{Error, ErrorKind, Result};
pub use leftovers::{Leftover, LeftoverKind};
pub use location::{Location, Protocol};
pub use manifest::{
    Manifest, ManifestEntry, RejectedKey, SHA256_METADATA_KEY, TEMP_PREFIX, check_key,
    is_abandoned_temp,
};
pub use operator::{DEFAULT_GIVE_UP_AFTER, Storage, Tuning};
pub use reachability::Reachability;
pub use services::ftp::sends_password_in_plain_text;
pub use services::sftp::host_keys::host_key_fingerprint;
pub use staging::{Staged, Stager};
pub use transfer::{Transferred, hash_file};
