//! `/health`, for load balancers and scripts. (The API's description, `/v1/openapi.json` and
//! `/v1/docs`, is `crate::openapi`'s.)

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::app::AppState;
use crate::openapi::{Healthy, Unhealthy};
use crate::reply::{ascii_json, json_response};

/// Health check: a real read of the database.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    security(()),
    responses(
        (status = 200, description = "The database answers.", body = Healthy),
        (status = 503, description = "The database failed (the cause is in the server log).", body = Unhealthy),
    ),
)]
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let store = state.registry.store().clone();
    // Any indexed read proves the database answers; no user has id 0.
    let read = tokio::task::spawn_blocking(move || store.user_by_id(0)).await;
    match read {
        Ok(Ok(_)) => json_response(StatusCode::OK, ascii_json(&json!({"status": "ok"}))),
        Ok(Err(error)) => {
            tracing::error!(%error, "health check: the database failed");
            unavailable()
        }
        Err(error) => {
            tracing::error!(%error, "health check panicked");
            unavailable()
        }
    }
}

/// The 503 answer of a failed health check.
fn unavailable() -> Response {
    let body =
        json!({"status": "unavailable", "detail": "The repo database failed; see the server log."});
    json_response(StatusCode::SERVICE_UNAVAILABLE, ascii_json(&body))
}
