//! The handlers, one module per resource. Each one only unpacks the request, calls the one
//! registry method that decides it, and picks the success status; every rule is the
//! registry's.

pub(crate) mod accounts;
pub(crate) mod meta;
pub(crate) mod pipes;
pub(crate) mod remotes;
