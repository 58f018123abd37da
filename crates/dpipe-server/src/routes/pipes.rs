//! `/v1/api/pipes/...`: pipes, their permissions and their credentials (d6tpipe protocol
//! E5–E13).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use dpipe_registry::UpdateMode;
use dpipe_registry::audit::AuditQuery;

use crate::app::AppState;
use crate::reply::{ApiError, Reply};
use crate::request::{Auth, CredentialsQuery, JsonBody, Name};

/// `GET /v1/api/pipes/` → 200, a bare array of the pipes the caller can read.
pub(crate) async fn list(State(state): State<AppState>, auth: Auth) -> Response {
    state
        .call(auth, |registry, caller| {
            Reply::ok(&registry.list_pipes(caller)?)
        })
        .await
}

/// `POST /v1/api/pipes/` → 201 with the created pipe.
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: Auth,
    JsonBody(body): JsonBody,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::created(&registry.create_pipe(caller, &body)?)
        })
        .await
}

/// `GET /v1/api/pipes/{name}/` → 200 with the pipe and the caller's role.
pub(crate) async fn get(State(state): State<AppState>, auth: Auth, Name(name): Name) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::ok(&registry.get_pipe(caller, &name)?)
        })
        .await
}

/// `PATCH /v1/api/pipes/{name}/` → 200 (an empty body is a no-op).
pub(crate) async fn patch(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
    JsonBody(body): JsonBody,
) -> Response {
    update(state, auth, name, body, UpdateMode::Partial).await
}

/// `PUT /v1/api/pipes/{name}/` → 200.
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
            Reply::ok(&registry.update_pipe(caller, &name, &body, mode)?)
        })
        .await
}

/// `DELETE /v1/api/pipes/{name}/` → 204.
pub(crate) async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            registry.delete_pipe(caller, &name)?;
            Ok(Reply::no_content())
        })
        .await
}

/// `GET /v1/api/pipes/{name}/permissions/` → 200, the grants on the pipe.
pub(crate) async fn list_grants(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::ok(&registry.list_grants(caller, &name)?)
        })
        .await
}

/// `POST /v1/api/pipes/{name}/permissions/` → 201 with the grant (or the revocation).
pub(crate) async fn grant(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
    JsonBody(body): JsonBody,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::created(&registry.grant(caller, &name, &body)?)
        })
        .await
}

/// `GET /v1/api/pipes/{name}/audit/[?since=RFC3339&user=NAME&action=ACTION]` → 200, the
/// pipe's audit trail, newest first, narrowed to the events matching the parameters (owner
/// only); 400 for a malformed `since`, an unknown action or parameter.
pub(crate) async fn audit(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let pairs = match query {
        Ok(Query(pairs)) => pairs,
        Err(rejection) => {
            return ApiError::invalid(format!("Invalid query string: {}", rejection.body_text()))
                .into_response();
        }
    };
    state
        .call(auth, move |registry, caller| {
            let query = AuditQuery::from_pairs(&pairs)?;
            Reply::ok(&registry.audit(caller, &name, &query)?)
        })
        .await
}

/// `GET /v1/api/pipes/{name}/credentials/?role=read|write[&renew=True]` → 200, the flat
/// credentials object the d6tpipe client hands to boto3 or its FTP login.
pub(crate) async fn credentials(
    State(state): State<AppState>,
    auth: Auth,
    Name(name): Name,
    query: CredentialsQuery,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::ok(&registry.credentials(caller, &name, query.role.as_deref(), query.renew)?)
        })
        .await
}
