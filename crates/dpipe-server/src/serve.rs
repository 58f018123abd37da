//! Running the server: [`serve`] takes a bound listener, a router and a shutdown signal
//! (mini-redis style, so tests bind port 0 and stop it at will); [`run`] is `dpipe serve`:
//! open the data folder, bind, serve until Ctrl-C or SIGTERM, finish the requests in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::serve::ListenerExt;
use dpipe_registry::SystemClock;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::{DataDir, Limits, ServerError, app};

/// What `dpipe serve` needs to know.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on, e.g. `127.0.0.1:8000`.
    pub listen: SocketAddr,
    /// The data folder (see [`DataDir`]).
    pub data_dir: PathBuf,
    /// A credentials key ring file to use instead of the one in the data folder.
    pub credentials_key_file: Option<PathBuf>,
}

/// Opens the data folder, binds, serves until Ctrl-C or SIGTERM, shuts down gracefully.
pub async fn run(options: ServeOptions) -> Result<(), ServerError> {
    let shutdown = shutdown_signal()?;
    let (path, key_file) = (
        options.data_dir.clone(),
        options.credentials_key_file.clone(),
    );
    let data = tokio::task::spawn_blocking(move || DataDir::open_with(&path, key_file.as_deref()))
        .await
        .map_err(|e| ServerError::Serve(std::io::Error::other(e)))??;
    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: options.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    tracing::info!(%addr, data_dir = %data.path().display(), "dpipe serve listening on http://{addr}/v1/api/");
    let router = app(data.registry(Arc::new(SystemClock)), Limits::default());
    serve(listener, router, shutdown)
        .await
        .map_err(ServerError::Serve)?;
    tracing::info!("dpipe serve stopped");
    // The lock is released only now, after the last request finished.
    drop(data);
    Ok(())
}

/// `dpipe serve rotate-key`: seals every stored credential of the (stopped) server's data
/// folder with a new key; returns how many were re-sealed.
pub fn rotate_key(
    data_dir: &Path,
    credentials_key_file: Option<&Path>,
) -> Result<usize, ServerError> {
    DataDir::open_with(data_dir, credentials_key_file)?.rotate_credentials_key()
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and waits
/// for the requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|stream| {
        // Answers are written in one go; do not let Nagle hold back their last segment.
        let _ = stream.set_nodelay(true);
    });
    // The peer's address reaches handlers as `ConnectInfo` (login rate limits per source).
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A future that completes on the first Ctrl-C (SIGINT) or SIGTERM. The handlers are
/// installed at once, so a signal arriving before the future is polled is not lost; must be
/// called inside a tokio runtime.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, ServerError> {
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServerError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(ServerError::Signals)?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(
            signal = %name,
            "shutting down: finishing the requests in flight"
        );
    })
}

/// The default data folder: `<user data dir>/dpipe/server` (e.g.
/// `~/.local/share/dpipe/server` on Linux), or `./dpipe-server` when the system has no
/// user data folder.
pub fn default_data_dir() -> PathBuf {
    match dirs::data_dir() {
        Some(dir) => dir.join("dpipe").join("server"),
        None => PathBuf::from("dpipe-server"),
    }
}
