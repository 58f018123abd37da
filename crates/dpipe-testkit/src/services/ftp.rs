//! A real FTP server for tests: Debian's `/usr/sbin/vsftpd` as root with its own config in a
//! temporary folder — `listen=YES` on 127.0.0.1 and a free port, local users with write access,
//! `seccomp_sandbox=NO`, passive mode on a free port range announced as 127.0.0.1, no chroot,
//! dot files listed (`force_dot_files`: OpenDAL lists with a plain `LIST`) —
//! logging in the [`super::user`] test user with its password. Stopped on drop.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::user::{TestUser, test_user};
use super::{INSTALL_HINT, free_port, require_binary, wait_for_port};

const VSFTPD: &str = "/usr/sbin/vsftpd";
/// Passive data ports per server: plenty for a test's concurrent transfers.
const PASV_PORTS: u16 = 24;

/// A running vsftpd.
pub struct FtpServer {
    /// The control port on 127.0.0.1.
    pub port: u16,
    /// The user it logs in.
    pub user: &'static TestUser,
    dir: tempfile::TempDir,
    child: Child,
}

impl FtpServer {
    /// Starts vsftpd on a free port (creating the test user if needed).
    pub fn start() -> Self {
        require_binary(VSFTPD);
        let user = test_user();
        std::fs::create_dir_all("/var/run/vsftpd/empty")
            .expect("ftp test server: mkdir secure_chroot_dir");
        let dir = tempfile::Builder::new()
            .prefix("dpipe-vsftpd-")
            .tempdir()
            .expect("ftp test server: temp folder");
        let mut log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let pasv = free_port_range(PASV_PORTS);
            let mut child = spawn(dir.path(), port, pasv);
            if wait_for_port(port, Duration::from_secs(10)) {
                return Self {
                    port,
                    user,
                    dir,
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            log = std::fs::read_to_string(dir.path().join("vsftpd.log")).unwrap_or_default();
        }
        panic!("ftp test server: vsftpd did not start: {log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// vsftpd's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("vsftpd.log")).unwrap_or_default()
    }
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, port: u16, (pasv_min, pasv_max): (u16, u16)) -> Child {
    let config = dir.join("vsftpd.conf");
    std::fs::write(&config, config_text(dir, port, pasv_min, pasv_max))
        .expect("ftp test server: config");
    Command::new(VSFTPD)
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("vsftpd.stderr")).expect("ftp test server: stderr"))
        .spawn()
        .unwrap_or_else(|e| panic!("ftp test server: cannot run {VSFTPD}: {e}; {INSTALL_HINT}"))
}

/// `count` consecutive ports that were all free a moment ago.
fn free_port_range(count: u16) -> (u16, u16) {
    for _ in 0..50 {
        let base = free_port().clamp(10_000, 65_000 - count);
        let all_free = (base..base + count).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return (base, base + count - 1);
        }
    }
    panic!("ftp test server: no free range of {count} passive ports");
}

fn config_text(dir: &Path, port: u16, pasv_min: u16, pasv_max: u16) -> String {
    let d = dir.display();
    format!(
        "listen=YES\n\
         listen_ipv6=NO\n\
         listen_address=127.0.0.1\n\
         listen_port={port}\n\
         background=NO\n\
         anonymous_enable=NO\n\
         local_enable=YES\n\
         write_enable=YES\n\
         local_umask=022\n\
         chroot_local_user=NO\n\
         seccomp_sandbox=NO\n\
         secure_chroot_dir=/var/run/vsftpd/empty\n\
         pasv_enable=YES\n\
         pasv_min_port={pasv_min}\n\
         pasv_max_port={pasv_max}\n\
         pasv_address=127.0.0.1\n\
         utf8_filesystem=YES\n\
         force_dot_files=YES\n\
         delay_failed_login=0\n\
         delay_successful_login=0\n\
         max_per_ip=0\n\
         max_clients=0\n\
         xferlog_enable=YES\n\
         vsftpd_log_file={d}/vsftpd.log\n\
         dual_log_enable=YES\n\
         xferlog_file={d}/xferlog\n"
    )
}
