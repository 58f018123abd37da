//! Routes about the server itself: `/health` for load balancers and scripts, and the API's
//! description — `/v1/openapi.json` (hand-written, shipped in the binary) and `/v1/docs`, a
//! self-contained HTML page listing the routes from that document.

use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::reply::{ascii_json, json_response};

/// The OpenAPI 3.1 document, as served.
pub(crate) const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /health` → 200 `{"status":"ok"}` after a real read of the database, 503 when the read
/// fails (the cause goes to the log, not to the caller).
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let store = state.registry.store().clone();
    // Any indexed read proves the database answers; no user has id 0.
    let read = tokio::task::spawn_blocking(move || store.user_by_id(0)).await;
    match read {
        Ok(Ok(_)) => json_response(StatusCode::OK, ascii_json(&json!({"status": "ok"}))),
        Ok(Err(error)) => {
            tracing::error!(%error, "health check: the database failed");
            unavailable()
        }
        Err(error) => {
            tracing::error!(%error, "health check panicked");
            unavailable()
        }
    }
}

/// The 503 answer of a failed health check.
fn unavailable() -> Response {
    let body =
        json!({"status": "unavailable", "detail": "The repo database failed; see the server log."});
    json_response(StatusCode::SERVICE_UNAVAILABLE, ascii_json(&body))
}

/// `GET /v1/openapi.json`.
pub(crate) async fn openapi() -> Response {
    json_response(StatusCode::OK, OPENAPI.to_string())
}

/// `GET /v1/docs`.
pub(crate) async fn docs() -> Response {
    static PAGE: LazyLock<String> = LazyLock::new(|| {
        let document: Value =
            serde_json::from_str(OPENAPI).expect("openapi.json is valid JSON (checked by a test)");
        render_docs(&document)
    });
    let content_type = HeaderValue::from_static("text/html; charset=utf-8");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        PAGE.as_str(),
    )
        .into_response()
}

/// The HTTP methods an OpenAPI path item may describe, in display order.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Renders the docs page: one table row per operation with its statuses.
fn render_docs(document: &Value) -> String {
    let text = |v: &Value| escape(v.as_str().unwrap_or_default());
    let info = &document["info"];
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border-bottom:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}}code{{white-space:nowrap}}</style>\n\
         </head><body>\n<h1>{title} {version}</h1>\n<p>{description}</p>\n\
         <p>Machine-readable: <a href=\"/v1/openapi.json\">/v1/openapi.json</a></p>\n\
         <table><tr><th>Method</th><th>Path</th><th>What it does</th><th>Statuses</th></tr>\n",
        title = text(&info["title"]),
        version = text(&info["version"]),
        description = text(&info["description"]),
    );
    let empty = serde_json::Map::new();
    for (path, item) in document["paths"].as_object().unwrap_or(&empty) {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let statuses: Vec<String> = operation["responses"]
                .as_object()
                .unwrap_or(&empty)
                .keys()
                .map(|status| escape(status))
                .collect();
            let _ = writeln!(
                html,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                method.to_uppercase(),
                escape(path),
                text(&operation["summary"]),
                statuses.join(", "),
            );
        }
    }
    html.push_str("</table>\n</body></html>\n");
    html
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_and_renders() {
        let document: Value = serde_json::from_str(OPENAPI).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        let html = render_docs(&document);
        assert!(html.contains("<code>/v1/api/pipes/{name}/credentials/</code>"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no external assets"
        );
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
