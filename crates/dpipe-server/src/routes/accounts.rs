//! `/v1/api/` (who am I) and `/v1/api/accounts/...`: register, log in, rotate the token,
//! unregister.

use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::reply::Reply;
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

/// `POST /v1/api/accounts/token/` → 200 `{token}`; 429 after too many failed logins for the
/// username or from the client's address.
pub(crate) async fn login(
    State(state): State<AppState>,
    SourceIp(source): SourceIp,
    JsonBody(body): JsonBody,
) -> Response {
    state
        .call_anonymous(move |registry| Reply::ok(&registry.login(&body, source)?))
        .await
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
