//! dpipe's test kit: real services for tests and the behaviour suites shared by every
//! implementation of a seam.
//!
//! * [`server`]: a real `dpipe serve` on 127.0.0.1 port 0 with an injectable clock.
//! * [`harness`]: one way to get clients for several users over a registry — in local mode
//!   (in-process, a SQLite file) or over HTTP against a [`server::TestServer`].
//! * [`moto`]: a real moto server (S3 and IAM with policy enforcement) and its root and admin
//!   users, for provisioning tests.
//! * [`services`]: real storage servers on 127.0.0.1 — S3 (s3s-fs), SFTP (sshd), FTP (vsftpd).
//! * [`suite`]: the registry behaviour suite, run against every [`harness::Harness`] with
//!   [`registry_suite!`].

pub mod files;
pub mod harness;
pub mod moto;
pub mod postgres;
pub mod server;
pub mod services;
pub mod suite;
