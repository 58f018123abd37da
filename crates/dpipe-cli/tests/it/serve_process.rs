//! A real `dpipe serve` process for the tests that need the command itself (its flags, its
//! built-in object store, SIGTERM, kill -9): started on free ports (`127.0.0.1:0` for the repo
//! API and the object store), with the addresses read from the lines it logs at start; or a
//! start expected to fail ([`ServeProcess::refused`]). Its AWS identity is only what a test
//! passes in its environment.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `dpipe serve`; killed when dropped if still running.
pub struct ServeProcess {
    /// The process.
    pub child: Child,
    /// The repo API's base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The built-in object store's URL, when it runs.
    pub storage_url: Option<String>,
    /// Everything it logged so far.
    log: Arc<Mutex<String>>,
}

/// Variables of the caller's environment that would give the server an AWS identity or
/// region other than what a test passes.
const AWS_CLEARED: [&str; 8] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
];

impl ServeProcess {
    /// Starts `dpipe serve` on `data_dir` with free ports and `extra` flags; returns once it
    /// logged where it listens (panics after 20 s or when it exits first).
    pub fn start(data_dir: &Path, extra: &[&str]) -> ServeProcess {
        ServeProcess::start_with_env(data_dir, extra, &[])
    }

    /// [`ServeProcess::start`] with `env` added to an environment without AWS identity.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut child = command(data_dir, extra, env)
            .spawn()
            .expect("dpipe serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let stderr = child.stderr.take().expect("a stderr pipe");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let wants_storage = !extra
            .iter()
            .any(|f| *f == "--no-storage" || *f == "--external-storage");
        let (mut url, mut storage_url) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while url.is_none() || (wants_storage && storage_url.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(found) = url_after(&line, "dpipe serve listening on ") {
                        url = Some(found.trim_end_matches("/v1/api/").to_string());
                    }
                    if let Some(found) = url_after(&line, "built-in object store listening on ") {
                        storage_url = Some(found);
                    }
                }
                Err(_) => panic!(
                    "dpipe serve did not say where it listens: {:?}\n{}",
                    child.try_wait(),
                    log.lock().unwrap()
                ),
            }
        }
        ServeProcess {
            child,
            url: url.expect("a URL"),
            storage_url,
            log,
        }
    }

    /// Runs `dpipe serve` as [`ServeProcess::start_with_env`] would, expecting it to refuse to
    /// start: returns its exit code and stderr (panics when it still runs after 60 s).
    pub fn refused(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> (i32, String) {
        let mut child = command(data_dir, extra, env)
            .spawn()
            .expect("dpipe serve starts");
        let mut stderr = child.stderr.take().expect("a stderr pipe");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("dpipe serve {extra:?} still runs after 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = reader.join().unwrap();
        (
            status.code().expect("dpipe serve exited, not killed"),
            stderr,
        )
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends `signal` (`-TERM`, `-KILL`) and waits for the process to end.
    pub fn signal_and_wait(&mut self, signal: &str) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `dpipe serve` on `data_dir` with free ports, `extra` flags and `env`, stderr piped.
fn command(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dpipe"));
    for name in AWS_CLEARED {
        command.env_remove(name);
    }
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "info")
        // Without keys the AWS chain would wait for an instance metadata service.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let own_storage = ["--no-storage", "--external-storage"];
    if !extra.iter().any(|f| own_storage.contains(f)) {
        command.args(["--storage-listen", "127.0.0.1:0"]);
    }
    command
}

/// The `http://…` word that follows `marker` in a log line.
fn url_after(line: &str, marker: &str) -> Option<String> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let url: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
    url.starts_with("http://").then_some(url)
}
