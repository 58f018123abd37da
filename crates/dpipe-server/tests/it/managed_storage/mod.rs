//! Attacks on the built-in object store with keys minted by the credentials endpoint, over
//! real HTTP: aws-sdk-s3 for what an SDK can say, a request path rewritten after signing or a
//! hand-written request for what it cannot. Every attack is refused with its S3 error code and
//! leaves the storage folder (its files and their sizes) and the owner's listing as they were.
//!
//! `crates/dpipe-testkit/tests/it/managed_keys.rs` proves the registry's judgement of a
//! request; this module proves that the endpoint asks it, for every operation, about the key,
//! bucket and object the server actually decoded.

mod keys;
mod scope;
mod support;
