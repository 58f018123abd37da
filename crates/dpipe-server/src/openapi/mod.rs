//! The API's description, generated from the code: the `#[utoipa::path]` annotations on the
//! handlers (`crate::routes`), the wire types of `dpipe_core::wire`, and the request, parameter
//! and error schemas of this module, built from the constants the validation uses. Served at
//! `/v1/openapi.json` (OpenAPI 3.1) and rendered at `/v1/docs`; built once, on first use.

mod page;
mod params;
mod requests;
mod responses;
mod schema;

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dpipe_core::wire::{
    AuditView, GrantStatus, GrantView, InvitationsClaimed, PipeView, Registered, RemoteView,
    TokenReply, WhoAmI,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};

pub(crate) use params::{AuditQuery, ClaimQuery, CredentialsQuery, ResourceName, Username};
pub(crate) use requests::{
    GrantRequest, Login, NewAccount, NewRemote, PipePatch, PipeRequest, RemotePatch, RemotePut,
};
pub(crate) use responses::{
    BadRequest, Credentials, Document, ErrorBody, Forbidden, Healthy, NotFound, ReadErrors,
    TooLarge, TooManyRequests, Unauthorized, Unhealthy, WriteErrors,
};

use crate::reply::json_response;
use crate::routes::{accounts, meta, pipes, remotes};

/// The name of the token security scheme the operations refer to (`security(("token" = []))`).
const TOKEN_SCHEME: &str = "token";

/// The rules that hold on every route, stated once at the top of the document.
const DESCRIPTION: &str = "The d6tpipe 1.2.7 wire protocol plus dpipe's additions (remotes, \
    token rotation, audit, invitations, health). Every path is served with and without its \
    trailing slash and never redirects; a method a path does not serve gets 405, an unknown \
    path 404. Send `Authorization: Token <token>` (or `Bearer <token>`); without it the caller \
    is anonymous. Request bodies are JSON whatever the Content-Type; an empty body counts as \
    {}. Errors are ASCII JSON, either {\"<field>\": [\"<message>\"]} or {\"detail\": \
    \"<message>\"}. Fields a caller may not set (owner, role, id, timestamps) are ignored. \
    Strings with NUL or other control characters are refused with 400 where they name \
    something (names, usernames, locations) and stored verbatim in free-form fields (settings, \
    schema). Request headers must arrive within 10 seconds of the server waiting for them, \
    which also closes keep-alive connections idle that long.";

/// The document's skeleton: every operation, with the schemas and responses they refer to.
#[derive(OpenApi)]
#[openapi(
    paths(
        meta::health,
        openapi_json,
        docs,
        accounts::whoami,
        accounts::register,
        accounts::login,
        accounts::rotate_token,
        accounts::unregister,
        accounts::claim_invitations,
        pipes::list,
        pipes::create,
        pipes::get,
        pipes::put,
        pipes::patch,
        pipes::delete,
        pipes::list_grants,
        pipes::grant,
        pipes::credentials,
        pipes::audit,
        remotes::list,
        remotes::create,
        remotes::get,
        remotes::put,
        remotes::patch,
        remotes::delete,
        remotes::credentials,
    ),
    components(
        schemas(
            PipeView, RemoteView, GrantView, GrantStatus, InvitationsClaimed, AuditView, WhoAmI,
            Registered, TokenReply, ErrorBody, Healthy, Unhealthy, Credentials, Document,
            NewAccount, Login, PipeRequest, PipePatch, NewRemote, RemotePut, RemotePatch,
            GrantRequest,
        ),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, TooLarge, TooManyRequests),
    ),
    security(("token" = [])),
    modifiers(&Conventions),
)]
struct ApiDoc;

/// What the annotations cannot say: the title, version and rules of the whole API, the token
/// scheme, and that a PATCH may come without a body (d6tpipe's `update_settings` sends a
/// bodiless PATCH, read as `{}`).
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.info.title = "dpipe repo API".to_string();
        openapi.info.version = env!("CARGO_PKG_VERSION").to_string();
        openapi.info.description = Some(DESCRIPTION.to_string());
        openapi.info.license = None;
        openapi.info.contact = None;
        let mut scheme = ApiKeyValue::new("Authorization");
        scheme.description = Some("Token <40 hex characters> (or Bearer <token>).".to_string());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(TOKEN_SCHEME, SecurityScheme::ApiKey(ApiKey::Header(scheme)));
        let patches = openapi
            .paths
            .paths
            .values_mut()
            .filter_map(|item| item.patch.as_mut());
        for body in patches.filter_map(|operation| operation.request_body.as_mut()) {
            if let RefOr::T(body) = body {
                body.required = Some(Required::False);
            }
        }
    }
}

/// The document as JSON text, built on first use.
pub(crate) fn document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serializes")
    });
    JSON.as_str()
}

/// The API's description.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi",
    security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1).", body = Document)),
)]
pub(crate) async fn openapi_json() -> Response {
    json_response(StatusCode::OK, document_json().to_string())
}

/// A browsable page listing the operations of this document.
#[utoipa::path(
    get,
    path = "/v1/docs",
    operation_id = "docs",
    security(()),
    responses((status = 200, description = "Self-contained HTML.", content_type = "text/html", body = String)),
)]
pub(crate) async fn docs() -> Response {
    static PAGE: LazyLock<String> = LazyLock::new(|| {
        let document =
            serde_json::from_str(document_json()).expect("the document is JSON (tested)");
        page::render_docs(&document)
    });
    let content_type = HeaderValue::from_static("text/html; charset=utf-8");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        PAGE.as_str(),
    )
        .into_response()
}
