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
pub(crate) async fn whoami(State(state): State<AppState>, auth: Auth) -> Response {
    state
        .call(auth, |registry, caller| {
            Reply::ok(&registry.whoami(caller)?)
        })
        .await
}

/// `POST /v1/api/accounts/` → 201 `{username, email, token}`.
pub(crate) async fn register(State(state): State<AppState>, JsonBody(body): JsonBody) -> Response {
    state
        .call_anonymous(move |registry| Reply::created(&registry.register(&body)?))
        .await
}

/// `POST /v1/api/accounts/token/` → 200 `{token}`; 429 with `Retry-After` (seconds) while
/// failed logins for the username from the client's address, or from that address at all,
/// are throttled.
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
pub(crate) async fn rotate_token(State(state): State<AppState>, auth: Auth) -> Response {
    state
        .call(auth, |registry, caller| {
            Reply::ok(&registry.rotate_token(caller)?)
        })
        .await
}

/// `DELETE /v1/api/accounts/{username}/` → 204.
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
