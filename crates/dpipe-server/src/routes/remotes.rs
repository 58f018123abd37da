//! `/v1/api/remotes/...`: storage locations that pipes reference by name (dpipe's addition,
//! the seed's `remotes` resource).

use axum::extract::State;
use axum::response::Response;
use dpipe_registry::UpdateMode;

use crate::app::AppState;
use crate::reply::Reply;
use crate::request::{Auth, JsonBody, Name};

/// `GET /v1/api/remotes/` → 200, the caller's remotes.
#[utoipa::path(
    get,
    path = "/v1/api/remotes/",
    operation_id = "remotes_list",
    summary = "The caller's remotes.",
    security(("token" = [])),
    responses(
        (status = 200, description = "A bare array.", body = Vec<dpipe_core::wire::RemoteView>),
        (status = 401, response = crate::openapi::Unauthorized),
    ),
)]
pub(crate) async fn list(State(state): State<AppState>, auth: Auth) -> Response {
    state
        .call(auth, |registry, caller| {
            Reply::ok(&registry.list_remotes(caller)?)
        })
        .await
}

/// `POST /v1/api/remotes/` → 201 with the created remote (without its credentials).
#[utoipa::path(
    post,
    path = "/v1/api/remotes/",
    operation_id = "remotes_create",
    summary = "Create a remote owned by the caller.",
    security(("token" = [])),
    request_body(content = crate::openapi::NewRemote),
    responses(
        (status = 201, description = "Created (without its credentials).", body = dpipe_core::wire::RemoteView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 413, response = crate::openapi::TooLarge),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::created(&registry.create_remote(caller, &body)?)
        })
        .await
}

/// `GET /v1/api/remotes/{name}/` → 200.
#[utoipa::path(
    get,
    path = "/v1/api/remotes/{name}/",
    operation_id = "remotes_get",
    summary = "One of the caller's remotes (never its credentials).",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    responses(
        (status = 200, description = "The remote.", body = dpipe_core::wire::RemoteView),
        crate::openapi::ReadErrors,
    ),
)]
pub(crate) async fn get(State(state): State<AppState>, auth: Auth, Name(name): Name) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::ok(&registry.get_remote(caller, &name)?)
        })
        .await
}

/// `GET /v1/api/remotes/{name}/credentials/` → 200, the remote's stored credentials (flat,
/// `{read, write}` or `{}`), for its owner only.
#[utoipa::path(
    get,
    path = "/v1/api/remotes/{name}/credentials/",
    operation_id = "remotes_credentials",
    summary = "The remote's stored credentials as they were given, for its owner only.",
    description = "Flat, split into {read, write}, or {}. Values a client encrypted (dpipe:enc:v1:...) come back encrypted; dpipe key rotate reads them here to re-encrypt them.",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    responses(
        (status = 200, description = "The stored credentials.", body = crate::openapi::Credentials),
        crate::openapi::ReadErrors,
    ),
)]
pub(crate) async fn credentials(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::ok(&registry.remote_credentials(caller, &name)?)
        })
        .await
}

/// `PATCH /v1/api/remotes/{name}/` → 200.
#[utoipa::path(
    patch,
    path = "/v1/api/remotes/{name}/",
    operation_id = "remotes_patch",
    summary = "Update the given fields of a remote.",
    description = "name, protocol and location may be left out but never null.",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    request_body(content = crate::openapi::RemotePatch, description = "An empty body counts as {}."),
    responses(
        (status = 200, description = "Updated.", body = dpipe_core::wire::RemoteView),
        crate::openapi::WriteErrors,
    ),
)]
pub(crate) async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
    JsonBody(body): JsonBody,
) -> Response {
    update(state, auth, name, body, UpdateMode::Partial).await
}

/// `PUT /v1/api/remotes/{name}/` → 200.
#[utoipa::path(
    put,
    path = "/v1/api/remotes/{name}/",
    operation_id = "remotes_put",
    summary = "Update a remote; the body must carry its name.",
    description = "Fields left out are kept.",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    request_body(content = crate::openapi::RemotePut),
    responses(
        (status = 200, description = "Updated.", body = dpipe_core::wire::RemoteView),
        crate::openapi::WriteErrors,
    ),
)]
pub(crate) async fn put(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
    JsonBody(body): JsonBody,
) -> Response {
    update(state, auth, name, body, UpdateMode::Full).await
}

/// PATCH and PUT alike: the registry's update in `mode`.
async fn update(
    state: AppState,
    auth: Auth,
    name: String,
    body: serde_json::Value,
    mode: UpdateMode,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::ok(&registry.update_remote(caller, &name, &body, mode)?)
        })
        .await
}

/// `DELETE /v1/api/remotes/{name}/` → 204 (400 while pipes use it).
#[utoipa::path(
    delete,
    path = "/v1/api/remotes/{name}/",
    operation_id = "remotes_delete",
    summary = "Delete a remote no pipe uses.",
    description = "400, naming the pipes, while pipes use it.",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = crate::openapi::BadRequest),
        crate::openapi::ReadErrors,
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            registry.delete_remote(caller, &name)?;
            Ok(Reply::no_content())
        })
        .await
}
