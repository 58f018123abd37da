//! The router: every route of the repo API (d6tpipe protocol §2 plus dpipe's additions),
//! reachable with and without its trailing slash and never redirecting, a JSON 404 for
//! unknown paths and a JSON 405 for wrong methods, and the shared state handlers run with.

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use dpipe_core::{Error, ErrorKind};
use dpipe_registry::{Caller, Registry};
use tokio::sync::Semaphore;

use crate::logging::{LoggedUser, log_request};
use crate::openapi;
use crate::reply::{ApiError, Reply, json_response};
use crate::request::Auth;
use crate::routes::{accounts, meta, pipes, remotes};

/// Limits applied to every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    /// 1 MiB of body. The largest legitimate bodies are a pipe's or remote's settings with
    /// its schema and credentials (an SSH private key is a few KB, a schema rarely tens of
    /// KB), so 1 MiB leaves ample room while bounding what one request can make the server
    /// buffer and parse.
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The rules.
    pub(crate) registry: Registry,
    /// Request limits.
    pub(crate) limits: Limits,
    /// Permits to run a registry call on the blocking pool: a few per core, so that a burst of
    /// requests queues in order instead of growing the pool by a thread per request, all of
    /// them contending for the store.
    pub(crate) registry_slots: Arc<Semaphore>,
}

/// Registry calls running at once per core (they block on SQLite and on argon2).
const REGISTRY_SLOTS_PER_CORE: usize = 1;

impl AppState {
    /// Runs `op` for the caller `auth` names, on the blocking pool (argon2 and SQLite block),
    /// and answers with its reply or its error. The caller's name goes to the request log.
    pub(crate) async fn call<F>(&self, auth: Auth, op: F) -> Response
    where
        F: FnOnce(&Registry, &Caller) -> Result<Reply, Error> + Send + 'static,
    {
        let registry = self.registry.clone();
        let slot = Arc::clone(&self.registry_slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let outcome = tokio::task::spawn_blocking(move || {
            // Held until the call is over, even when the client has gone.
            let _slot = slot;
            let caller = match auth {
                Auth::Anonymous => Caller::Anonymous,
                Auth::Token(token) => match registry.authenticate(&token) {
                    Ok(caller) => caller,
                    Err(error) => return (None, Err(error)),
                },
                Auth::Malformed(why) => {
                    return (None, Err(Error::new(ErrorKind::Unauthenticated, why)));
                }
            };
            let user = match &caller {
                Caller::User(user) => Some(user.username.clone()),
                Caller::Anonymous => None,
            };
            (user, op(&registry, &caller))
        })
        .await;
        let (user, result) = match outcome {
            Ok(outcome) => outcome,
            Err(join_error) => {
                tracing::error!(error = %join_error, "a request handler panicked");
                (None, Err(Error::internal("Internal server error.")))
            }
        };
        let mut response = match result {
            Ok(reply) => reply.into_response(),
            Err(error) => ApiError(error).into_response(),
        };
        if let Some(user) = user {
            response.extensions_mut().insert(LoggedUser(user));
        }
        response
    }

    /// Runs `op`, which needs no caller (register, login), on the blocking pool. Any
    /// `Authorization` header is ignored: a client holding a stale token must still be able
    /// to register or log in.
    pub(crate) async fn call_anonymous<F>(&self, op: F) -> Response
    where
        F: FnOnce(&Registry) -> Result<Reply, Error> + Send + 'static,
    {
        self.call(Auth::Anonymous, move |registry, _| op(registry))
            .await
    }
}

/// Every route: its path (the form with a trailing slash for `/v1/api/...`, as d6tpipe sends
/// it) and its handlers. The one list the router is built from and [`route_paths`] reads, so
/// the test holding the OpenAPI document to the router sees every route.
fn routes() -> [(&'static str, MethodRouter<AppState>); 17] {
    [
        ("/health", get(meta::health)),
        ("/v1/openapi.json", get(openapi::openapi_json)),
        ("/v1/docs", get(openapi::docs)),
        ("/v1/api/", get(accounts::whoami)),
        ("/v1/api/accounts/", post(accounts::register)),
        ("/v1/api/accounts/token/", post(accounts::login)),
        (
            "/v1/api/accounts/token/rotate/",
            post(accounts::rotate_token),
        ),
        ("/v1/api/accounts/{username}/", delete(accounts::unregister)),
        (
            "/v1/api/invitations/claim/",
            get(accounts::claim_invitations),
        ),
        ("/v1/api/pipes/", get(pipes::list).post(pipes::create)),
        (
            "/v1/api/pipes/{name}/",
            get(pipes::get)
                .patch(pipes::patch)
                .put(pipes::put)
                .delete(pipes::delete),
        ),
        (
            "/v1/api/pipes/{name}/permissions/",
            get(pipes::list_grants).post(pipes::grant),
        ),
        ("/v1/api/pipes/{name}/credentials/", get(pipes::credentials)),
        ("/v1/api/pipes/{name}/audit/", get(pipes::audit)),
        ("/v1/api/remotes/", get(remotes::list).post(remotes::create)),
        (
            "/v1/api/remotes/{name}/",
            get(remotes::get)
                .patch(remotes::patch)
                .put(remotes::put)
                .delete(remotes::delete),
        ),
        (
            "/v1/api/remotes/{name}/credentials/",
            get(remotes::credentials),
        ),
    ]
}

/// The paths the router serves, each also without (or with) its trailing slash.
pub fn route_paths() -> Vec<&'static str> {
    routes().into_iter().map(|(path, _)| path).collect()
}

/// The repo API over `registry`, with `limits`.
pub fn app(registry: Registry, limits: Limits) -> Router {
    let mut router = Router::new();
    for (path, method_router) in routes() {
        // d6tpipe always sends the trailing slash, people typing URLs often do not, and a
        // redirect would break the client (urllib turns a redirected POST into a GET).
        let other = match path.strip_suffix('/') {
            Some(bare) => bare.to_string(),
            None => format!("{path}/"),
        };
        let method_router = method_router.fallback(method_not_allowed);
        router = router
            .route(path, method_router.clone())
            .route(&other, method_router);
    }
    router
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
        .with_state(AppState {
            registry_slots: Arc::new(Semaphore::new(registry_slots(&registry))),
            registry,
            limits,
        })
}

/// How many registry calls may run at once: one per core (they block on argon2 and on the
/// store), or as many as the store serves together when that is more (a PostgreSQL pool,
/// whose calls wait on the network rather than on a core).
fn registry_slots(registry: &Registry) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * REGISTRY_SLOTS_PER_CORE).max(registry.store().concurrent_calls())
}

/// Unknown paths: DRF's 404.
async fn not_found() -> ApiError {
    ApiError(Error::not_found())
}

/// A known path with a method it does not serve: DRF's 405 (axum adds the `Allow` header).
async fn method_not_allowed(method: Method) -> Response {
    let body = serde_json::json!({ "detail": format!("Method \"{method}\" not allowed.") });
    json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        crate::reply::ascii_json(&body),
    )
}
