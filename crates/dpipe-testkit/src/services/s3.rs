//! A real S3 server for tests: s3s-fs's `FileSystem` over a temporary folder, served in-process
//! by hyper on a free 127.0.0.1 port, on its own tokio runtime in a background thread, with
//! s3s's signature checking for one fixed key pair. Stopped on drop.
//!
//! The accept loop is ours, not s3s-fs's binary, because s3s-fs 0.14.1 sets no TCP_NODELAY on
//! accepted sockets: with Nagle on, every multi-chunk GET stalls ~40 ms on delayed ACKs.
//! Buckets are top-level folders of [`S3Server::root`]; a file written there directly is an
//! object (that is how tests plant keys that no S3 client would send).

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::sync::oneshot;

use super::s3_block_reads::BlockReads;

/// The access key id every test S3 server accepts.
pub const ACCESS_KEY: &str = "dpipe-test-access-key";
/// The secret key every test S3 server accepts.
pub const SECRET_KEY: &str = "dpipe-test-secret-key-0123456789";
/// The region to sign with.
pub const REGION: &str = "us-east-1";

/// A running s3s-fs server.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    addr: SocketAddr,
    root: PathBuf,
    /// The temporary folder behind `root`, when the server made it (removed on drop).
    _temp: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl S3Server {
    /// Starts a server over a new temporary folder.
    pub fn start() -> Self {
        Self::start_with(None, 0)
    }

    /// Starts a server over `root` (an existing folder, kept on drop) or, when `None`, a new
    /// temporary folder, listening on 127.0.0.1:`port` (0: a free port).
    pub fn start_with(root: Option<&Path>, port: u16) -> Self {
        let (root, temp) = match root {
            Some(root) => (root.to_path_buf(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("dpipe-s3s-")
                    .tempdir()
                    .expect("s3 test server: temp folder");
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let fs = BlockReads::new(&root).expect("s3 test server: s3s-fs over the root folder");
        let listener = StdListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("s3 test server: bind 127.0.0.1:{port}: {e}"));
        listener
            .set_nonblocking(true)
            .expect("s3 test server: non-blocking listener");
        let addr = listener
            .local_addr()
            .expect("s3 test server: local address");
        let (tx, rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("s3s-fs-{}", addr.port()))
            .spawn(move || serve(fs, listener, rx))
            .expect("s3 test server: thread");
        Self {
            endpoint: format!("http://{addr}"),
            addr,
            root,
            _temp: temp,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The folder holding the buckets.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates bucket `name` (a top-level folder) and returns its folder.
    pub fn create_bucket(&self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).expect("s3 test server: create bucket folder");
        dir
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(fs: BlockReads, listener: StdListener, mut shutdown: oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("s3s-fs-worker")
        .enable_all()
        .build()
        .expect("s3 test server: tokio runtime");
    runtime.block_on(async move {
        let service = {
            let mut b = S3ServiceBuilder::new(fs);
            b.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            b.build()
        };
        let listener =
            tokio::net::TcpListener::from_std(listener).expect("s3 test server: tokio listener");
        let http = ConnBuilder::new(TokioExecutor::new());
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(_) => continue,
                },
                _ = &mut shutdown => break,
            };
            // The reason this accept loop exists (see the module doc).
            let _ = socket.set_nodelay(true);
            let conn = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    // Open connections die with the runtime.
    runtime.shutdown_background();
}
