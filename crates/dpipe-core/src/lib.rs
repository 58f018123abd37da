//! dpipe's domain model, free of I/O.
//!
//! Everything that decides *what is valid* and *what follows from what* lives here:
//! names ([`name`]), storage protocols ([`protocol`]), credentials ([`credentials`]),
//! pipe options and `remotepath` ([`options`]), managed storage ([`managed`]) and the STS
//! session policies that scope it ([`session_policy`]), roles and grants ([`role`]), file
//! manifests ([`manifest`]), include/exclude filters ([`filter`]), the pure sync planner
//! ([`plan`]), the resource shapes exchanged over the wire ([`wire`]) and the one [`Error`]
//! type every other crate translates into.

pub mod credentials;
pub mod error;
pub mod fields;
pub mod filter;
pub mod managed;
pub mod manifest;
pub mod name;
pub mod options;
pub mod plan;
pub mod protocol;
pub mod role;
pub mod session_policy;
pub mod wire;

pub use error::{Error, ErrorKind, Result};
