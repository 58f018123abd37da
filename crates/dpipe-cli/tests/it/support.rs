//! Running the `dpipe` binary in an isolated environment: a temporary folder that holds the
//! profiles file (`DPIPE_CONFIG`) and serves as `HOME`, so nothing of the machine's own
//! profiles is read or written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

/// Variables of the caller's environment that would change what dpipe does.
const CLEARED: [&str; 6] = [
    "DPIPE_PROFILE",
    "DPIPE_PASSWORD",
    "DPIPE_CONFIG",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "RUST_LOG",
];

/// One user's machine: a home folder with a profiles file.
pub struct Env {
    dir: TempDir,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::Builder::new()
                .prefix("dpipe-cli-test-")
                .tempdir()
                .expect("a temporary folder"),
        }
    }

    /// The temporary folder (also `HOME`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The profiles file.
    pub fn config(&self) -> PathBuf {
        self.path().join("config").join("dpipe.toml")
    }

    /// Writes `text` to `name` in the folder with `mode`, returning its path.
    pub fn file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    /// The command `dpipe args...` in the folder, in the isolated environment (not started).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dpipe"));
        for name in CLEARED {
            command.env_remove(name);
        }
        command
            .current_dir(self.path())
            .env("DPIPE_CONFIG", self.config())
            .env("HOME", self.path())
            .env("USER", "tester")
            .args(args);
        command
    }

    /// Runs `dpipe args...` in the folder, with `envs` added to the isolated environment.
    pub fn run_with(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        command.envs(envs.iter().copied());
        let Output {
            status,
            stdout,
            stderr,
        } = command.output().expect("dpipe runs");
        Run {
            code: status.code().expect("dpipe exited, not killed"),
            stdout: String::from_utf8(stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(stderr).expect("UTF-8 stderr"),
        }
    }

    /// Runs `dpipe args...`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// Runs `dpipe args...`, which must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "dpipe {args:?} failed: {run:?}");
        run.stdout
    }

    /// Runs `dpipe --json args...`, which must succeed; returns the JSON it printed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("dpipe {args:?} printed no JSON ({e}): {out:?}"))
    }

    /// Runs `dpipe args...`, which must fail with `code` and say `expected` on stderr;
    /// returns stderr.
    pub fn fails(&self, args: &[&str], code: i32, expected: &str) -> String {
        let run = self.run(args);
        assert_eq!(run.code, code, "dpipe {args:?}: wrong exit code: {run:?}");
        assert!(
            run.stderr.contains(expected),
            "dpipe {args:?}: stderr lacks {expected:?}: {run:?}"
        );
        assert!(
            run.stdout.is_empty(),
            "dpipe {args:?} failed but printed data: {run:?}"
        );
        run.stderr
    }
}

/// The names in a JSON array of resources, in order.
pub fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|item| item["name"].as_str().expect("a name").to_string())
        .collect()
}

/// A registered user of the server at `url` whose file repo is `<home>/repo`.
pub fn server_user(url: &str, name: &str) -> Env {
    let env = Env::new();
    let repo = env.path().join("repo");
    let repo = repo.to_str().unwrap();
    env.ok(&["profile", "init", "srv", "--server", url, "--repo", repo]);
    let email = format!("{name}@example.com");
    let password = format!("pw-{name}-long");
    env.ok(&[
        "register",
        "--username",
        name,
        "--email",
        &email,
        "--password",
        &password,
    ]);
    env
}

/// Creates pipe `p` in `env`'s profile on `bucket` of the test S3 `server`, folder `data`.
pub fn create_s3_pipe(env: &Env, server: &dpipe_testkit::services::s3::S3Server, bucket: &str) {
    use dpipe_testkit::services::s3;
    let endpoint = format!("endpoint={}", server.endpoint);
    let id = format!("aws_access_key_id={}", s3::ACCESS_KEY);
    let secret = format!("aws_secret_access_key={}", s3::SECRET_KEY);
    let settings = [endpoint.as_str(), "region=us-east-1"];
    create_pipe(
        env,
        "s3",
        bucket,
        &settings,
        &[&id, &secret],
        &["--dir", "data"],
    );
}

/// Creates pipe `name` in `env`'s profile on S3 bucket `bucket-1`, which nothing ever reads:
/// enough for grants, listings and names.
pub fn create_listed_pipe(env: &Env, name: &str) {
    env.ok(&[
        "pipe",
        "create",
        "--name",
        name,
        "--protocol",
        "s3",
        "--location",
        "bucket-1",
    ]);
}

/// Creates pipe `p` in `env`'s profile: `protocol` at `location`, with `settings` and
/// `credentials` (`key=value` each) and `extra` flags such as `--exclude GLOB`.
pub fn create_pipe(
    env: &Env,
    protocol: &str,
    location: &str,
    settings: &[&str],
    credentials: &[&str],
    extra: &[&str],
) {
    let mut args = vec![
        "pipe",
        "create",
        "--name",
        "p",
        "--protocol",
        protocol,
        "--location",
        location,
    ];
    for setting in settings {
        args.extend(["--setting", setting]);
    }
    for credential in credentials {
        args.extend(["--credential", credential]);
    }
    args.extend(extra);
    env.ok(&args);
}

/// Creates pipe `p` on the test FTP `server`, its files in the server's folder `root`,
/// logging in with the test user's password.
pub fn create_ftp_pipe(env: &Env, server: &dpipe_testkit::services::ftp::FtpServer, root: &Path) {
    let user = format!("username={}", server.user.name);
    let password = format!("password={}", server.user.password);
    create_login_pipe(env, "ftp", &server.endpoint(), root, &[&user, &password]);
}

/// Creates pipe `p` on the test SFTP `server`, its files in the server's folder `root`,
/// logging in with the test user's private key (the server's host key is recorded in the
/// environment's known-hosts file on first use).
pub fn create_sftp_pipe(
    env: &Env,
    server: &dpipe_testkit::services::sftp::SftpServer,
    root: &Path,
) {
    let user = format!("username={}", server.user.name);
    let key = format!("private_key={}", server.key_text());
    let credentials = [user.as_str(), &key];
    create_login_pipe(env, "sftp", &server.endpoint(), root, &credentials);
}

/// Creates pipe `p` of `protocol` on the server at `endpoint`, its files in the server's
/// folder `root`, logging in with `credentials` (`key=value` each).
fn create_login_pipe(env: &Env, protocol: &str, endpoint: &str, root: &Path, credentials: &[&str]) {
    let dir = format!("dir={}", root.to_str().unwrap().trim_start_matches('/'));
    create_pipe(env, protocol, endpoint, &[&dir], credentials, &[]);
}

/// A local-mode profile `lap` whose file repo is `<home>/repo`; returns the repo.
pub fn local_profile(env: &Env) -> PathBuf {
    let repo = env.path().join("repo");
    env.ok(&[
        "profile",
        "init",
        "lap",
        "--local",
        "--repo",
        repo.to_str().unwrap(),
    ]);
    repo
}

/// Creates pipe `p` in `env`'s profile on the local folder `remote` (protocol `fs`), with
/// `extra` flags such as `--exclude GLOB`.
pub fn create_fs_pipe(env: &Env, remote: &Path, extra: &[&str]) {
    create_pipe(env, "fs", remote.to_str().unwrap(), &[], &[], extra);
}

/// Runs `dpipe args...` of `env` on a terminal (a pseudo-terminal made by util-linux's
/// `script`, stdout and stderr both on it), typing `typed`; returns what the terminal showed.
pub fn on_terminal(env: &Env, args: &str, typed: &str) -> String {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let line = format!("{} {args}", env!("CARGO_BIN_EXE_dpipe"));
    let mut child = Command::new("script")
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .env("DPIPE_CONFIG", env.config())
        .env("HOME", env.path())
        .env("USER", "tester")
        .env_remove("DPIPE_PROFILE")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("RUST_LOG")
        .current_dir(env.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("util-linux script runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(typed.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `dpipe verb --pipe p --quiet` of `env` and kills it with SIGKILL as soon as
/// `progress()` says it got far enough (`Ok`); `progress` says how far it is otherwise
/// (`Err`, for the messages). Panics if the run ends first or takes more than two minutes.
pub fn kill_when(env: &Env, verb: &str, mut progress: impl FnMut() -> Result<(), String>) {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = env
        .command(&[verb, "--pipe", "p", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let so_far = match progress() {
            Ok(()) => break,
            Err(so_far) => so_far,
        };
        if let Some(status) = child.try_wait().unwrap() {
            panic!("dpipe {verb} ended ({status}) before it could be killed; {so_far}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "dpipe {verb} hangs; {so_far}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "{status}");
}
