//! A real SFTP server for tests: Debian's `/usr/sbin/sshd -D` as root with its own config in a
//! temporary folder — `Port`, `ListenAddress 127.0.0.1`, a `HostKey` made by `ssh-keygen`,
//! `Subsystem sftp internal-sftp`, `UsePAM no`, password and public-key authentication with an
//! `AuthorizedKeysFile` in that folder — logging in the [`super::user`] test user, who has both
//! a password and an ed25519 key ([`SftpServer::key_path`]). Stopped on drop.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::user::{TestUser, test_user};
use super::{INSTALL_HINT, free_port, require_binary, wait_for_port};

const SSHD: &str = "/usr/sbin/sshd";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";

/// A running sshd.
pub struct SftpServer {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The user it logs in.
    pub user: &'static TestUser,
    dir: tempfile::TempDir,
    child: Child,
}

impl SftpServer {
    /// Starts sshd on a free port (creating the test user if needed).
    pub fn start() -> Self {
        require_binary(SSHD);
        require_binary(SSH_KEYGEN);
        let user = test_user();
        std::fs::create_dir_all("/run/sshd").expect("sftp test server: mkdir /run/sshd");
        let dir = tempfile::Builder::new()
            .prefix("dpipe-sshd-")
            .tempdir()
            .expect("sftp test server: temp folder");
        // sshd reads the authorized keys as the user: the folder must be traversable.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        keygen(&dir.path().join("host_ed25519"));
        let client_key = dir.path().join("client_ed25519");
        keygen(&client_key);
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(client_key.with_extension("pub"), &authorized)
            .expect("sftp test server: authorized_keys");
        std::fs::set_permissions(&authorized, std::fs::Permissions::from_mode(0o644)).unwrap();

        let mut log = String::new();
        // The free port may be taken between our check and sshd's bind: try a few.
        for _ in 0..3 {
            let port = free_port();
            let mut child = spawn(dir.path(), port, user.name);
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
            log = std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default();
        }
        panic!("sftp test server: sshd did not start: {log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The test user's private key (ed25519, no passphrase), authorized by this server.
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("client_ed25519")
    }

    /// The private key's text.
    pub fn key_text(&self) -> String {
        std::fs::read_to_string(self.key_path()).expect("sftp test server: read key")
    }

    /// sshd's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

fn spawn(dir: &Path, port: u16, user: &str) -> Child {
    let config = dir.join("sshd_config");
    std::fs::write(&config, config_text(dir, port, user)).expect("sftp test server: config");
    Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("sshd.log")).expect("sftp test server: log"))
        .spawn()
        .unwrap_or_else(|e| panic!("sftp test server: cannot run {SSHD}: {e}; {INSTALL_HINT}"))
}

impl Drop for SftpServer {
    fn drop(&mut self) {
        // Each connection is a child of the listener that outlives it; the client's ssh
        // ControlMaster (ControlPersist=yes) exits once its connection is gone.
        for pid in children_of(self.child.id()) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pids whose parent is `parent`, from `/proc`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // `/proc/PID/stat`: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    stat.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                })
                == Some(parent)
        })
        .collect()
}

fn keygen(path: &Path) {
    let out = Command::new(SSH_KEYGEN)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "dpipe-test", "-f"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("sftp test server: ssh-keygen: {e}; {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn config_text(dir: &Path, port: u16, user: &str) -> String {
    let d = dir.display();
    format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {d}/host_ed25519\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         UsePAM no\n\
         PasswordAuthentication yes\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         PermitRootLogin no\n\
         StrictModes no\n\
         AllowUsers {user}\n\
         Subsystem sftp internal-sftp\n\
         LogLevel VERBOSE\n"
    )
}
