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
#[utoipa::path(
    get,
    path = "/v1/api/pipes/",
    operation_id = "pipes_list",
    summary = "The pipes the caller can read (anonymous: public pipes).",
    description = "A bare array, not paginated.",
    security((), ("token" = [])),
    responses(
        (status = 200, description = "A bare array.", body = Vec<dpipe_core::wire::PipeView>),
        (status = 401, response = crate::openapi::Unauthorized),
    ),
)]
pub(crate) async fn list(State(state): State<AppState>, auth: Auth) -> Response {
    state
        .call(auth, |registry, caller| {
            Reply::ok(&registry.list_pipes(caller)?)
        })
        .await
}

/// `POST /v1/api/pipes/` → 201 with the created pipe.
#[utoipa::path(
    post,
    path = "/v1/api/pipes/",
    operation_id = "pipes_create",
    summary = "Create a pipe owned by the caller.",
    description = "A child needs admin rights on its parent.",
    security(("token" = [])),
    request_body(content = crate::openapi::PipeRequest),
    responses(
        (status = 201, description = "Created.", body = dpipe_core::wire::PipeView),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 403, response = crate::openapi::Forbidden),
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
            Reply::created(&registry.create_pipe(caller, &body)?)
        })
        .await
}

/// `GET /v1/api/pipes/{name}/` → 200 with the pipe and the caller's role.
#[utoipa::path(
    get,
    path = "/v1/api/pipes/{name}/",
    operation_id = "pipes_get",
    summary = "One pipe with the caller's role.",
    security((), ("token" = [])),
    params(crate::openapi::ResourceName),
    responses(
        (status = 200, description = "The pipe.", body = dpipe_core::wire::PipeView),
        crate::openapi::ReadErrors,
    ),
)]
pub(crate) async fn get(State(state): State<AppState>, auth: Auth, Name(name): Name) -> Response {
    state
        .call(auth, move |registry, caller| {
            Reply::ok(&registry.get_pipe(caller, &name)?)
        })
        .await
}

/// `PATCH /v1/api/pipes/{name}/` → 200 (an empty body is a no-op).
#[utoipa::path(
    patch,
    path = "/v1/api/pipes/{name}/",
    operation_id = "pipes_patch",
    summary = "Update the given fields of a pipe; an empty body changes nothing.",
    description = "Needs admin rights.",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    request_body(content = crate::openapi::PipePatch, description = "An empty body counts as {}."),
    responses(
        (status = 200, description = "Updated.", body = dpipe_core::wire::PipeView),
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

/// `PUT /v1/api/pipes/{name}/` → 200.
#[utoipa::path(
    put,
    path = "/v1/api/pipes/{name}/",
    operation_id = "pipes_put",
    summary = "Update a pipe; the body must carry its name.",
    description = "Fields left out are kept (as DRF does, so write-only credentials survive). Needs admin rights.",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    request_body(content = crate::openapi::PipeRequest),
    responses(
        (status = 200, description = "Updated.", body = dpipe_core::wire::PipeView),
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
            Reply::ok(&registry.update_pipe(caller, &name, &body, mode)?)
        })
        .await
}

/// `DELETE /v1/api/pipes/{name}/` → 204.
#[utoipa::path(
    delete,
    path = "/v1/api/pipes/{name}/",
    operation_id = "pipes_delete",
    summary = "Delete a pipe with its children and grants (files stay in storage).",
    description = "Owner only.",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    responses(
        (status = 204, description = "Deleted."),
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
            registry.delete_pipe(caller, &name)?;
            Ok(Reply::no_content())
        })
        .await
}

/// `GET /v1/api/pipes/{name}/permissions/` → 200, the grants on the pipe.
#[utoipa::path(
    get,
    path = "/v1/api/pipes/{name}/permissions/",
    operation_id = "permissions_list",
    summary = "The grants on a pipe, with the invitations still waiting.",
    description = "Admins only. A waiting invitation has status invited or awaiting_confirmation.",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    responses(
        (status = 200, description = "A bare array.", body = Vec<dpipe_core::wire::GrantView>),
        crate::openapi::ReadErrors,
    ),
)]
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
#[utoipa::path(
    post,
    path = "/v1/api/pipes/{name}/permissions/",
    operation_id = "permissions_set",
    summary = "Grant, change or revoke (role revoke) access: an upsert keyed by (pipe, grantee).",
    description = "Admins only. A grant by email to an address an account has goes to that account at once; to any other address it is an invitation, which registering with the address does not claim: {email, role: confirm} confirms the account that registered with it since (400 when no invitation to it waits on the pipe or nobody has registered with it), or the account follows the link a server with mail sends.",
    security(("token" = [])),
    params(crate::openapi::ResourceName),
    request_body(content = crate::openapi::GrantRequest),
    responses(
        (status = 201, description = "The grant as stored, or the revocation.", body = dpipe_core::wire::GrantView),
        crate::openapi::WriteErrors,
    ),
)]
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
#[utoipa::path(
    get,
    path = "/v1/api/pipes/{name}/audit/",
    operation_id = "pipes_audit",
    summary = "The pipe's audit trail, newest first.",
    description = "Credential fetches, grant and settings changes on the pipe and its descendants, allowed or refused. Owner of the pipe or an ancestor only.",
    security(("token" = [])),
    params(crate::openapi::ResourceName, crate::openapi::AuditQuery),
    responses(
        (status = 200, description = "A bare array, newest first.", body = Vec<dpipe_core::wire::AuditView>),
        (status = 400, response = crate::openapi::BadRequest),
        crate::openapi::ReadErrors,
    ),
)]
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
#[utoipa::path(
    get,
    path = "/v1/api/pipes/{name}/credentials/",
    operation_id = "pipes_credentials",
    summary = "The storage credentials for the role the caller holds, ready for boto3 or an FTP login.",
    description = "For a managed pipe, keys minted for this caller, pipe and role (aws_access_key_id, aws_secret_access_key, aws_session_token, endpoint_url, region_name): they reach only the pipe's folder and never outlive the grant.",
    security((), ("token" = [])),
    params(crate::openapi::ResourceName, crate::openapi::CredentialsQuery),
    responses(
        (status = 200, description = "The credentials, flat.", body = crate::openapi::Credentials),
        (status = 400, response = crate::openapi::BadRequest),
        crate::openapi::ReadErrors,
    ),
)]
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
