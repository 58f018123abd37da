//! dpipe's client library.
//!
//! [`RepoApi`] is the repo API as library users see it, with two implementations:
//! [`HttpApi`] talks to a `dpipe serve` (or any d6tpipe-compatible server) over HTTP, and
//! [`LocalApi`] calls `dpipe-registry` in-process on a local SQLite file (local mode). Both
//! give the same answers and the same errors for the same calls.

mod api;
mod error;
mod http;
mod local;

pub use api::RepoApi;
pub use error::{Error, ErrorKind, Result};
pub use http::HttpApi;
pub use local::LocalApi;
