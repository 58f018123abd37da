//! A real SFTP server for tests: Debian's `/usr/sbin/sshd -D` as root with its own config in a
//! temporary folder — `Port`, `ListenAddress 127.0.0.1`, a `HostKey` made by `ssh-keygen`,
//! `Subsystem sftp internal-sftp`, `UsePAM no`, password and public-key authentication with an
//! `AuthorizedKeysFile` in that folder — logging in the [`super::user`] test user, who has a
//! password, an ed25519 key ([`SftpServer::key_path`]) and a second key encrypted with
//! [`KEY_PASSPHRASE`] ([`SftpServer::encrypted_key_path`]). A variant takes
//! keyboard-interactive logins only ([`SftpServer::start_keyboard_interactive`], through PAM),
//! and [`SftpServer::restart_with_new_host_key`] puts another server (another host key) on
//! the same port. Stopped on drop.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::user::{TestUser, test_user};
use super::{INSTALL_HINT, free_port, require_binary, wait_for_port};

const SSHD: &str = "/usr/sbin/sshd";
const SSH_KEYGEN: &str = "/usr/bin/ssh-keygen";

/// The passphrase of [`SftpServer::encrypted_key_path`].
pub const KEY_PASSPHRASE: &str = "dpipe-test-passphrase";

/// How the server lets the user in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logins {
    /// Password and public key.
    PasswordAndKey,
    /// Keyboard-interactive only (PAM asks for the password).
    KeyboardInteractive,
}

/// A running sshd.
pub struct SftpServer {
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The user it logs in.
    pub user: &'static TestUser,
    dir: tempfile::TempDir,
    child: Child,
    logins: Logins,
}

impl SftpServer {
    /// Starts sshd on a free port (creating the test user if needed), taking passwords and
    /// keys.
    pub fn start() -> Self {
        Self::start_with(Logins::PasswordAndKey)
    }

    /// Starts sshd taking keyboard-interactive logins only (PAM's password prompt).
    pub fn start_keyboard_interactive() -> Self {
        Self::start_with(Logins::KeyboardInteractive)
    }

    fn start_with(logins: Logins) -> Self {
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
        keygen(&dir.path().join("host_ed25519"), "");
        let client_key = dir.path().join("client_ed25519");
        keygen(&client_key, "");
        let encrypted_key = dir.path().join("client_encrypted");
        keygen(&encrypted_key, KEY_PASSPHRASE);
        let authorized = dir.path().join("authorized_keys");
        let public = |key: &Path| {
            std::fs::read_to_string(key.with_extension("pub")).expect("sftp test server: key")
        };
        std::fs::write(&authorized, public(&client_key) + &public(&encrypted_key))
            .expect("sftp test server: authorized_keys");
        std::fs::set_permissions(&authorized, std::fs::Permissions::from_mode(0o644)).unwrap();

        let mut log = String::new();
        // The free port may be taken between our check and sshd's bind: try a few.
        for _ in 0..3 {
            let port = free_port();
            let mut child = spawn(dir.path(), port, user.name, logins);
            if wait_for_port(port, Duration::from_secs(10)) {
                return Self {
                    port,
                    user,
                    dir,
                    child,
                    logins,
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

    /// The test user's second key, encrypted with [`KEY_PASSPHRASE`], authorized too.
    pub fn encrypted_key_path(&self) -> PathBuf {
        self.dir.path().join("client_encrypted")
    }

    /// The server's host public key line (`ssh-ed25519 AAAA… comment`).
    pub fn host_key_line(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host_ed25519.pub"))
            .expect("sftp test server: host key")
            .trim()
            .to_string()
    }

    /// The server's host key fingerprint (`SHA256:…`), as `ssh-keygen -lf` prints it.
    pub fn host_key_fingerprint(&self) -> String {
        let out = Command::new(SSH_KEYGEN)
            .arg("-lf")
            .arg(self.dir.path().join("host_ed25519.pub"))
            .output()
            .expect("sftp test server: ssh-keygen -lf");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .expect("sftp test server: a fingerprint")
            .to_string()
    }

    /// Stops this sshd and starts another with a new host key on the same port: to the
    /// client, another server at the same address.
    pub fn restart_with_new_host_key(&mut self) {
        self.stop();
        let host_key = self.dir.path().join("host_ed25519");
        let _ = std::fs::remove_file(&host_key);
        let _ = std::fs::remove_file(host_key.with_extension("pub"));
        keygen(&host_key, "");
        // The port was just freed: sshd may need a moment before it can bind it again.
        for _ in 0..20 {
            self.child = spawn(self.dir.path(), self.port, self.user.name, self.logins);
            if wait_for_port(self.port, Duration::from_secs(5)) {
                return;
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("sftp test server: sshd did not restart: {}", self.log());
    }

    /// Stops sshd and every connection it serves, at once: the listener is frozen first (it
    /// starts no new session), then it and every process under it are killed.
    fn stop(&mut self) {
        let listener = self.child.id();
        let _ = Command::new("kill")
            .args(["-STOP", &listener.to_string()])
            .status();
        let mut tree = vec![listener];
        let mut next = 0;
        while next < tree.len() {
            tree.extend(children_of(tree[next]));
            next += 1;
        }
        for pid in tree.into_iter().skip(1) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// sshd's log so far (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

fn spawn(dir: &Path, port: u16, user: &str, logins: Logins) -> Child {
    let config = dir.join("sshd_config");
    std::fs::write(&config, config_text(dir, port, user, logins))
        .expect("sftp test server: config");
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
        // Each connection is a child of the listener that outlives it.
        self.stop();
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

/// Makes an ed25519 key pair at `path` (and `path.pub`), encrypted with `passphrase` unless
/// it is empty.
fn keygen(path: &Path, passphrase: &str) {
    let out = Command::new(SSH_KEYGEN)
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            passphrase,
            "-C",
            "dpipe-test",
            "-f",
        ])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("sftp test server: ssh-keygen: {e}; {INSTALL_HINT}"));
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn config_text(dir: &Path, port: u16, user: &str, logins: Logins) -> String {
    let d = dir.display();
    // Keyboard-interactive needs PAM on Linux (Debian has no /etc/pam.d/sshd in a slim
    // image: PAM's `other` service, pam_unix, answers).
    let (pam, password, kbd, pubkey) = match logins {
        Logins::PasswordAndKey => ("no", "yes", "no", "yes"),
        Logins::KeyboardInteractive => ("yes", "no", "yes", "no"),
    };
    format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {d}/host_ed25519\n\
         PidFile {d}/sshd.pid\n\
         AuthorizedKeysFile {d}/authorized_keys\n\
         UsePAM {pam}\n\
         PasswordAuthentication {password}\n\
         KbdInteractiveAuthentication {kbd}\n\
         PubkeyAuthentication {pubkey}\n\
         PermitRootLogin no\n\
         StrictModes no\n\
         AllowUsers {user}\n\
         Subsystem sftp internal-sftp\n\
         LogLevel VERBOSE\n"
    )
}
