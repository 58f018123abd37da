//! Logging: one line per request — method, path without its query string, status, latency
//! and the caller's username (`-` when anonymous) — and nothing else from the request: no
//! header, body, token or credential ever reaches the log.

use std::io::IsTerminal;
use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing_subscriber::EnvFilter;

/// The authenticated caller of a request, attached to its response for the log line.
#[derive(Debug, Clone)]
pub(crate) struct LoggedUser(pub(crate) String);

/// Middleware writing the request's log line once its response is ready.
pub(crate) async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let mut response = next.run(request).await;
    let user = response.extensions_mut().remove::<LoggedUser>();
    tracing::info!(
        target: "dpipe_server::request",
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        latency_ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        user = %user.as_ref().map_or("-", |u| u.0.as_str()),
        "request"
    );
    response
}

/// Installs a `tracing` subscriber writing to stderr, filtered by `RUST_LOG` (default
/// `info`, without s3s's own line for every refused request: a key refused for a file outside
/// its pipe is the object store doing its job, and its request line already says so). Does
/// nothing if one is already installed.
pub fn init_logging() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,s3s::ops=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for people: a log file or pipe gets plain `key=value` text.
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
