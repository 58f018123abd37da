//! The bodies the routes answer with beyond the wire types of `dpipe_core::wire`: errors in
//! Django REST Framework's shape, the health check, credentials, and the shared error
//! responses every operation refers to.

use std::collections::BTreeMap;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use utoipa::{IntoResponses, ToResponse, ToSchema};

use super::schema::{free_object, object_schema, one_of_strings, string};

object_schema! {
    /// An error: `{"detail": message}` about the request as a whole, or `{field: [message]}`.
    ErrorBody => || {
        ObjectBuilder::new()
            .description(Some(
                "{\"detail\": message} about the request as a whole, or {field: [message]} \
                 naming the field at fault (non_field_errors for the body as a whole). ASCII.",
            ))
            .property("detail", string())
            .additional_properties(Some(ArrayBuilder::new().items(string()).min_items(Some(1))))
            .min_properties(Some(1))
            .max_properties(Some(1))
    }
}

object_schema! {
    /// `GET /health` when the database answers.
    Healthy => || ObjectBuilder::new().property("status", one_of_strings(["ok"])).required("status")
}

object_schema! {
    /// `GET /health` when the database fails.
    Unhealthy => || {
        ObjectBuilder::new()
            .property("status", one_of_strings(["unavailable"]))
            .property("detail", string())
            .required("status")
            .required("detail")
    }
}

object_schema! {
    /// Stored or minted storage credentials: a flat object of settings (keys, secrets,
    /// endpoint), or for a remote's owner `{read, write}` or `{}` as they were given.
    Credentials => || free_object()
}

object_schema! {
    /// An OpenAPI document.
    Document => || free_object().property("openapi", string()).required("openapi")
}

/// Declares an error response with `$description` and an [`ErrorBody`].
macro_rules! error_response {
    ($(#[$doc:meta])* $name:ident => $description:expr) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), error(ResponseBuilder::new().description($description)).into())
            }
        }
    };
}

/// `builder` with an [`ErrorBody`] as its JSON content.
fn error(builder: ResponseBuilder) -> Response {
    builder
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                .build(),
        )
        .build()
}

error_response! {
    /// 400.
    BadRequest => "Invalid request: malformed or non-JSON body, JSON nested deeper than 128 \
        levels, a body that is not an object, a field of the wrong type, a broken rule (the \
        body names the field), a malformed query string."
}

error_response! {
    /// 401.
    Unauthorized => "No token where one is needed, an unknown token, or a malformed \
        Authorization header (the answer carries WWW-Authenticate: Token). Without a token, a \
        path naming a pipe, remote or account answers 401 whether or not the name exists."
}

error_response! {
    /// 403.
    Forbidden => "The caller's role does not allow this."
}

error_response! {
    /// 404.
    NotFound => "No such resource ({\"detail\": \"Not found.\"}), or a path segment that is not \
        valid percent-encoded UTF-8."
}

error_response! {
    /// 413.
    TooLarge => format!(
        "The request body is larger than the server's limit ({} bytes).",
        crate::app::Limits::default().max_body_bytes
    )
}

/// 429, with the wait in `Retry-After`.
pub(crate) struct TooManyRequests;

impl<'r> ToResponse<'r> for TooManyRequests {
    fn response() -> (&'r str, RefOr<Response>) {
        let retry_after = HeaderBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::Integer)
                    .minimum(Some(0)),
            ))
            .description(Some("Seconds to wait before the next attempt."))
            .build();
        let builder = ResponseBuilder::new()
            .description(
                "Failed logins for this username from this address are throttled with growing \
                 delays (1 s, 2 s, 4 s ... up to 15 minutes, after 5 free failures), or this \
                 address failed too often (20 in 15 minutes) for any username; refused even \
                 with the right password until the wait is over.",
            )
            .header("Retry-After", retry_after);
        ("TooManyRequests", error(builder).into())
    }
}

/// Declares a set of the error responses above, for the routes that can answer all of them
/// (`responses((status = 200, …), Set)` in a route's annotation).
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident => [$($status:literal => $response:ident),* $(,)?]) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([$((
                    $status.to_string(),
                    RefOr::Ref(Ref::from_response_name(stringify!($response))),
                )),*])
            }
        }
    };
}

error_set! {
    /// What a read of a named pipe or remote can answer besides its 200.
    ReadErrors => ["401" => Unauthorized, "403" => Forbidden, "404" => NotFound]
}

error_set! {
    /// What an update of a named pipe or remote can answer besides its 200.
    WriteErrors => [
        "400" => BadRequest,
        "401" => Unauthorized,
        "403" => Forbidden,
        "404" => NotFound,
        "413" => TooLarge,
    ]
}
