//! A real repo API server for tests: `dpipe-server` over a fresh temporary data folder, on
//! 127.0.0.1 port 0, with a clock the test controls. It runs on a background thread with its
//! own tokio runtime, so tests stay plain synchronous `#[test]` functions talking to it over
//! real TCP (with `dpipe_client::HttpApi` or raw sockets).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dpipe_registry::FixedClock;
use dpipe_server::{DataDir, Limits};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A running server; dropping it shuts the server down gracefully and removes its folder.
pub struct TestServer {
    /// The base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub url: String,
    /// The listening address.
    pub addr: SocketAddr,
    /// The registry's clock ("today" for grant expirations); starts at the real today (UTC).
    pub clock: Arc<FixedClock>,
    /// The server's data folder (key, lock and database).
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    // Declared last: the folder is removed after the server thread has stopped.
    _temp: TempDir,
}

impl TestServer {
    /// Starts a server with the default [`Limits`]; returns once `/health` answers 200.
    /// Panics with the reason when it cannot start (this is a test helper).
    pub fn start() -> TestServer {
        TestServer::start_with_limits(Limits::default())
    }

    /// Starts a server with `limits`; returns once `/health` answers 200.
    pub fn start_with_limits(limits: Limits) -> TestServer {
        let temp = tempfile::Builder::new()
            .prefix("dpipe-test-server-")
            .tempdir()
            .expect("a temporary folder");
        let data_dir = temp.path().join("data");
        let data = DataDir::open(&data_dir).unwrap_or_else(|e| panic!("test server: {e}"));
        let clock = Arc::new(FixedClock::new(chrono::Utc::now().date_naive()));
        let registry = data.registry(clock.clone());
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let (addr_tx, addr_rx) = mpsc::channel::<std::io::Result<SocketAddr>>();
        let thread = std::thread::Builder::new()
            .name("dpipe-test-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                        Ok(listener) => listener,
                        Err(e) => return drop(addr_tx.send(Err(e))),
                    };
                    let _ = addr_tx.send(listener.local_addr());
                    let shutdown = async move {
                        let _ = shutdown_rx.await;
                    };
                    if let Err(e) =
                        dpipe_server::serve(listener, dpipe_server::app(registry, limits), shutdown)
                            .await
                    {
                        eprintln!("test server stopped on an error: {e}");
                    }
                    // Holding the data folder's lock until the last request is done.
                    drop(data);
                });
            })
            .expect("a server thread");
        let addr = addr_rx
            .recv()
            .expect("the server thread reports its address")
            .unwrap_or_else(|e| panic!("test server: cannot listen on 127.0.0.1: {e}"));
        let server = TestServer {
            url: format!("http://{addr}"),
            addr,
            clock,
            data_dir,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
            _temp: temp,
        };
        server.wait_healthy(Duration::from_secs(10));
        server
    }

    /// Polls `GET /health` until it answers 200.
    fn wait_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            match health_status(self.addr) {
                Ok(200) => return,
                outcome if Instant::now() > deadline => {
                    panic!("test server at {} is not healthy: {outcome:?}", self.url)
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

/// The status of one `GET /health`.
fn health_status(addr: SocketAddr) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {answer:?}")))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}
