//! Integration tests of the `dpipe` binary: every test runs the real binary with its own
//! profiles file and home folder, in local mode or against a real repo API server.

mod accounts;
mod audit;
mod encryption;
mod interrupt;
mod local_mode;
mod maintain;
mod managed;
mod managed_external;
mod moto_proxy;
mod newcomer;
mod profiles;
mod s3;
mod scan;
mod serve_process;
mod small_defects;
mod support;
mod sync;
mod sync_ftp_sftp;
mod sync_renew;
mod wrong_calls;
