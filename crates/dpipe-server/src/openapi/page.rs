//! The browsable page at `/v1/docs`: one table row per operation of the OpenAPI document,
//! self-contained HTML (no script, style sheet or font fetched from anywhere).

use std::fmt::Write as _;

use serde_json::Value;

/// The HTTP methods an OpenAPI path item may describe, in display order.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// Renders the docs page: one table row per operation with its statuses.
pub(super) fn render_docs(document: &Value) -> String {
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
    fn the_page_lists_operations_and_fetches_nothing() {
        let document = serde_json::from_str(super::super::document_json()).unwrap();
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
