//! Throttle states (`update_throttles`): written, rewritten, deleted and expired; wrong calls
//! refused without a change; expired states swept a bounded number at a time; and updates of
//! one key from many stores at once (as several server instances would make) losing nothing.

use chrono::{DateTime, TimeDelta, Utc};
use dpipe_store::{StoreError, ThrottleState};

use crate::{Database, Fixture};

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + TimeDelta::seconds(seconds)
}

fn state(text: &str, expires: i64) -> Option<ThrottleState> {
    Some(ThrottleState {
        state: text.to_string(),
        expires_at: at(expires),
    })
}

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// The states of `names` at `now`, changing nothing.
fn read(f: &Fixture, names: &[&str], now: DateTime<Utc>) -> Vec<Option<ThrottleState>> {
    let mut seen = Vec::new();
    f.store
        .update_throttles(&keys(names), now, &mut |current| {
            seen = current.to_vec();
            current.to_vec()
        })
        .unwrap();
    seen
}

/// How many rows the `throttles` table holds, counted behind the store's back.
fn rows(f: &Fixture) -> i64 {
    let sql = "SELECT count(*) FROM throttles";
    match &f.database {
        Database::Sqlite(dir) => rusqlite::Connection::open(dir.path().join("dpipe.sqlite"))
            .unwrap()
            .query_row(sql, [], |row| row.get(0))
            .unwrap(),
        Database::Postgres(db) => postgres::Client::connect(&db.url(), postgres::NoTls)
            .unwrap()
            .query_one(sql, &[])
            .unwrap()
            .get(0),
    }
}

pub fn throttle_states_are_written_read_and_expire(f: &Fixture) {
    assert_eq!(read(f, &["a", "b"], at(0)), vec![None, None]);
    f.store
        .update_throttles(&keys(&["a", "b"]), at(0), &mut |current| {
            assert_eq!(current, [None, None]);
            vec![state("one", 100), state("two", 10)]
        })
        .unwrap();
    assert_eq!(
        read(f, &["b", "a", "c"], at(5)),
        vec![state("two", 10), state("one", 100), None]
    );
    assert_eq!(
        read(f, &["a", "b"], at(10)),
        vec![state("one", 100), None],
        "a state is absent from its expiry on"
    );
    f.store
        .update_throttles(&keys(&["a", "b"]), at(10), &mut |_| {
            vec![None, state("three", 50)]
        })
        .unwrap();
    assert_eq!(read(f, &["a", "b"], at(10)), vec![None, state("three", 50)]);
    // Another store on the database (a restart, another instance) reads the same.
    let other = f.another();
    let mut seen = Vec::new();
    other
        .update_throttles(&keys(&["b"]), at(10), &mut |current| {
            seen = current.to_vec();
            current.to_vec()
        })
        .unwrap();
    assert_eq!(seen, vec![state("three", 50)]);
}

pub fn bad_throttle_updates_change_nothing(f: &Fixture) {
    f.store
        .update_throttles(&keys(&["k"]), at(0), &mut |_| vec![state("kept", 99)])
        .unwrap();
    let twice = f
        .store
        .update_throttles(&keys(&["k", "k"]), at(0), &mut |_| {
            panic!("not called for a key named twice")
        });
    assert!(
        matches!(&twice, Err(StoreError::Backend(m)) if m.contains("named twice")),
        "{twice:?}"
    );
    let short = f
        .store
        .update_throttles(&keys(&["k", "other"]), at(0), &mut |_| vec![None]);
    assert!(
        matches!(&short, Err(StoreError::Backend(m)) if m.contains("1 states for 2 keys")),
        "{short:?}"
    );
    let long = f
        .store
        .update_throttles(&keys(&["k"]), at(0), &mut |_| vec![None, None]);
    assert!(matches!(long, Err(StoreError::Backend(_))), "{long:?}");
    assert_eq!(
        read(f, &["k", "other"], at(0)),
        vec![state("kept", 99), None]
    );
}

pub fn expired_throttle_states_are_swept_a_few_at_a_time(f: &Fixture) {
    let names: Vec<String> = (0..100).map(|n| format!("old{n}")).collect();
    f.store
        .update_throttles(&names, at(0), &mut |current| {
            vec![state("x", 10); current.len()]
        })
        .unwrap();
    read(f, &["fresh"], at(9));
    assert_eq!(rows(f), 100, "nothing expired yet");
    read(f, &["fresh"], at(10));
    let left = rows(f);
    assert!(
        (50..100).contains(&left),
        "one update sweeps some, not all: {left} left"
    );
    for _ in 0..10 {
        read(f, &["fresh"], at(10));
    }
    assert_eq!(rows(f), 0, "every expired state is gone");
}

/// Eight threads, each with its own store on the database (its own connections, as separate
/// server instances or processes have), increment one counter.
pub fn concurrent_throttle_updates_lose_nothing(f: &Fixture) {
    const THREADS: usize = 8;
    const ROUNDS: usize = 40;
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let store = f.another();
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    store
                        .update_throttles(&keys(&["counter", "spare"]), at(0), &mut |current| {
                            let count = current[0]
                                .as_ref()
                                .map_or(0, |s| s.state.parse::<usize>().unwrap());
                            // Widen the window between the read and the write.
                            std::thread::sleep(std::time::Duration::from_millis(1));
                            vec![state(&(count + 1).to_string(), 1_000), None]
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(
        read(f, &["counter"], at(0)),
        vec![state(&(THREADS * ROUNDS).to_string(), 1_000)]
    );
}
