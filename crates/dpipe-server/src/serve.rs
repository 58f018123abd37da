//! Running the server: [`serve`] takes a bound listener, a router and a shutdown signal
//! (mini-redis style, so tests bind port 0 and stop it at will); [`run`] is `dpipe serve`:
//! open the data folder, set up managed storage and mail, bind, serve the repo API and the
//! built-in object store until Ctrl-C or SIGTERM, finish the requests in flight.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use dpipe_objects::S3Service;
use dpipe_registry::{Registry, SystemClock};
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::{Service, service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::storage::{
    StorageKind, StorageOptions, builtin_managed_storage, builtin_storage_service,
    external_managed_storage,
};
use crate::{DataDir, DataDirOptions, Limits, ServerError, SmtpMailer, app};

/// What `dpipe serve` needs to know.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on, e.g. `127.0.0.1:8000`.
    pub listen: SocketAddr,
    /// The data folder (see [`DataDir`]).
    pub data_dir: PathBuf,
    /// Keys and database from elsewhere than the data folder.
    pub data: DataDirOptions,
    /// The storage of managed pipes.
    pub storage: StorageOptions,
    /// The SMTP server that invitation links are mailed through (`smtp://HOST[:PORT]`);
    /// without one, invitations are claimed only by the owner's confirmation.
    pub smtp_url: Option<String>,
}

/// Opens the data folder, sets up managed storage, binds, serves the repo API (and the
/// built-in object store) until Ctrl-C or SIGTERM, then lets the requests in flight finish.
pub async fn run(options: ServeOptions) -> Result<(), ServerError> {
    let shutdown = Shutdown::on_signals()?;
    let mailer = options
        .smtp_url
        .as_deref()
        .map(SmtpMailer::new)
        .transpose()?;
    // The ports are bound and external storage is checked before the data folder is
    // opened: a wrong call leaves nothing behind.
    let listener = bind(options.listen).await?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    let storage = options.storage;
    let objects_listener = match &storage.kind {
        StorageKind::BuiltIn { listen, .. } => Some(bind(*listen).await?),
        StorageKind::Off | StorageKind::External { .. } => None,
    };
    let external = match &storage.kind {
        StorageKind::External {
            endpoint,
            region,
            role_arn,
        } => Some(
            external_managed_storage(
                &storage.bucket,
                storage.key_lifetime,
                endpoint.clone(),
                region.clone(),
                role_arn.clone(),
            )
            .await?,
        ),
        StorageKind::Off | StorageKind::BuiltIn { .. } => None,
    };
    let (path, data_options) = (options.data_dir.clone(), options.data.clone());
    let data = blocking(move || DataDir::open_with(&path, &data_options)).await??;
    let mut registry = data.registry(Arc::new(SystemClock));
    if let Some(mailer) = mailer {
        tracing::info!("invitation links are mailed through the SMTP server of --smtp-url");
        registry = registry.with_mailer(Arc::new(mailer), &format!("http://{addr}"));
    }
    let (registry, objects) = match (storage.kind, external, objects_listener) {
        (_, Some(managed), _) => {
            tracing::info!(
                bucket = %managed.bucket,
                endpoint = managed.endpoint_url.as_deref().unwrap_or("AWS"),
                "managed pipes' files are on external S3; credentials come from STS"
            );
            (registry.with_managed_storage(managed), None)
        }
        (StorageKind::BuiltIn { url, .. }, None, Some(objects_listener)) => {
            let (registry, service) = builtin_storage(
                &data,
                registry,
                &storage.bucket,
                storage.key_lifetime,
                &objects_listener,
                url,
            )
            .await?;
            (registry, Some((objects_listener, service)))
        }
        _ => {
            tracing::info!("no managed storage (--no-storage): pipes need storage of their own");
            (registry, None)
        }
    };
    tracing::info!(%addr, data_dir = %data.path().display(), "dpipe serve listening on http://{addr}/v1/api/");
    let router = app(registry, Limits::default());
    let objects = objects.map(|(listener, service)| {
        tokio::spawn(dpipe_objects::serve(listener, service, shutdown.wait()))
    });
    serve(listener, router, shutdown.wait())
        .await
        .map_err(ServerError::Serve)?;
    if let Some(objects) = objects {
        objects
            .await
            .map_err(|e| ServerError::Serve(std::io::Error::other(e)))?
            .map_err(ServerError::Serve)?;
    }
    tracing::info!("dpipe serve stopped");
    // The lock is released only now, after the last request finished.
    drop(data);
    Ok(())
}

/// Opens the built-in object store over `data`'s storage folder for `listener`, and gives
/// `registry` the managed storage it provides (announced at `url`, default the bound address).
async fn builtin_storage(
    data: &DataDir,
    registry: Registry,
    bucket: &str,
    key_lifetime: chrono::TimeDelta,
    listener: &TcpListener,
    url: Option<String>,
) -> Result<(Registry, S3Service), ServerError> {
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    let url = url.unwrap_or_else(|| format!("http://{addr}"));
    let registry =
        registry.with_managed_storage(builtin_managed_storage(url.clone(), bucket, key_lifetime));
    let service = {
        let (folder, bucket, registry) =
            (data.storage_path(), bucket.to_string(), registry.clone());
        blocking(move || builtin_storage_service(&folder, &bucket, &registry)).await??
    };
    tracing::info!(
        %url,
        bucket,
        folder = %data.storage_path().display(),
        "built-in object store listening on {url} (managed pipes' files)"
    );
    Ok((registry, service))
}

/// Binds `addr`, saying which address failed.
async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Runs `op` on the blocking pool.
async fn blocking<T: Send + 'static>(
    op: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ServerError> {
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| ServerError::Serve(std::io::Error::other(e)))
}

/// One Ctrl-C or SIGTERM stopping every listener of the server.
struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Installs the signal handlers (see [`shutdown_signal`]).
    fn on_signals() -> Result<Shutdown, ServerError> {
        let signal = shutdown_signal()?;
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            signal.await;
            let _ = tx.send(true);
        });
        Ok(Shutdown(rx))
    }

    /// A future that completes once the signal came.
    fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    }
}

/// How long a client may take to send a request's headers, counted from when the server
/// starts waiting for them — also on an idle keep-alive connection. A slow-loris client
/// trickling headers, or a keep-alive connection idle this long, is closed, so neither holds
/// a connection for long. Every legitimate client sends its headers in one go.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and waits
/// for the requests in flight to finish. Headers must arrive within [`HEADER_READ_TIMEOUT`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // HTTP/1.1 only (every client speaks it), so the header timeout covers every connection.
    let mut http = ConnBuilder::new(TokioExecutor::new()).http1_only();
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, a connection reset before accept…: go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are written in one go; do not let Nagle hold back their last segment.
        let _ = socket.set_nodelay(true);
        // The peer's address reaches handlers as `ConnectInfo` (login rate limits per source).
        let routed = TowerToHyperService::new(router.clone());
        let service = service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            routed.call(request)
        });
        let conn = http
            .serve_connection(TokioIo::new(socket), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
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
