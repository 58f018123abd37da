//! The Unix user that the SFTP and FTP test servers log in: created once per machine with
//! `useradd -m` and given a fixed password with `chpasswd`, under a file lock because test
//! processes run in parallel. Each test works in its own folder under the user's home
//! ([`TestUser::workdir`]), removed on drop.

use std::fs::File;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The test user's name.
pub const USERNAME: &str = "dpipe-test";
/// The test user's password.
pub const PASSWORD: &str = "dpipe-test-password-1";

/// The test user, present on the machine.
#[derive(Debug)]
pub struct TestUser {
    /// Login name.
    pub name: &'static str,
    /// Password.
    pub password: &'static str,
    /// Home folder.
    pub home: PathBuf,
    uid: u32,
    gid: u32,
}

/// Creates the user if needed (once per process) and returns it.
pub fn test_user() -> &'static TestUser {
    static USER: OnceLock<TestUser> = OnceLock::new();
    USER.get_or_init(ensure_user)
}

fn ensure_user() -> TestUser {
    let lock = File::create(std::env::temp_dir().join("dpipe-test-user.lock"))
        .expect("test user: lock file");
    lock.lock().expect("test user: take the lock");
    if passwd_entry().is_none() {
        run(
            Command::new("useradd").args(["-m", "-s", "/bin/bash", USERNAME]),
            "useradd",
        );
    }
    let mut chpasswd = Command::new("chpasswd")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("test user: chpasswd: {e} (the SFTP/FTP tests run as root)"));
    use std::io::Write as _;
    chpasswd
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{USERNAME}:{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(
        chpasswd.wait().unwrap().success(),
        "test user: chpasswd failed (the SFTP/FTP tests run as root)"
    );
    let (home, uid, gid) = passwd_entry().expect("test user: missing after useradd");
    std::fs::create_dir_all(&home).expect("test user: home folder");
    std::os::unix::fs::chown(&home, Some(uid), Some(gid)).expect("test user: chown home");
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755))
        .expect("test user: chmod home");
    drop(lock);
    TestUser {
        name: USERNAME,
        password: PASSWORD,
        home,
        uid,
        gid,
    }
}

/// `(home, uid, gid)` from `getent passwd`.
fn passwd_entry() -> Option<(PathBuf, u32, u32)> {
    let out = Command::new("getent")
        .args(["passwd", USERNAME])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = line.trim().split(':').collect();
    Some((
        PathBuf::from(fields.get(5)?),
        fields.get(2)?.parse().ok()?,
        fields.get(3)?.parse().ok()?,
    ))
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("test user: {what}: {e}"));
    // Another test process may have created the user between our check and our call.
    if !out.status.success() && passwd_entry().is_none() {
        panic!(
            "test user: {what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A folder of one test under the test user's home, owned by the user; removed on drop.
#[derive(Debug)]
pub struct Workdir {
    /// Absolute path on this machine (also the path the servers see: no chroot).
    pub path: PathBuf,
}

impl TestUser {
    /// A new empty folder for one test, owned by the user.
    pub fn workdir(&self) -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix("t-")
            .tempdir_in(&self.home)
            .expect("test user: workdir");
        let path = dir.keep();
        self.chown(&path);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("test user: chmod workdir");
        Workdir { path }
    }

    /// Gives `path` to the user.
    pub fn chown(&self, path: &Path) {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).expect("test user: chown");
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
