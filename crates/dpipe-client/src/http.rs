//! The repo API over HTTP, speaking the d6tpipe wire protocol: `/v1/api/...` paths with a
//! trailing slash, `Authorization: Token <token>`, DRF-style error bodies turned back into
//! the same [`Error`]s local mode gives.

use std::fmt;
use std::time::Duration;

use dpipe_core::role::Access;
use dpipe_core::wire::{
    AuditView, GrantView, PipeView, Registered, RemoteView, TokenReply, UpdateMode, WhoAmI,
};
use reqwest::Method;
use reqwest::blocking::Client;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::{AuditQuery, Error, ErrorKind, RepoApi, Result};

/// A repo API server reached over HTTP, as one user (or anonymously).
pub struct HttpApi {
    base: String,
    token: Option<String>,
    client: Client,
}

impl fmt::Debug for HttpApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpApi")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl HttpApi {
    /// A client for the server at `server` (e.g. `http://127.0.0.1:8000`), sending `token`
    /// when given.
    pub fn new(server: &str, token: Option<String>) -> Result<HttpApi> {
        let base = server.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the server URL must start with http:// or https://, not {base:?}"),
            ));
        }
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::new(ErrorKind::Config, format!("cannot set up HTTP: {e}")))?;
        Ok(HttpApi {
            base,
            token,
            client,
        })
    }

    /// The server URL this client talks to.
    pub fn server(&self) -> &str {
        &self.base
    }

    /// `POST accounts/`: registers and returns the new token.
    pub fn register(&self, username: &str, email: &str, password: &str) -> Result<Registered> {
        let body = json!({"username": username, "email": email, "password": password});
        self.call(Method::POST, &["accounts"], &[], Some(&body))
    }

    /// `POST accounts/token/`: the account's token.
    pub fn login(&self, username: &str, password: &str) -> Result<TokenReply> {
        let body = json!({"username": username, "password": password});
        self.call(Method::POST, &["accounts", "token"], &[], Some(&body))
            .map_err(refused_login)
    }

    /// `POST accounts/token/rotate/`: replaces the caller's token; the old one stops working.
    pub fn rotate_token(&self) -> Result<TokenReply> {
        self.call(Method::POST, &["accounts", "token", "rotate"], &[], None)
    }

    /// `DELETE accounts/<username>/`: deletes the caller's account.
    pub fn unregister(&self, username: &str) -> Result<()> {
        self.call_empty(Method::DELETE, &["accounts", username], None)
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T> {
        let value = self.send(method, path, query, body)?;
        serde_json::from_value(value).map_err(|e| {
            Error::new(
                ErrorKind::Transport,
                format!(
                    "the server answered {} with an unexpected shape: {e}",
                    path.join("/")
                ),
            )
        })
    }

    fn call_empty(&self, method: Method, path: &[&str], body: Option<&Value>) -> Result<()> {
        self.send(method, path, &[], body).map(|_| ())
    }

    fn send(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let mut url = format!("{}/v1/api/", self.base);
        for segment in path {
            url.push_str(&percent_encode(segment));
            url.push('/');
        }
        let mut request = self.client.request(method, &url).query(query);
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        let text = response.text().map_err(|e| {
            Error::new(
                ErrorKind::Transport,
                format!("reading the answer failed: {}", without_url(&e)),
            )
        })?;
        if status.is_success() {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text).map_err(|_| {
                Error::new(
                    ErrorKind::Transport,
                    "the server answered with something that is not JSON",
                )
            });
        }
        Err(error_from_body(status.as_u16(), &text))
    }
}

/// A login refused for its credentials: d6tpipe's server answers 400 with a non-field error,
/// which is a refusal (not a malformed request) to the caller. A missing field stays invalid.
fn refused_login(err: Error) -> Error {
    let about_a_field = err.field().is_some_and(|f| f != "non_field_errors");
    if err.kind() == ErrorKind::Invalid && !about_a_field {
        Error::new(ErrorKind::Unauthenticated, err.message())
    } else {
        err
    }
}

/// Turns a non-2xx answer back into the error the registry raised.
fn error_from_body(status: u16, text: &str) -> Error {
    let kind = match status {
        400 => ErrorKind::Invalid,
        401 => ErrorKind::Unauthenticated,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        413 => ErrorKind::TooLarge,
        429 => ErrorKind::TooManyRequests,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Transport,
    };
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    if let Some(Value::Object(map)) = &parsed {
        if let Some(Value::String(detail)) = map.get("detail") {
            return Error::new(kind, detail.clone());
        }
        for (field, value) in map {
            let message = match value {
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                Value::String(s) => s.clone(),
                _ => continue,
            };
            return Error::new(kind, message).with_field(Some(field.clone()));
        }
    }
    let mut snippet: String = text.chars().take(200).collect();
    if snippet.is_empty() {
        snippet = format!("HTTP {status}");
    }
    Error::new(kind, snippet)
}

/// The one-line error for a request that got no answer: the server's URL (without
/// credentials, query or fragment), the cause in words, and what to check.
fn unreachable(base: &str, err: &reqwest::Error) -> Error {
    let url = shown_url(base);
    let (cause, hint) = if err.is_timeout() {
        ("no answer in time".to_string(), "is the server overloaded?")
    } else {
        (
            io_cause(err).unwrap_or_else(|| innermost(err)),
            "is dpipe serve running? see dpipe profile show",
        )
    };
    Error::new(
        ErrorKind::Transport,
        format!("cannot reach the repo API at {url}: {cause} ({hint})"),
    )
}

/// `base` as a URL fit to show: no user, password, query or fragment, and no lone `/` path
/// (as the profile spells a server: `http://host:8000`).
fn shown_url(base: &str) -> String {
    match reqwest::Url::parse(base) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            let shown = url.to_string();
            match shown.strip_suffix('/') {
                Some(bare) if url.path() == "/" => bare.to_string(),
                _ => shown,
            }
        }
        Err(_) => base.split(['?', '#']).next().unwrap_or(base).to_string(),
    }
}

/// The operating system's reason, in words, when an I/O error is among the causes.
fn io_cause(err: &reqwest::Error) -> Option<String> {
    use std::io::ErrorKind as Io;
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            let words = match io.kind() {
                Io::ConnectionRefused => "connection refused".to_string(),
                Io::ConnectionReset => "connection reset".to_string(),
                Io::ConnectionAborted => "connection aborted".to_string(),
                Io::TimedOut => "connection timed out".to_string(),
                Io::HostUnreachable => "host unreachable".to_string(),
                Io::NetworkUnreachable => "network unreachable".to_string(),
                Io::AddrNotAvailable => "address not available".to_string(),
                _ => strip_os_code(&io.to_string()),
            };
            return Some(words);
        }
        source = cause.source();
    }
    None
}

/// The text of the deepest cause (e.g. a DNS failure), without any URL.
fn innermost(err: &reqwest::Error) -> String {
    let mut text = without_url(err);
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text = cause.to_string();
        source = cause.source();
    }
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "");
    }
    text
}

/// `Connection refused (os error 111)` → `Connection refused`.
fn strip_os_code(text: &str) -> String {
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text.to_string(),
    }
}

/// A reqwest error's text without the URL (which may carry a query).
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "");
    }
    text
}

/// Encodes a path segment (names are validated server-side; this keeps odd input harmless).
fn percent_encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@+".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl RepoApi for HttpApi {
    fn whoami(&self) -> Result<WhoAmI> {
        self.call(Method::GET, &[], &[], None)
    }
    fn list_remotes(&self) -> Result<Vec<RemoteView>> {
        self.call(Method::GET, &["remotes"], &[], None)
    }
    fn get_remote(&self, name: &str) -> Result<RemoteView> {
        self.call(Method::GET, &["remotes", name], &[], None)
    }
    fn create_remote(&self, body: &Value) -> Result<RemoteView> {
        self.call(Method::POST, &["remotes"], &[], Some(body))
    }
    fn update_remote(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<RemoteView> {
        self.call(update_method(mode), &["remotes", name], &[], Some(body))
    }
    fn delete_remote(&self, name: &str) -> Result<()> {
        self.call_empty(Method::DELETE, &["remotes", name], None)
    }
    fn remote_credentials(&self, name: &str) -> Result<Value> {
        self.call(Method::GET, &["remotes", name, "credentials"], &[], None)
    }
    fn list_pipes(&self) -> Result<Vec<PipeView>> {
        self.call(Method::GET, &["pipes"], &[], None)
    }
    fn get_pipe(&self, name: &str) -> Result<PipeView> {
        self.call(Method::GET, &["pipes", name], &[], None)
    }
    fn create_pipe(&self, body: &Value) -> Result<PipeView> {
        self.call(Method::POST, &["pipes"], &[], Some(body))
    }
    fn update_pipe(&self, name: &str, body: &Value, mode: UpdateMode) -> Result<PipeView> {
        self.call(update_method(mode), &["pipes", name], &[], Some(body))
    }
    fn delete_pipe(&self, name: &str) -> Result<()> {
        self.call_empty(Method::DELETE, &["pipes", name], None)
    }
    fn grant(&self, pipe: &str, body: &Value) -> Result<GrantView> {
        self.call(
            Method::POST,
            &["pipes", pipe, "permissions"],
            &[],
            Some(body),
        )
    }
    fn list_grants(&self, pipe: &str) -> Result<Vec<GrantView>> {
        self.call(Method::GET, &["pipes", pipe, "permissions"], &[], None)
    }
    fn credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>> {
        self.call(
            Method::GET,
            &["pipes", pipe, "credentials"],
            &[("role", access.as_str())],
            None,
        )
    }
    fn renew_credentials(&self, pipe: &str, access: Access) -> Result<Map<String, Value>> {
        // The exact query d6tpipe sends: keys in sorted order, Python's `True`.
        let query = [("renew", "True"), ("role", access.as_str())];
        self.call(Method::GET, &["pipes", pipe, "credentials"], &query, None)
    }
    fn audit(&self, pipe: &str, query: &AuditQuery) -> Result<Vec<AuditView>> {
        let pairs = query.to_pairs();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.call(Method::GET, &["pipes", pipe, "audit"], &pairs, None)
    }
}

fn update_method(mode: UpdateMode) -> Method {
    match mode {
        UpdateMode::Partial => Method::PATCH,
        UpdateMode::Full => Method::PUT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drf_bodies_become_errors() {
        let e = error_from_body(400, r#"{"name": ["This field must be unique."]}"#);
        assert_eq!(
            (e.kind(), e.field(), e.message()),
            (
                ErrorKind::Invalid,
                Some("name"),
                "This field must be unique."
            )
        );
        let e = error_from_body(404, r#"{"detail": "Not found."}"#);
        assert_eq!(
            (e.kind(), e.field(), e.message()),
            (ErrorKind::NotFound, None, "Not found.")
        );
        let e = error_from_body(502, "");
        assert_eq!(e.kind(), ErrorKind::Server);
        assert!(HttpApi::new("ftp://x", None).is_err());
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }
}
