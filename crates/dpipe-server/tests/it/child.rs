//! A server in a child process, for tests that kill it: the test binary re-runs itself with
//! only the ignored test [`serve_in_child`], which serves the data folder named by an
//! environment variable the way `dpipe serve` does (until SIGINT/SIGTERM) and prints the
//! address it listens on. Its log (stderr) is collected for the tests to read.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dpipe_registry::SystemClock;
use dpipe_server::{DataDir, Limits};

/// Names the data folder the child serves; unset, the child test does nothing.
const DATA_DIR_ENV: &str = "DPIPE_IT_CHILD_DATA_DIR";
/// The child test's full name, for `--exact`.
const CHILD_TEST: &str = "child::serve_in_child";
/// The line the child prints once it listens, followed by the address.
const LISTENING: &str = "DPIPE_CHILD_LISTENING=";

/// The child's side: serve until a signal, as `dpipe_server::run` does, on port 0.
#[test]
#[ignore = "started by the durability tests as a child process"]
fn serve_in_child() {
    let Some(dir) = std::env::var_os(DATA_DIR_ENV) else {
        return;
    };
    dpipe_server::init_logging();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async move {
        let shutdown = dpipe_server::shutdown_signal().expect("signal handlers");
        let data = DataDir::open(&dir).expect("the data folder");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        println!("{LISTENING}{}", listener.local_addr().expect("an address"));
        let router = dpipe_server::app(data.registry(Arc::new(SystemClock)), Limits::default());
        dpipe_server::serve(listener, router, shutdown)
            .await
            .expect("serving");
        drop(data);
    });
}

/// The parent's side: a running child server.
pub struct ChildServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    log_reader: Option<JoinHandle<()>>,
}

impl ChildServer {
    /// Starts a child serving `dir`; returns once it listens.
    pub fn start(dir: &Path) -> ChildServer {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                CHILD_TEST,
                "--nocapture",
                "--ignored",
                "--test-threads=1",
            ])
            .env(DATA_DIR_ENV, dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "info")
            .spawn()
            .expect("a child server");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("the child's stderr");
        let sink = log.clone();
        let log_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let stdout = child.stdout.take().expect("the child's stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep draining after the address so the child never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest has already written `test <name> ... ` on this line.
                if let Some((_, addr)) = line.split_once(LISTENING) {
                    let _ = tx.send(addr.parse::<SocketAddr>().expect("an address"));
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            panic!(
                "the child server did not start: {:?}\n{}",
                child.wait(),
                log.lock().unwrap()
            );
        };
        ChildServer {
            child,
            addr,
            log,
            log_reader: Some(log_reader),
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: the server gets no chance to finish anything.
    pub fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping the child");
    }

    /// Sends SIGTERM without waiting.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// What the child has logged (its stderr) so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `within` for the child to exit.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's state") {
                // Everything the child wrote is in the log once its stderr reaches EOF.
                if let Some(reader) = self.log_reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the child server did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
