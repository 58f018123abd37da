//! dpipe's test kit: real services for tests and the behaviour suites shared by every
//! implementation of a seam.
//!
//! * [`server`]: a real `dpipe serve` on 127.0.0.1 port 0 with an injectable clock.
//! * [`harness`]: one way to get clients for several users over a registry — in local mode
//!   (in-process, a SQLite file) or over HTTP against a [`server::TestServer`].
//! * [`suite`]: the registry behaviour suite, run against every [`harness::Harness`] with
//!   [`registry_suite!`].

pub mod harness;
pub mod server;
pub mod suite;
