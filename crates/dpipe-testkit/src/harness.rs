//! Harnesses: the faces of the registry the behaviour suite runs against. Each gives clients
//! acting as named users over one shared registry, and control of the registry's clock.

use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use dpipe_client::{HttpApi, LocalApi, RepoApi};
use dpipe_registry::{FixedClock, Issuer, ManagedStorage, Registry};
use dpipe_store::SqliteStore;
use tempfile::TempDir;

use crate::postgres::TestDatabase;
use crate::server::TestServer;
use crate::services::smtp::SmtpServer;

/// A client acting as one user, with the identity it was created with.
pub struct User {
    /// The user's client.
    pub api: Box<dyn RepoApi>,
    /// The username.
    pub username: String,
    /// The user's email.
    pub email: String,
}

impl std::ops::Deref for User {
    type Target = dyn RepoApi;
    fn deref(&self) -> &Self::Target {
        self.api.as_ref()
    }
}

/// One face of the registry with its own fresh state.
pub trait Harness {
    /// A short name for messages (`local`, `server`).
    fn name(&self) -> &'static str;
    /// A client acting as a new user `name` (email `name@example.com`).
    fn user(&self, name: &str) -> User;
    /// A client with no identity, where the face has such a thing (local mode has not).
    fn anonymous(&self) -> Option<Box<dyn RepoApi>>;
    /// Sets the registry's "today".
    fn set_today(&self, date: NaiveDate);
    /// The registry's "today".
    fn today(&self) -> NaiveDate;
    /// Moves the registry's clock forward by `by`.
    fn advance(&self, by: TimeDelta);
}

/// The date every harness's clock starts at.
pub fn start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 15).expect("a valid date")
}

/// Email of the user called `name` in every harness.
pub fn email_of(name: &str) -> String {
    format!("{name}@example.com")
}

/// Built-in managed storage in [`suite::managed::MANAGED_BUCKET`](crate::suite::managed::MANAGED_BUCKET)
/// with 12-hour keys, released with `endpoint_url` when given.
pub fn managed_storage(endpoint_url: Option<String>) -> ManagedStorage {
    ManagedStorage {
        bucket: crate::suite::managed::MANAGED_BUCKET.to_string(),
        endpoint_url,
        region: "us-east-1".to_string(),
        lifetime: dpipe_registry::managed::DEFAULT_LIFETIME,
        issuer: Issuer::BuiltIn,
    }
}

/// Local mode: the registry in-process over a SQLite file in a temporary folder.
pub struct LocalHarness {
    registry: dpipe_registry::Registry,
    clock: Arc<FixedClock>,
    _dir: TempDir,
}

impl LocalHarness {
    /// A fresh local registry.
    pub fn new() -> LocalHarness {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store =
            SqliteStore::open(&dir.path().join("registry.sqlite")).expect("a local registry");
        let clock = Arc::new(FixedClock::new(start_date()));
        // Local mode proper has no managed storage; the harness gives its registry the
        // built-in kind (no object store runs) so the managed rules are judged on both faces.
        let registry = LocalApi::registry(Arc::new(store), clock.clone())
            .with_managed_storage(managed_storage(None));
        LocalHarness {
            registry,
            clock,
            _dir: dir,
        }
    }
}

impl LocalHarness {
    /// The registry underneath, for checks no client can make (the object store's).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Default for LocalHarness {
    fn default() -> Self {
        LocalHarness::new()
    }
}

impl Harness for LocalHarness {
    fn name(&self) -> &'static str {
        "local"
    }
    fn user(&self, name: &str) -> User {
        let email = email_of(name);
        let api =
            LocalApi::with_registry(self.registry.clone(), name, &email).expect("a local user");
        User {
            api: Box::new(api),
            username: name.to_string(),
            email,
        }
    }
    fn anonymous(&self) -> Option<Box<dyn RepoApi>> {
        None
    }
    fn set_today(&self, date: NaiveDate) {
        self.clock.set(date);
    }
    fn today(&self) -> NaiveDate {
        dpipe_registry::Clock::today(self.clock.as_ref())
    }
    fn advance(&self, by: TimeDelta) {
        self.clock.advance(by);
    }
}

/// The repo API server over HTTP, users registered through the API.
pub struct ServerHarness {
    /// The running server.
    pub server: TestServer,
    /// The SMTP server it mails invitation links through, if any.
    pub smtp: Option<SmtpServer>,
    /// The PostgreSQL schema the server keeps its registry in, if not SQLite. Declared after
    /// the server: dropped (and the schema with it) once the server has stopped.
    database: Option<TestDatabase>,
}

impl ServerHarness {
    /// A fresh server.
    pub fn new() -> ServerHarness {
        ServerHarness::around(TestServer::start())
    }

    /// A harness over `server`, started some other way (its clock set to [`start_date`]).
    pub fn around(server: TestServer) -> ServerHarness {
        server.clock.set(start_date());
        ServerHarness {
            server,
            smtp: None,
            database: None,
        }
    }

    /// A fresh server over a fresh PostgreSQL schema ([`TestDatabase`]).
    pub fn on_postgres() -> ServerHarness {
        let database = TestDatabase::create();
        let server = TestServer::start_on_postgres(&database.url());
        server.clock.set(start_date());
        ServerHarness {
            server,
            smtp: None,
            database: Some(database),
        }
    }

    /// A fresh server that mails invitation links through a fresh SMTP server.
    pub fn with_smtp() -> ServerHarness {
        let smtp = SmtpServer::start();
        let mailer = dpipe_server::SmtpMailer::new(&smtp.url()).expect("a valid SMTP URL");
        let server = TestServer::start_with_mailer(Arc::new(mailer));
        server.clock.set(start_date());
        ServerHarness {
            server,
            smtp: Some(smtp),
            database: None,
        }
    }
}

impl Default for ServerHarness {
    fn default() -> Self {
        ServerHarness::new()
    }
}

impl Harness for ServerHarness {
    fn name(&self) -> &'static str {
        match self.database {
            Some(_) => "server+postgres",
            None => "server",
        }
    }
    fn user(&self, name: &str) -> User {
        let email = email_of(name);
        let anonymous = HttpApi::new(&self.server.url, None).expect("a client");
        let registered = anonymous
            .register(name, &email, "correct horse battery")
            .expect("registration");
        let api = HttpApi::new(&self.server.url, Some(registered.token)).expect("a client");
        User {
            api: Box::new(api),
            username: name.to_string(),
            email,
        }
    }
    fn anonymous(&self) -> Option<Box<dyn RepoApi>> {
        Some(Box::new(
            HttpApi::new(&self.server.url, None).expect("a client"),
        ))
    }
    fn set_today(&self, date: NaiveDate) {
        self.server.clock.set(date);
    }
    fn today(&self) -> NaiveDate {
        dpipe_registry::Clock::today(self.server.clock.as_ref())
    }
    fn advance(&self, by: TimeDelta) {
        self.server.clock.advance(by);
    }
}
