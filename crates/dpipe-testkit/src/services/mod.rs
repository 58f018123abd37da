//! Real storage servers for tests, each on a free 127.0.0.1 port and stopped on drop:
//!
//! * [`s3`]: s3s-fs in-process (no install needed), its GET bodies read in large blocks
//!   ([`s3_block_reads`]).
//! * [`sftp`]: Debian's `sshd` with its own config, a test user with a password and a key.
//! * [`ftp`]: Debian's `vsftpd` with its own config, the same test user.
//! * [`smtp`]: Python's `aiosmtpd` (from `scripts/install-smtp.sh`), keeping the mail it
//!   receives for the test to read (invitation links).
//!
//! `sshd` and `vsftpd` come from `scripts/install-test-services.sh`; a missing binary fails
//! the test with that hint, it never skips. The SFTP and FTP servers must run as root (they
//! switch to the test user), which CI and the developers' machines are.

pub mod ftp;
pub mod s3;
pub mod s3_block_reads;
pub mod sftp;
pub mod smtp;
pub mod user;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// The hint printed when a server binary is missing.
pub const INSTALL_HINT: &str = "run `bash scripts/install-test-services.sh` (as root) first";

/// Panics with the install hint when `binary` is missing.
pub(crate) fn require_binary(binary: &str) {
    assert!(
        Path::new(binary).exists(),
        "test service {binary} is missing: {INSTALL_HINT}"
    );
}

/// A port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Waits until something accepts connections on `port`, or `timeout` passes.
pub(crate) fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
