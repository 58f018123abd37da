//! Integration tests of dpipe-objects: real HTTP against a store served on 127.0.0.1, with
//! aws-sdk-s3 as the client (and raw requests where no SDK sends what is tested), and a
//! small real gate (see `support`).

mod auth;
mod digests;
mod listing;
mod logging;
mod multipart;
mod objects;
mod raw;
mod recovery;
mod safety;
mod support;
mod visibility;
