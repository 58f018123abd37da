//! `/v1/api/` (who am I), `/v1/api/accounts/...`: register, log in, rotate the token,
//! unregister; and `/v1/api/invitations/claim/`, the emailed link that verifies an address.

use std::sync::{Arc, OnceLock};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::reply::{ApiError, Reply};
use crate::request::{Auth, JsonBody, Name, SourceIp};

/// `GET /v1/api/` → 200 `{username, email}`.
#[utoipa::path(
    get,
    path = "/v1/api/",
    operation_id = "whoami",
    summary = "Who am I (d6tpipe's connection test).",
    security(("token" = [])),
    responses(
        (status = 200, description = "The caller.", body = dpipe_core::wire::WhoAmI),
        (status = 401, response = crate::openapi::Unauthorized),
    ),
)]
pub(crate) async fn whoami(State(state): State<AppState>, auth: Auth) -> Response {
    state
        .call(auth, |registry, caller| {
            Reply::ok(&registry.whoami(caller)?)
        })
        .await
}

/// `POST /v1/api/accounts/` → 201 `{username, email, token}`.
#[utoipa::path(
    post,
    path = "/v1/api/accounts/",
    operation_id = "register",
    summary = "Register an account; returns its persistent token.",
    description = "Any Authorization header is ignored. Invitations to the email stay pending until the address is verified.",
    security(()),
    request_body(content = crate::openapi::NewAccount),
    responses(
        (status = 201, description = "Registered.", body = dpipe_core::wire::Registered),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 413, response = crate::openapi::TooLarge),
    ),
)]
pub(crate) async fn register(State(state): State<AppState>, JsonBody(body): JsonBody) -> Response {
    state
        .call_anonymous(move |registry| Reply::created(&registry.register(&body)?))
        .await
}

/// `POST /v1/api/accounts/token/` → 200 `{token}`; 429 with `Retry-After` (seconds) while
/// failed logins for the username from the client's address, or from that address at all,
/// are throttled.
#[utoipa::path(
    post,
    path = "/v1/api/accounts/token/",
    operation_id = "login",
    summary = "Log in: the account's persistent token.",
    description = "Any Authorization header is ignored. Failed logins are throttled (429 with Retry-After), even with the right password until the wait is over.",
    security(()),
    request_body(content = crate::openapi::Login),
    responses(
        (status = 200, description = "The token.", body = dpipe_core::wire::TokenReply),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 413, response = crate::openapi::TooLarge),
        (status = 429, response = crate::openapi::TooManyRequests),
    ),
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    SourceIp(source): SourceIp,
    JsonBody(body): JsonBody,
) -> Response {
    let retry_after = Arc::new(OnceLock::new());
    let noted = retry_after.clone();
    let mut response = state
        .call_anonymous(move |registry| {
            let reply = registry.login(&body, source).map_err(|refused| {
                if let Some(seconds) = refused.retry_after {
                    let _ = noted.set(seconds);
                }
                refused.error
            })?;
            Reply::ok(&reply)
        })
        .await;
    if let Some(seconds) = retry_after.get() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*seconds));
    }
    response
}

/// `POST /v1/api/accounts/token/rotate/` → 200 `{token}` (the old token stops working).
#[utoipa::path(
    post,
    path = "/v1/api/accounts/token/rotate/",
    operation_id = "rotate_token",
    summary = "Replace the caller's token; the old one stops working.",
    description = "Any body is ignored.",
    security(("token" = [])),
    responses(
        (status = 200, description = "The new token.", body = dpipe_core::wire::TokenReply),
        (status = 401, response = crate::openapi::Unauthorized),
    ),
)]
pub(crate) async fn rotate_token(State(state): State<AppState>, auth: Auth) -> Response {
    state
        .call(auth, |registry, caller| {
            Reply::ok(&registry.rotate_token(caller)?)
        })
        .await
}

/// `DELETE /v1/api/accounts/{username}/` → 204.
#[utoipa::path(
    delete,
    path = "/v1/api/accounts/{username}/",
    operation_id = "unregister",
    summary = "Unregister yourself, with your pipes, remotes and grants.",
    security(("token" = [])),
    params(crate::openapi::Username),
    responses(
        (status = 204, description = "Deleted."),
        crate::openapi::ReadErrors,
    ),
)]
pub(crate) async fn unregister(
    State(state): State<AppState>,
    auth: Auth,
    Name(username): Name,
) -> Response {
    state
        .call(auth, move |registry, caller| {
            registry.unregister(caller, &username)?;
            Ok(Reply::no_content())
        })
        .await
}

/// `GET /v1/api/invitations/claim/?token=…` → 200 `{username, email, pipes}`: the link mailed
/// to an invited address; it claims the invitations to it for the account registered with it.
/// Needs no `Authorization` (the token is the proof); 400 for an unknown, used or expired link.
#[utoipa::path(
    get,
    path = "/v1/api/invitations/claim/",
    operation_id = "claim_invitations",
    summary = "Follow the link mailed to an invited address: claim every invitation to it.",
    description = "Servers started with --smtp-url mail the link when someone registers with an address that has pending invitations. Needs no token; the link is single-use and stored only as a hash. Each claim is audited as invitation.claim on its pipe. 400 for an unknown, used or expired link.",
    security(()),
    params(crate::openapi::ClaimQuery),
    responses(
        (status = 200, description = "The account and the pipes it now has access to.", body = dpipe_core::wire::InvitationsClaimed),
        (status = 400, response = crate::openapi::BadRequest),
    ),
)]
pub(crate) async fn claim_invitations(
    State(state): State<AppState>,
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
        .call_anonymous(move |registry| {
            let token = pairs
                .iter()
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.as_str());
            Reply::ok(&registry.claim_by_link(token)?)
        })
        .await
}
