//! dpipe's repo API server: the d6tpipe wire protocol (`/v1/api/...`) over HTTP, as a thin
//! face over [`dpipe_registry::Registry`], which holds every rule.
//!
//! Modules: `app` (the router, state and the bridge to the blocking registry), `routes`
//! (handlers per resource), `request` (auth header, JSON body, size limit), `reply` (status
//! codes and DRF-style ASCII JSON bodies), `logging` (one line per request), `data_dir` (the
//! locked data folder with the keys, and the SQLite or PostgreSQL database; key rotation), `storage` (the managed storage: the built-in
//! object store judged by the registry, or an external S3 with STS), `mail` (the SMTP client
//! that sends invitation links) and `serve` (listeners +
//! shutdown, and [`run`] for `dpipe serve`). `openapi` generates the OpenAPI document from
//! the handlers' annotations and the wire types, served at `/v1/openapi.json` and rendered at
//! `/v1/docs`.

mod app;
mod data_dir;
mod error;
mod logging;
mod mail;
mod openapi;
mod reply;
mod request;
mod routes;
mod serve;
mod storage;

pub use app::{Limits, app, route_paths};
pub use data_dir::{
    CREDENTIALS_KEY_FILE, CREDENTIALS_KEYS_ENV, DATABASE_FILE, DataDir, DataDirOptions, KEY_FILE,
    LOCK_FILE, RotationStep, STORAGE_DIR, rotate_key,
};
pub use error::ServerError;
pub use logging::init_logging;
pub use mail::SmtpMailer;
pub use serve::{ServeOptions, default_data_dir, run, serve, shutdown_signal};
pub use storage::{
    BUILTIN_REGION, RegistryGate, StorageKind, StorageOptions, builtin_managed_storage,
    builtin_storage_service, external_managed_storage,
};
