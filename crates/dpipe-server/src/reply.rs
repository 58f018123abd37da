//! Turning results into HTTP answers: success bodies, Django-REST-Framework-style error
//! bodies (`{"field": ["message"]}` or `{"detail": "message"}`) with the status the error's
//! kind calls for, always ASCII JSON and never compressed, because the d6tpipe client matches
//! on the raw bytes of the body.

use std::fmt::Write as _;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dpipe_core::{Error, ErrorKind};
use serde_json::{Value, json};

/// A successful answer, already serialized.
#[derive(Debug)]
pub(crate) struct Reply {
    /// 200, 201 or 204.
    status: StatusCode,
    /// ASCII JSON, `None` for 204.
    body: Option<String>,
}

impl Reply {
    /// 200 with `value` as JSON.
    pub(crate) fn ok(value: &impl serde::Serialize) -> Result<Reply, Error> {
        Reply::json(StatusCode::OK, value)
    }

    /// 201 with the created `value` as JSON.
    pub(crate) fn created(value: &impl serde::Serialize) -> Result<Reply, Error> {
        Reply::json(StatusCode::CREATED, value)
    }

    /// 204 with an empty body.
    pub(crate) fn no_content() -> Reply {
        Reply {
            status: StatusCode::NO_CONTENT,
            body: None,
        }
    }

    /// `status` with `value` as ASCII JSON.
    fn json(status: StatusCode, value: &impl serde::Serialize) -> Result<Reply, Error> {
        let value = serde_json::to_value(value)
            .map_err(|_| Error::internal("The answer could not be serialized."))?;
        Ok(Reply {
            status,
            body: Some(ascii_json(&value)),
        })
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self.body {
            Some(body) => json_response(self.status, body),
            None => self.status.into_response(),
        }
    }
}

/// A failed request, answered with the status of its kind and a DRF-style body.
#[derive(Debug)]
pub(crate) struct ApiError(pub(crate) Error);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        ApiError(error)
    }
}

impl ApiError {
    /// A 400 about the request as a whole.
    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError(Error::invalid(message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = self.0;
        let status = status_of(error.kind());
        let body = match error.field() {
            Some(field) => json!({ field: [error.message()] }),
            None => json!({ "detail": error.message() }),
        };
        let mut response = json_response(status, ascii_json(&body));
        if status == StatusCode::UNAUTHORIZED {
            // DRF's TokenAuthentication names its scheme on every 401.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
        }
        response
    }
}

/// The HTTP status of an error kind.
fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A response with a JSON body and its content type.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Serializes `value` as JSON with every non-ASCII character escaped as `\uXXXX` (UTF-16
/// units, as JSON requires), so that the bytes of any answer are plain ASCII.
pub(crate) fn ascii_json(value: &Value) -> String {
    let text = value.to_string();
    if text.is_ascii() {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut units = [0u16; 2];
    for ch in text.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            // Outside strings serde_json writes only ASCII, so every other character sits
            // inside a string literal, where an escape means the same character.
            for unit in ch.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_is_escaped_and_round_trips() {
        let value = json!({"name": "caf\u{e9} \u{1f600}", "k\u{fc}": [1, "x"]});
        let text = ascii_json(&value);
        assert!(text.is_ascii(), "{text}");
        assert!(text.contains("caf\\u00e9 \\ud83d\\ude00"), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
        assert_eq!(ascii_json(&json!({"a": "b"})), r#"{"a":"b"}"#);
    }

    #[test]
    fn every_kind_has_its_status() {
        let cases = [
            (ErrorKind::Invalid, 400),
            (ErrorKind::Unauthenticated, 401),
            (ErrorKind::Forbidden, 403),
            (ErrorKind::NotFound, 404),
            (ErrorKind::TooLarge, 413),
            (ErrorKind::TooManyRequests, 429),
            (ErrorKind::Internal, 500),
        ];
        for (kind, status) in cases {
            assert_eq!(status_of(kind).as_u16(), status);
        }
    }
}
