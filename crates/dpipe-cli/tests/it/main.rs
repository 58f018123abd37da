//! Integration tests of the `dpipe` binary: every test runs the real binary with its own
//! profiles file and home folder, in local mode or against a real repo API server.

mod accounts;
mod audit;
mod conflicts;
mod ctrl_c;
mod encryption;
mod fs_content;
mod grammar;
mod help_snapshots;
mod interrupt;
mod invitations;
mod local_mode;
mod maintain;
mod managed;
mod managed_external;
mod moto_proxy;
mod newcomer;
mod output_snapshots;
mod profiles;
mod readme_tour;
mod refused_keys;
mod s3;
mod safer_defaults;
mod scan;
mod serve_process;
mod small_defects;
mod storage_down;
mod storage_errors;
mod support;
mod sync;
mod sync_ftp_sftp;
mod sync_output;
mod sync_renew;
mod terminal_safety;
mod wrong_calls;
