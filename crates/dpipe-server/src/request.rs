//! Reading requests the way the d6tpipe client sends them: the `Authorization` header, a JSON
//! body taken from the raw bytes whatever the content type (an empty body is `{}`, because
//! d6tpipe's `update_settings` sends a bodiless PATCH), a size limit answered with a JSON 413,
//! and the path's resource name.

use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH};
use axum::http::request::Parts;
use dpipe_core::{Error, ErrorKind};
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::reply::ApiError;

/// What the `Authorization` header says, before the token is checked against the registry.
#[derive(Clone)]
pub(crate) enum Auth {
    /// No header: an anonymous caller.
    Anonymous,
    /// `Token <t>` or `Bearer <t>`.
    Token(String),
    /// A header that is not one of those; answered with 401 and this reason.
    Malformed(&'static str),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Token(_) => f.write_str("Token(<redacted>)"),
            Auth::Malformed(why) => write!(f, "Malformed({why:?})"),
        }
    }
}

impl Auth {
    /// Parses an `Authorization` header value (scheme case-insensitive, as DRF does).
    fn parse(value: &[u8]) -> Auth {
        let Ok(text) = std::str::from_utf8(value) else {
            return Auth::Malformed(
                "Invalid token header. Token string should not contain invalid characters.",
            );
        };
        let mut parts = text.split_ascii_whitespace();
        let scheme = parts.next().unwrap_or_default();
        if !(scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer")) {
            return Auth::Malformed("Invalid token header. Expected \"Token <key>\".");
        }
        match (parts.next(), parts.next()) {
            (None, _) => Auth::Malformed("Invalid token header. No credentials provided."),
            (Some(_), Some(_)) => {
                Auth::Malformed("Invalid token header. Token string should not contain spaces.")
            }
            (Some(token), None) => Auth::Token(token.to_string()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Auth, Self::Rejection> {
        Ok(match parts.headers.get(AUTHORIZATION) {
            None => Auth::Anonymous,
            Some(value) => Auth::parse(value.as_bytes()),
        })
    }
}

/// A request body parsed as JSON (any JSON value: the registry judges its shape).
#[derive(Debug)]
pub(crate) struct JsonBody(pub(crate) Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<JsonBody, ApiError> {
        let limit = state.limits.max_body_bytes;
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        let bytes = read_limited(request.into_body(), limit).await?;
        if bytes.is_empty() {
            return Ok(JsonBody(Value::Object(Map::new())));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::invalid(format!("JSON parse error - {e}")))
    }
}

/// Reads the whole body, failing with 413 as soon as it grows past `limit` bytes (a chunked
/// body has no length to check up front).
async fn read_limited(mut body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame
            .map_err(|e| ApiError::invalid(format!("The request body could not be read: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(too_large(limit));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// The 413 answer for a body over `limit` bytes.
fn too_large(limit: usize) -> ApiError {
    ApiError(Error::new(
        ErrorKind::TooLarge,
        format!("Request body is too large (limit {limit} bytes)."),
    ))
}

/// The `{name}` (or `{username}`) segment of the path. A segment that is not valid
/// percent-encoded UTF-8 names nothing, so it is a 404.
#[derive(Debug)]
pub(crate) struct Name(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Name {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Name, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(name)| Name(name))
            .map_err(|_| ApiError(Error::not_found()))
    }
}

/// The IP address of the peer the request came from, when the server was started with
/// connect info (as [`crate::serve`] does). `X-Forwarded-For` is not trusted: behind a proxy
/// every client has the proxy's address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceIp(pub(crate) Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for SourceIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<SourceIp, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(SourceIp(peer.map(|ConnectInfo(addr)| addr.ip())))
    }
}

/// The query of the credentials endpoint: `role` (first occurrence) and `renew`, which is
/// true for `True` (what Python's urlencode makes of `True`), `true` or `1`.
#[derive(Debug)]
pub(crate) struct CredentialsQuery {
    /// `read` or `write` (judged by the registry).
    pub(crate) role: Option<String>,
    /// Whether fresh credentials are asked for.
    pub(crate) renew: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for CredentialsQuery {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<CredentialsQuery, ApiError> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|e| {
                    ApiError::invalid(format!("Invalid query string: {}", e.body_text()))
                })?;
        let first = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let renew = first("renew").is_some_and(|v| matches!(v.as_str(), "True" | "true" | "1"));
        Ok(CredentialsQuery {
            role: first("role"),
            renew,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_headers() {
        assert!(matches!(Auth::parse(b"Token abc"), Auth::Token(t) if t == "abc"));
        assert!(matches!(Auth::parse(b"bearer  abc "), Auth::Token(t) if t == "abc"));
        assert!(
            matches!(Auth::parse(b"Token"), Auth::Malformed(m) if m.contains("No credentials"))
        );
        assert!(matches!(Auth::parse(b"Token a b"), Auth::Malformed(m) if m.contains("spaces")));
        assert!(matches!(
            Auth::parse(b"Basic dXNlcjpwdw=="),
            Auth::Malformed(_)
        ));
        assert!(matches!(Auth::parse(b""), Auth::Malformed(_)));
        assert!(matches!(Auth::parse(b"Token \xff"), Auth::Malformed(_)));
        assert!(!format!("{:?}", Auth::parse(b"Token secret")).contains("secret"));
    }
}
