//! A throwaway PostgreSQL schema per test.
//!
//! Tests that need PostgreSQL share one database (named by `DPIPE_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; `scripts/test-postgres.sh` starts a private
//! cluster and exports it). Each test gets its own schema, so tests run in parallel without
//! seeing each other's tables, and the schema is dropped when the test ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable naming the database the tests create their schemas in.
pub const DATABASE_URL_ENV: &str = "DPIPE_TEST_DATABASE_URL";

/// The database used when [`DATABASE_URL_ENV`] is not set: the machine's PostgreSQL with
/// trust authentication.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh schema `dpipe_t_<pid>_<random>` in the test database, dropped (CASCADE) on drop.
pub struct TestDatabase {
    base_url: String,
    schema: String,
}

impl TestDatabase {
    /// Creates a fresh, empty schema in the test database.
    ///
    /// # Panics
    /// When the test database cannot be reached or the schema cannot be created: the test
    /// cannot run without it, and the message says which URL was tried.
    pub fn create() -> TestDatabase {
        let base_url =
            std::env::var(DATABASE_URL_ENV).unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let schema = format!("dpipe_t_{}_{}", std::process::id(), unique_suffix());
        let mut client = connect(&base_url);
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .unwrap_or_else(|e| panic!("cannot create schema {schema} in {base_url}: {e}"));
        TestDatabase { base_url, schema }
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A URL of the test database whose `search_path` is this schema, so every table a
    /// connection made with it creates or reads lives in the schema.
    pub fn url(&self) -> String {
        let separator = if self.base_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}options=-csearch_path%3D{}",
            self.base_url, self.schema
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let dropped =
            postgres::Client::connect(&self.base_url, postgres::NoTls).and_then(|mut client| {
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema))
            });
        if let Err(e) = dropped {
            eprintln!("warning: could not drop test schema {}: {e}", self.schema);
        }
    }
}

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap_or_else(|e| {
        let cause = std::error::Error::source(&e)
            .map(|cause| format!(": {cause}"))
            .unwrap_or_default();
        panic!(
            "cannot connect to the test PostgreSQL ({url}; set {DATABASE_URL_ENV} or run \
             scripts/test-postgres.sh): {e}{cause}"
        )
    })
}

/// A suffix no other schema of this process or of a recent process with the same pid has:
/// the clock's nanoseconds mixed with a per-process counter.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}", nanos ^ count.rotate_left(48))
}
