//! dpipe's repo API server: the d6tpipe wire protocol (`/v1/api/...`) over HTTP, as a thin
//! face over [`dpipe_registry::Registry`], which holds every rule.
//!
//! Modules: `app` (the router, state and the bridge to the blocking registry), `routes`
//! (handlers per resource), `request` (auth header, JSON body, size limit), `reply` (status
//! codes and DRF-style ASCII JSON bodies), `logging` (one line per request), `data_dir` (the
//! locked data folder with the key and database) and `serve` (listener + shutdown, and
//! [`run`] for `dpipe serve`). The routes and their statuses are documented in
//! `src/openapi.json`, served at `/v1/openapi.json` and rendered at `/v1/docs`.

mod app;
mod data_dir;
mod error;
mod logging;
mod reply;
mod request;
mod routes;
mod serve;

pub use app::{Limits, app};
pub use data_dir::{
    CREDENTIALS_KEY_FILE, CREDENTIALS_KEYS_ENV, DATABASE_FILE, DataDir, KEY_FILE, LOCK_FILE,
};
pub use error::ServerError;
pub use logging::init_logging;
pub use serve::{ServeOptions, default_data_dir, rotate_key, run, serve, shutdown_signal};
