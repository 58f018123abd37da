//! A real repo API server for tests: `dpipe-server` over a fresh temporary data folder, on
//! 127.0.0.1 port 0, with its built-in object store for managed pipes on another port 0, and
//! a clock the test controls. It runs on a background thread with its
//! own tokio runtime, so tests stay plain synchronous `#[test]` functions talking to it over
//! real TCP (with `dpipe_client::HttpApi` or raw sockets).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dpipe_registry::{FixedClock, Mailer};
use dpipe_server::{DataDir, DataDirOptions, Limits};
use tempfile::TempDir;
use tokio::sync::watch;

use crate::suite::managed::MANAGED_BUCKET;

/// A running server; dropping it shuts the server down gracefully and removes its folder.
pub struct TestServer {
    /// The base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub url: String,
    /// The built-in object store's URL (managed pipes' files; bucket [`MANAGED_BUCKET`]).
    pub storage_url: String,
    /// The listening address.
    pub addr: SocketAddr,
    /// The registry's clock ("today" for grant expirations); starts at the real today (UTC).
    pub clock: Arc<FixedClock>,
    /// The server's data folder (key, lock and database).
    pub data_dir: PathBuf,
    shutdown: watch::Sender<bool>,
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
        TestServer::start_with(limits, None)
    }

    /// Starts a server that mails invitation links through `mailer` (as `dpipe serve
    /// --smtp-url` does), the links pointing at the server itself.
    pub fn start_with_mailer(mailer: Arc<dyn Mailer>) -> TestServer {
        TestServer::start_with(Limits::default(), Some(mailer))
    }

    /// Starts a server whose registry is in the PostgreSQL database at `database_url` (as
    /// `dpipe serve --database-url` does) instead of SQLite in its data folder.
    pub fn start_on_postgres(database_url: &str) -> TestServer {
        TestServer::start_with_options(
            Limits::default(),
            None,
            &DataDirOptions {
                database_url: Some(database_url.to_string()),
                ..DataDirOptions::default()
            },
        )
    }

    fn start_with(limits: Limits, mailer: Option<Arc<dyn Mailer>>) -> TestServer {
        TestServer::start_with_options(limits, mailer, &DataDirOptions::default())
    }

    fn start_with_options(
        limits: Limits,
        mailer: Option<Arc<dyn Mailer>>,
        options: &DataDirOptions,
    ) -> TestServer {
        let temp = tempfile::Builder::new()
            .prefix("dpipe-test-server-")
            .tempdir()
            .expect("a temporary folder");
        let data_dir = temp.path().join("data");
        let data =
            DataDir::open_with(&data_dir, options).unwrap_or_else(|e| panic!("test server: {e}"));
        let clock = Arc::new(FixedClock::new(chrono::Utc::now().date_naive()));
        let clock_for_registry = clock.clone();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (addr_tx, addr_rx) = mpsc::channel::<std::io::Result<(SocketAddr, SocketAddr)>>();
        let thread = std::thread::Builder::new()
            .name("dpipe-test-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                runtime.block_on(async move {
                    let bound = async {
                        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                        let objects = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                        Ok::<_, std::io::Error>((api, objects))
                    };
                    let (listener, objects_listener) = match bound.await {
                        Ok(listeners) => listeners,
                        Err(e) => return drop(addr_tx.send(Err(e))),
                    };
                    let (addr, objects_addr) = (
                        listener.local_addr().expect("an address"),
                        objects_listener.local_addr().expect("an address"),
                    );
                    let mut registry = data.registry(clock_for_registry).with_managed_storage(
                        dpipe_server::builtin_managed_storage(
                            format!("http://{objects_addr}"),
                            MANAGED_BUCKET,
                            dpipe_registry::managed::DEFAULT_LIFETIME,
                        ),
                    );
                    if let Some(mailer) = mailer {
                        registry = registry.with_mailer(mailer, &format!("http://{addr}"));
                    }
                    let service = dpipe_server::builtin_storage_service(
                        &data.storage_path(),
                        MANAGED_BUCKET,
                        &registry,
                    )
                    .unwrap_or_else(|e| panic!("test server: {e}"));
                    let _ = addr_tx.send(Ok((addr, objects_addr)));
                    let stopped = |mut rx: watch::Receiver<bool>| async move {
                        let _ = rx.wait_for(|stop| *stop).await;
                    };
                    let objects = tokio::spawn(dpipe_objects::serve(
                        objects_listener,
                        service,
                        stopped(shutdown_rx.clone()),
                    ));
                    if let Err(e) = dpipe_server::serve(
                        listener,
                        dpipe_server::app(registry, limits),
                        stopped(shutdown_rx),
                    )
                    .await
                    {
                        eprintln!("test server stopped on an error: {e}");
                    }
                    let _ = objects.await;
                    // Holding the data folder's lock until the last request is done.
                    drop(data);
                });
            })
            .expect("a server thread");
        let (addr, objects_addr) = addr_rx
            .recv()
            .expect("the server thread reports its address")
            .unwrap_or_else(|e| panic!("test server: cannot listen on 127.0.0.1: {e}"));
        let server = TestServer {
            url: format!("http://{addr}"),
            storage_url: format!("http://{objects_addr}"),
            addr,
            clock,
            data_dir,
            shutdown: shutdown_tx,
            thread: Some(thread),
            _temp: temp,
        };
        server.wait_healthy(Duration::from_secs(10));
        server
    }

    /// [`http_get`] to this server.
    pub fn get(&self, target: &str) -> std::io::Result<(u16, String)> {
        http_get(self.addr, target)
    }

    /// Polls `GET /health` until it answers 200.
    fn wait_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            match http_get(self.addr, "/health").map(|(status, _)| status) {
                Ok(200) => return,
                outcome if Instant::now() > deadline => {
                    panic!("test server at {} is not healthy: {outcome:?}", self.url)
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

/// The status and body of one `GET target` (a path with its query) to the server at `addr`,
/// over a fresh connection, as a browser following a link would send it.
pub fn http_get(addr: SocketAddr, target: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {answer:?}")))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    Ok((status, body))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
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
