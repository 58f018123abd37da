//! Provisioning of d6tpipe-compatible S3 remotes with the official AWS SDK: a bucket
//! `dpipe-NAME` with a read user and a write user, each holding only the permissions its role
//! needs on that bucket, and one access key each, returned as the remote settings dpipe
//! stores ([`ProvisionedRemote`]). Also their removal.
//!
//! * [`create_bucket_with_users`] creates or refreshes a remote (idempotent; rotates keys;
//!   cleans up after itself on failure),
//! * [`delete_bucket`] and [`delete_user`] remove what it made,
//! * [`AdminSession`] holds the AWS identity doing it (see `docs/s3-provisioning.md` for the
//!   IAM policy it needs, [`PolicyDocument::admin`]),
//! * [`Error`] is the one error type, with a [`ErrorKind`] and the AWS error code.
//!
//! Managed pipes on external S3 use the same SDK set-up: [`StsIssuer`] issues STS credentials
//! limited to one pipe's folder and role (dpipe-core's `SessionIssuer`), and
//! [`ensure_managed_bucket`] makes sure their bucket exists when the server starts.

mod buckets;
mod create;
mod error;
mod names;
mod policy;
mod remote;
mod session;
mod sts;
mod users;

pub use buckets::{BucketCheck, delete_bucket, ensure_managed_bucket};
pub use create::create_bucket_with_users;
pub use error::{Error, ErrorKind, Result};
pub use names::{PREFIX, RemoteNames};
pub use policy::PolicyDocument;
pub use remote::{AccessKeyPair, ProvisionedRemote, RemoteSettings, SplitCredentials};
pub use session::{AdminSession, SessionOptions};
pub use sts::{StsIssuer, StsMode};
pub use users::{Removal, delete_user};
