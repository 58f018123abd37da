//! Serving the endpoint: [`serve`] takes a bound listener, the S3 service and a shutdown
//! signal (mini-redis style: tests bind port 0 and stop it at will). Our own accept loop
//! sets TCP_NODELAY (without it every multi-block GET stalls ~40 ms on delayed ACKs), and
//! stops gracefully: no new connection after the signal, the requests in flight finish.
//!
//! One `info` line per request (target `dpipe::objects`), written when its answer has been
//! sent: method, operation, bucket, key or listing prefix (Debug-escaped: keys are hostile
//! and may hold control characters), status, bytes in and out, milliseconds, access key id.
//! Never a signature, secret, session token or query string (a presigned URL's query is a
//! credential).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::service::S3Service;
use s3s::{Body, HttpError};
use tokio::net::TcpListener;

/// How long [`serve`] waits for the requests in flight after the shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves `service` on `listener` until `shutdown` completes, then stops accepting and
/// waits (up to [`SHUTDOWN_GRACE`]) for the requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    service: S3Service,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let service = Logged { inner: service };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let socket = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    // Out of file descriptors, a connection reset before accept…: go on.
                    tracing::warn!(target: "dpipe::objects", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = socket.set_nodelay(true);
        let conn = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(target: "dpipe::objects", "requests still running after the grace period: dropped");
    }
    Ok(())
}

/// What the access check learns about a request, for its log line (shared through the
/// request's extensions).
#[derive(Clone, Default)]
pub(crate) struct RequestLog(Arc<Mutex<Learned>>);

#[derive(Default)]
struct Learned {
    operation: Option<String>,
    bucket: Option<String>,
    target: Option<String>,
}

impl RequestLog {
    fn learned(&self) -> std::sync::MutexGuard<'_, Learned> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_operation(&self, op: &str, bucket: Option<&str>, key: Option<&str>) {
        let mut l = self.learned();
        l.operation = Some(op.to_owned());
        l.bucket = bucket.map(str::to_owned);
        l.target = key.map(str::to_owned);
    }

    pub(crate) fn set_target(&self, target: &str) {
        self.learned().target = Some(target.to_owned());
    }
}

/// The S3 service, with a log line per request.
#[derive(Clone)]
struct Logged {
    inner: S3Service,
}

impl hyper::service::Service<Request<Incoming>> for Logged {
    type Response = Response<LoggedBody>;
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, HttpError>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        // Until the access check names them (it does not run for a bad signature): bucket
        // and key as the path says.
        let learned = RequestLog::default();
        let path = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy();
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let bucket = parts.next().filter(|b| !b.is_empty());
        learned.set_operation("-", bucket, parts.next());
        let mut line = LogLine {
            start: Instant::now(),
            method: req.method().to_string(),
            access_key: access_key_id(&req),
            bytes_in: bytes_in(req.headers()),
            learned: learned.clone(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
            bytes_out: 0,
        };
        req.extensions_mut().insert(learned);
        let inner = self.inner.clone();
        Box::pin(async move {
            let response = hyper::service::Service::call(&inner, req).await?;
            line.status = response.status();
            Ok(response.map(|body| LoggedBody {
                inner: body,
                line: Some(line),
            }))
        })
    }
}

/// A response body that writes the request's log line when it is done (or dropped).
pub(crate) struct LoggedBody {
    inner: Body,
    line: Option<LogLine>,
}

impl HttpBody for LoggedBody {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let (Poll::Ready(Some(Ok(frame))), Some(line)) = (&polled, self.line.as_mut())
            && let Some(data) = frame.data_ref()
        {
            line.bytes_out += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        if let Some(line) = self.line.take() {
            line.write();
        }
    }
}

struct LogLine {
    start: Instant,
    method: String,
    access_key: Option<String>,
    bytes_in: u64,
    learned: RequestLog,
    status: StatusCode,
    bytes_out: u64,
}

impl LogLine {
    fn write(self) {
        let learned = self.learned.learned();
        tracing::info!(
            target: "dpipe::objects",
            method = %self.method,
            op = learned.operation.as_deref().unwrap_or("-"),
            bucket = ?learned.bucket.as_deref().unwrap_or(""),
            key = ?learned.target.as_deref().unwrap_or(""),
            status = self.status.as_u16(),
            bytes_in = self.bytes_in,
            bytes_out = self.bytes_out,
            ms = self.start.elapsed().as_millis() as u64,
            access_key = ?self.access_key.as_deref().unwrap_or(""),
            "request"
        );
    }
}

/// The bytes the client said it sends (decoded length of an aws-chunked body).
fn bytes_in(headers: &hyper::HeaderMap) -> u64 {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    number("x-amz-decoded-content-length")
        .or_else(|| number("content-length"))
        .unwrap_or(0)
}

/// The access key id a request claims (SigV4 header or query, SigV2 header), only for the
/// log: s3s checks the claim. Nothing else of the credential is kept.
fn access_key_id<B>(req: &Request<B>) -> Option<String> {
    let keep = |s: &str| -> Option<String> {
        let id: String = s
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!id.is_empty()).then_some(id)
    };
    if let Some(auth) = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
    {
        if let Some((_, rest)) = auth.split_once("Credential=") {
            return keep(rest);
        }
        if let Some(rest) = auth.strip_prefix("AWS ") {
            return keep(rest);
        }
    }
    let query = req.uri().query()?;
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        match name {
            "X-Amz-Credential" | "AWSAccessKeyId" => keep(value),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::access_key_id;

    #[test]
    fn the_access_key_id_is_read_from_the_credential_only() {
        let req = |auth: &str| {
            hyper::Request::builder()
                .uri("/b/k")
                .header("authorization", auth)
                .body(())
                .unwrap()
        };
        let v4 = req(
            "AWS4-HMAC-SHA256 Credential=AKID1/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
        );
        assert_eq!(access_key_id(&v4).as_deref(), Some("AKID1"));
        assert_eq!(
            access_key_id(&req("AWS AKID2:sig")).as_deref(),
            Some("AKID2")
        );
        let presigned = hyper::Request::builder()
            .uri("/b/k?X-Amz-Credential=AKID3%2F20240101%2Fus-east-1&X-Amz-Signature=x")
            .body(())
            .unwrap();
        assert_eq!(access_key_id(&presigned).as_deref(), Some("AKID3"));
    }
}
