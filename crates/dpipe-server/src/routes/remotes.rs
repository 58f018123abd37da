//! `/v1/api/remotes/...`: storage locations that pipes reference by name (dpipe's addition,
//! the seed's `remotes` resource).

use axum::extract::State;
use axum::response::Response;
use dpipe_registry::UpdateMode;

use crate::app::AppState;
use crate::reply::Reply;
use crate::request::{Auth, JsonBody, Name};

/// `GET /v1/api/remotes/` → 200, the caller's remotes.
pub(crate) async fn list(State(state): State<AppState>, auth: Auth) -> Response {
    state
        .call(auth, |registry, caller| {
            Reply::ok(&registry.list_remotes(caller)?)
        })
        .await
}

/// `POST /v1/api/remotes/` → 201 with the created remote (without its credentials).
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
pub(crate) async fn get(State(state): State<AppState>, auth: Auth, Name(name): Name) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::ok(&registry.get_remote(caller, &name)?)
        })
        .await
}

/// `GET /v1/api/remotes/{name}/credentials/` → 200, the remote's stored credentials (flat,
/// `{read, write}` or `{}`), for its owner only.
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
pub(crate) async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
    JsonBody(body): JsonBody,
) -> Response {
    update(state, auth, name, body, UpdateMode::Partial).await
}

/// `PUT /v1/api/remotes/{name}/` → 200.
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
