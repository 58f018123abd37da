//! Login rate limits are shared by every registry on one database — several server instances
//! on one PostgreSQL, several processes on one SQLite file — and survive a restart: failures
//! made through one instance count on the others, so spreading guesses over N instances does
//! not buy N times the budget. Each case runs on both backends, with two registries over two
//! separately opened stores (their own connections) and one clock.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::TimeDelta;
use dpipe_registry::{FixedClock, KeyRing, Registry, ServerKey};
use dpipe_store::{PgStore, SqliteStore, Store};
use dpipe_testkit::harness::start_date;
use dpipe_testkit::postgres::TestDatabase;
use serde_json::json;

const RIGHT: &str = "right-password";

/// One database, and the means to start registries on it as separate instances would.
struct Shared {
    database: Database,
    clock: Arc<FixedClock>,
    ring: String,
}

enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl Shared {
    fn sqlite() -> Shared {
        Shared::on(Database::Sqlite(tempfile::tempdir().unwrap()))
    }

    fn postgres() -> Shared {
        Shared::on(Database::Postgres(TestDatabase::create()))
    }

    fn on(database: Database) -> Shared {
        Shared {
            database,
            clock: Arc::new(FixedClock::new(start_date())),
            ring: KeyRing::generate().to_text(),
        }
    }

    /// A new instance: a registry over its own store on the database, with the shared keys.
    fn instance(&self) -> Registry {
        let store: Arc<dyn Store> = match &self.database {
            Database::Sqlite(dir) => {
                Arc::new(SqliteStore::open(&dir.path().join("dpipe.sqlite")).unwrap())
            }
            Database::Postgres(db) => Arc::new(PgStore::connect(&db.url()).unwrap()),
        };
        Registry::new(
            store,
            self.clock.clone(),
            ServerKey::from_bytes([7; 32]),
            KeyRing::from_text(&self.ring).unwrap(),
        )
    }

    fn advance(&self, seconds: i64) {
        self.clock.advance(TimeDelta::seconds(seconds));
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn register(registry: &Registry, username: &str) {
    registry
        .register(&json!({
            "username": username,
            "email": format!("{username}@example.com"),
            "password": RIGHT,
        }))
        .unwrap();
}

/// The answer to a login: `Ok(())`, or `Err(Some(wait))` when throttled, `Err(None)` when
/// refused for a wrong password.
fn login(
    registry: &Registry,
    username: &str,
    password: &str,
    source: IpAddr,
) -> Result<(), Option<u64>> {
    registry
        .login(
            &json!({"username": username, "password": password}),
            Some(source),
        )
        .map(|_| ())
        .map_err(|refused| refused.retry_after)
}

fn fail(registry: &Registry, username: &str, source: IpAddr) {
    assert_eq!(
        login(registry, username, "wrong", source),
        Err(None),
        "a failure"
    );
}

/// Both instances refuse `username` from `source`, even with the right password, with the
/// same wait.
fn both_wait(a: &Registry, b: &Registry, username: &str, source: IpAddr, seconds: u64) {
    assert_eq!(
        login(a, username, RIGHT, source),
        Err(Some(seconds)),
        "on A"
    );
    assert_eq!(
        login(b, username, RIGHT, source),
        Err(Some(seconds)),
        "on B"
    );
}

fn failures_on_one_instance_count_on_the_other(shared: &Shared) {
    let (a, b) = (shared.instance(), shared.instance());
    register(&a, "victim");
    let stranger = ip("192.0.2.10");
    for _ in 0..3 {
        fail(&a, "victim", stranger);
    }
    for _ in 0..2 {
        fail(&b, "victim", stranger);
    }
    both_wait(&a, &b, "victim", stranger, 1);
    shared.advance(1);
    fail(&b, "victim", stranger);
    both_wait(&a, &b, "victim", stranger, 2);
    shared.advance(2);
    fail(&a, "victim", stranger);
    both_wait(&a, &b, "victim", stranger, 4);
    // The owner from elsewhere is not slowed, on either instance.
    login(&a, "victim", RIGHT, ip("198.51.100.1")).unwrap();
    login(&b, "victim", RIGHT, ip("198.51.100.1")).unwrap();
}

fn the_address_cap_is_shared(shared: &Shared) {
    let (a, b) = (shared.instance(), shared.instance());
    register(&a, "innocent");
    let source = ip("192.0.2.20");
    for n in 0..10 {
        fail(&a, &format!("guess-a{n}"), source);
        fail(&b, &format!("guess-b{n}"), source);
    }
    shared.advance(60);
    both_wait(&a, &b, "innocent", source, 840);
    both_wait(&a, &b, "innocent", source, 840);
    login(&b, "innocent", RIGHT, ip("192.0.2.21")).unwrap();
    shared.advance(840);
    login(&a, "innocent", RIGHT, source).unwrap();
}

fn a_success_on_one_instance_forgets_the_pair_on_both(shared: &Shared) {
    let (a, b) = (shared.instance(), shared.instance());
    register(&a, "forgetful");
    let home = ip("192.0.2.30");
    for _ in 0..4 {
        fail(&a, "forgetful", home);
    }
    login(&b, "forgetful", RIGHT, home).unwrap();
    // Five free failures again, split over both, and then the wait.
    for _ in 0..3 {
        fail(&a, "forgetful", home);
    }
    for _ in 0..2 {
        fail(&b, "forgetful", home);
    }
    both_wait(&a, &b, "forgetful", home, 1);
}

fn a_restart_remembers(shared: &Shared) {
    let stranger = ip("192.0.2.40");
    {
        let a = shared.instance();
        register(&a, "target");
        for _ in 0..6 {
            fail(&a, "target", stranger);
            shared.advance(1);
        }
    }
    // Every instance gone; new ones on the same database still make the stranger wait.
    let (c, d) = (shared.instance(), shared.instance());
    both_wait(&c, &d, "target", stranger, 1);
    shared.advance(1);
    login(&d, "target", RIGHT, stranger).unwrap();
}

/// Expands each case into one test per backend: `sqlite::<case>` and `postgres::<case>`.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $case() {
                super::$case(&super::Shared::sqlite());
            })*
        }
        mod postgres {
            $(#[test]
            fn $case() {
                super::$case(&super::Shared::postgres());
            })*
        }
    };
}

on_both_backends!(
    failures_on_one_instance_count_on_the_other,
    the_address_cap_is_shared,
    a_success_on_one_instance_forgets_the_pair_on_both,
    a_restart_remembers,
);
