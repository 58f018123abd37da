//! What only the PostgreSQL store does: connecting (and saying in words why it could not,
//! without the password), migrating once under a lock, refusing a newer schema, serving
//! calls from tokio's blocking pool — and giving the same records as SQLite.

use std::net::TcpListener;
use std::sync::Arc;
use std::thread;

use dpipe_store::{Grantee, NewGrant, PgStore, SqliteStore, Store, StoreError};

use crate::test_database::TestDatabase;
use crate::{pipe, remote, user};

const PASSWORD: &str = "hunter2-secret";

fn backend_error(result: Result<PgStore, StoreError>) -> String {
    match result {
        Err(StoreError::Backend(message)) => message,
        other => panic!("expected a backend error, got {other:?}"),
    }
}

/// `url` with [`PASSWORD`] added to its user (trust authentication ignores it).
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').expect("the test URL names a user");
    format!("{scheme}://{user}:{PASSWORD}@{host}")
}

#[test]
fn a_refused_connection_names_host_and_port_not_the_password() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let message = backend_error(PgStore::connect(&format!(
        "postgres://dpipe:{PASSWORD}@127.0.0.1:{port}/test"
    )));
    assert_eq!(
        message,
        format!("cannot connect to PostgreSQL at 127.0.0.1:{port}: connection refused")
    );
}

#[test]
fn a_url_that_is_not_postgres_is_refused_in_words() {
    for url in [
        format!("mysql://dpipe:{PASSWORD}@127.0.0.1/test"),
        format!("/var/lib/dpipe/{PASSWORD}.sqlite"),
        format!("postgres://dpipe:{PASSWORD}@127.0.0.1:notaport/test"),
    ] {
        let message = backend_error(PgStore::connect(&url));
        assert!(!message.contains(PASSWORD), "{message}");
        assert!(
            message.contains("postgres") || message.contains("URL"),
            "{message}"
        );
    }
}

#[test]
fn debug_never_shows_the_password() {
    let db = TestDatabase::create();
    let store = PgStore::connect(&with_password(&db.url())).unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    assert!(
        debug.contains("127.0.0.1") || debug.contains("localhost"),
        "{debug}"
    );
}

/// The server calls the store from tokio's blocking pool: many calls at once share a small
/// pool of connections.
#[test]
fn calls_from_tokio_blocking_tasks_share_the_pool() {
    let db = TestDatabase::create();
    let store: Arc<dyn Store> = Arc::new(PgStore::connect_with(&db.url(), 3).unwrap());
    let ann = user(&*store, "ann");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let found = runtime.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let (store, ann) = (store.clone(), ann.clone());
                tokio::task::spawn_blocking(move || {
                    let pipe = pipe(&*store, &ann, &format!("p{i}"), None);
                    store.pipe_by_name(&pipe.name).unwrap() == Some(pipe)
                })
            })
            .collect();
        let mut found = 0;
        for task in tasks {
            found += usize::from(task.await.unwrap());
        }
        found
    });
    assert_eq!(found, 64);
    assert_eq!(store.all_pipes().unwrap().len(), 64);
}

/// Several instances starting together on an empty schema migrate it once.
#[test]
fn instances_starting_together_migrate_once() {
    let db = TestDatabase::create();
    let url = db.url();
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            thread::spawn(move || PgStore::connect(&url).map(|_| ()))
        })
        .collect();
    for start in starts {
        start.join().unwrap().unwrap();
    }
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM dpipe_schema_version ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(!versions.is_empty());
    // The tables went to the schema the URL's search_path names.
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'pipes'",
            &[&db.schema()],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1);
    assert_eq!(versions, (1..=versions.len() as i32).collect::<Vec<_>>());
}

#[test]
fn a_newer_schema_is_refused() {
    let db = TestDatabase::create();
    PgStore::connect(&db.url()).unwrap();
    let mut client = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
    client
        .execute(
            "INSERT INTO dpipe_schema_version (version) VALUES (999)",
            &[],
        )
        .unwrap();
    let message = backend_error(PgStore::connect(&db.url()));
    assert!(message.contains("schema version 999"), "{message}");
    assert!(message.contains("upgrade dpipe"), "{message}");
}

/// The same calls on both backends give equal records (ids included, on fresh databases).
#[test]
fn records_are_equal_across_backends() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("dpipe.sqlite")).unwrap();
    let db = TestDatabase::create();
    let postgres = PgStore::connect(&db.url()).unwrap();
    let scenario = |store: &dyn Store| {
        let ann = user(store, "ann");
        let backing = remote(store, &ann, "backing");
        let top = pipe(store, &ann, "top", None);
        let child = pipe(store, &ann, "child", Some(&top));
        let grant = store
            .upsert_grant(&NewGrant {
                pipe_id: child.id,
                grantee: Grantee::Email("bob@example.com".into()),
                role: "read".into(),
                expiration_date: chrono::NaiveDate::from_ymd_opt(2027, 1, 31),
            })
            .unwrap();
        (ann, backing, store.all_pipes().unwrap(), grant)
    };
    assert_eq!(scenario(&sqlite), scenario(&postgres));
}

/// PostgreSQL text cannot hold NUL (SQLite's can): such a value is a backend error that
/// changes nothing. (The registry refuses NUL in every field before it reaches the store.)
#[test]
fn a_nul_byte_is_refused_and_changes_nothing() {
    let db = TestDatabase::create();
    let store = PgStore::connect(&db.url()).unwrap();
    let message = match store.insert_user(&crate::new_user("a\u{0}b")) {
        Err(StoreError::Backend(message)) => message,
        other => panic!("expected a backend error, got {other:?}"),
    };
    assert!(message.contains("0x00"), "{message}");
    let mut client = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
    let users: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .unwrap()
        .get(0);
    assert_eq!(users, 0);
    // The pooled connection is still good.
    assert_eq!(user(&store, "ann").username, "ann");
}
