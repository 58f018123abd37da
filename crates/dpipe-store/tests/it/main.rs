//! The store conformance suite: every case runs against both implementations of [`Store`] —
//! [`SqliteStore`] on a file in a temporary folder and [`PgStore`] on a fresh schema of the
//! test PostgreSQL (`DPIPE_TEST_DATABASE_URL`, see `scripts/test-postgres.sh`) — so the two
//! keep one semantics: the same records, the same errors naming the same fields, the same
//! cascades and orderings. PostgreSQL-only behaviour (connecting, migrating) is in
//! [`postgres_only`].

/// The test kit's [`TestDatabase`](test_database::TestDatabase), included by path rather than
/// through a dependency on `dpipe-testkit`, which depends on this crate and on the whole
/// server: the store's tests build and run without either.
#[path = "../../../dpipe-testkit/src/postgres.rs"]
mod test_database;

mod concurrency;
mod grants;
mod pipes;
mod postgres_only;
mod remotes;
mod throttles;
mod trails;
mod users;

use std::sync::Arc;

use dpipe_store::{
    NewPipe, NewRemote, NewUser, PgStore, PipeRecord, RemoteRecord, SqliteStore, Store, UserRecord,
};
use serde_json::{Map, Value, json};
use test_database::TestDatabase;

/// A store on a fresh database, and the means to open more stores on the same database (as
/// other server instances or processes would).
pub struct Fixture {
    pub store: Arc<dyn Store>,
    database: Database,
}

enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase),
}

impl Fixture {
    pub fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::Sqlite(dir);
        Fixture {
            store: open(&database),
            database,
        }
    }

    pub fn postgres() -> Fixture {
        let database = Database::Postgres(TestDatabase::create());
        Fixture {
            store: open(&database),
            database,
        }
    }

    /// Another store on the same database, with its own connection(s).
    pub fn another(&self) -> Arc<dyn Store> {
        open(&self.database)
    }
}

fn open(database: &Database) -> Arc<dyn Store> {
    match database {
        Database::Sqlite(dir) => {
            Arc::new(SqliteStore::open(&dir.path().join("dpipe.sqlite")).unwrap())
        }
        Database::Postgres(db) => Arc::new(PgStore::connect(&db.url()).unwrap()),
    }
}

/// Expands each case into one test per backend: `sqlite::<case>` and `postgres::<case>`.
macro_rules! conformance {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $case() {
                crate::$module::$case(&crate::Fixture::sqlite());
            })*
        }
        mod postgres {
            $(#[test]
            fn $case() {
                crate::$module::$case(&crate::Fixture::postgres());
            })*
        }
    };
}

conformance!(
    users::users_round_trip,
    users::user_unique_fields_are_named,
    users::deleting_a_user_takes_what_they_own,
    users::a_user_whose_remote_others_use_stays,
    remotes::remotes_round_trip,
    remotes::remote_names_are_unique,
    remotes::a_remote_in_use_stays,
    pipes::pipes_round_trip,
    pipes::pipe_names_are_unique,
    pipes::chains_hold_a_pipe_and_its_ancestors,
    pipes::pipes_reaching_a_caller,
    pipes::deleting_a_pipe_takes_its_descendants_and_grants,
    grants::grants_round_trip,
    grants::a_grant_to_a_missing_pipe_is_refused,
    grants::invitations_are_claimed_on_request,
    grants::a_claimed_invitation_replaces_a_grant,
    trails::email_links_work_once_and_expired_ones_go,
    trails::audit_trails_start_at_the_latest_creation,
    trails::audit_filters_apply_before_the_limit,
    trails::storage_keys_newest_and_forgotten,
    trails::credentials_are_rewritten_in_one_transaction,
    trails::a_failed_rewrite_changes_nothing,
    trails::the_sealing_key_is_shared,
    concurrency::concurrent_creates_of_one_name_have_one_winner,
    concurrency::concurrent_grants_lose_nothing,
    throttles::throttle_states_are_written_read_and_expire,
    throttles::bad_throttle_updates_change_nothing,
    throttles::expired_throttle_states_are_swept_a_few_at_a_time,
    throttles::concurrent_throttle_updates_lose_nothing,
);

/// Creates user `name` (email `<name>@example.com`, token hash `token-<name>`).
pub fn user(store: &dyn Store, name: &str) -> UserRecord {
    store.insert_user(&new_user(name)).unwrap()
}

pub fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        email: format!("{name}@example.com"),
        password_hash: format!("hash-{name}"),
        token_hash: format!("token-{name}"),
        token_seed: format!("seed-{name}"),
    }
}

pub fn new_remote(owner: &UserRecord, name: &str) -> NewRemote {
    NewRemote {
        name: name.into(),
        owner_id: owner.id,
        protocol: "s3".into(),
        location: format!("bucket-{name}"),
        credentials: Some(format!("sealed-{name}")),
        settings: object(json!({"region": "eu-west-1", "nested": {"a": [1, 2]}})),
        schema: json!({"columns": ["a", "b"]}),
    }
}

pub fn remote(store: &dyn Store, owner: &UserRecord, name: &str) -> RemoteRecord {
    store.insert_remote(&new_remote(owner, name)).unwrap()
}

pub fn new_pipe(owner: &UserRecord, name: &str, parent: Option<&PipeRecord>) -> NewPipe {
    NewPipe {
        name: name.into(),
        owner_id: owner.id,
        parent_id: parent.map(|p| p.id),
        remote_id: None,
        protocol: None,
        location: Some(format!("folder/{name}")),
        credentials: None,
        settings: object(json!({"readme": "übung ✓"})),
        options: object(json!({"dir": name})),
        schema: Value::Null,
    }
}

pub fn pipe(
    store: &dyn Store,
    owner: &UserRecord,
    name: &str,
    parent: Option<&PipeRecord>,
) -> PipeRecord {
    store.insert_pipe(&new_pipe(owner, name, parent)).unwrap()
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}
