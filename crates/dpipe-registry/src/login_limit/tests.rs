//! The rules of `login_limit`, judged at chosen instants over a real (in-memory SQLite) store.

use dpipe_store::SqliteStore;

use super::*;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + TimeDelta::seconds(seconds)
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn store() -> SqliteStore {
    SqliteStore::in_memory().unwrap()
}

/// An attempt that must be let through.
fn let_through(store: &dyn Store, user: &str, source: Option<IpAddr>, now: i64) {
    let refused = attempt(store, user, source, at(now)).unwrap();
    assert_eq!(refused, None, "{user} from {source:?} at {now} s");
}

/// The wait of an attempt that must be refused.
fn wait(store: &dyn Store, user: &str, source: Option<IpAddr>, now: i64) -> u64 {
    attempt(store, user, source, at(now))
        .unwrap()
        .unwrap_or_else(|| panic!("{user} from {source:?} at {now} s was let through"))
        .seconds()
}

/// The stored state of `key` at `now`, as text, without changing it.
fn stored(store: &dyn Store, key: &str, now: i64) -> Option<ThrottleState> {
    let mut seen = None;
    store
        .update_throttles(&[key.to_string()], at(now), &mut |current| {
            seen = current[0].clone();
            current.to_vec()
        })
        .unwrap();
    seen
}

#[test]
fn delays_double_after_the_free_failures_up_to_the_cap() {
    assert_eq!(delay(0), TimeDelta::seconds(1));
    assert_eq!(delay(3), TimeDelta::seconds(8));
    assert_eq!(delay(9), TimeDelta::seconds(512));
    assert_eq!(delay(10), MAX_DELAY);
    assert_eq!(delay(31), MAX_DELAY);
    assert_eq!(delay(u32::MAX), MAX_DELAY);

    let store = store();
    let stranger = ip("10.0.0.1");
    for _ in 0..FREE_FAILURES {
        let_through(&store, "ann", stranger, 0);
    }
    assert_eq!(wait(&store, "ann", stranger, 0), 1);
    let_through(&store, "ann", stranger, 1);
    assert_eq!(wait(&store, "ann", stranger, 1), 2);
    // A refused attempt does not extend the wait.
    assert_eq!(wait(&store, "ann", stranger, 2), 1);
    let_through(&store, "ann", stranger, 3);
    assert_eq!(wait(&store, "ann", stranger, 3), 4);
    let mut now = 3;
    for _ in 0..20 {
        now += 1000;
        let_through(&store, "ann", stranger, now);
    }
    assert_eq!(wait(&store, "ann", stranger, now), 900);
}

#[test]
fn the_owner_from_another_address_is_not_slowed() {
    let store = store();
    let stranger = ip("10.0.0.1");
    for _ in 0..FREE_FAILURES {
        let_through(&store, "ann", stranger, 0);
    }
    let_through(&store, "ann", stranger, 1);
    assert_eq!(wait(&store, "ann", stranger, 1), 2);
    let_through(&store, "ann", ip("10.0.0.9"), 1);
    succeeded(&store, "ann", ip("10.0.0.9"), at(1)).unwrap();
    // The owner's success does not lift the stranger's wait.
    assert_eq!(wait(&store, "ann", stranger, 2), 1);
    // A success forgets the pair's failures.
    let_through(&store, "ann", stranger, 3);
    succeeded(&store, "ann", stranger, at(3)).unwrap();
    for _ in 0..FREE_FAILURES {
        let_through(&store, "ann", stranger, 3);
    }
    assert_eq!(wait(&store, "ann", stranger, 3), 1);
}

#[test]
fn a_quiet_pair_is_forgotten() {
    let store = store();
    let source = ip("10.0.0.4");
    for n in 0..12 {
        let_through(&store, "bob", source, n * 1000);
    }
    let later = 11 * 1000 + FORGET_AFTER.num_seconds();
    for _ in 0..FREE_FAILURES {
        let_through(&store, "bob", source, later);
    }
    assert_eq!(wait(&store, "bob", source, later), 1);
}

#[test]
fn sources_are_refused_after_twenty_failures() {
    let store = store();
    let source = ip("10.0.0.2");
    for n in 0..20 {
        let_through(&store, &format!("user{n}"), source, 0);
    }
    assert_eq!(wait(&store, "fresh", source, 60), 840);
    assert_eq!(
        wait(&store, "fresh", source, 60),
        840,
        "a refusal is not a failure"
    );
    let_through(&store, "fresh", ip("10.0.0.3"), 60);
    let_through(&store, "fresh", source, 900);
}

#[test]
fn parallel_guesses_are_counted_before_they_are_checked() {
    let store = store();
    let source = ip("10.0.0.5");
    for _ in 0..FREE_FAILURES {
        let_through(&store, "cat", source, 0);
    }
    let_through(&store, "cat", source, 1);
    // The guess let through at 1 s has not been judged yet: the next one still waits.
    assert_eq!(wait(&store, "cat", source, 1), 2);
}

#[test]
fn a_clock_set_back_does_not_shorten_the_wait() {
    let store = store();
    let source = ip("10.0.0.7");
    for _ in 0..FREE_FAILURES {
        let_through(&store, "dan", source, 100);
    }
    let_through(&store, "dan", source, 101);
    // Allowed again at 103 s; seen from a clock set back to 50 s, that is 53 s away.
    assert_eq!(wait(&store, "dan", source, 50), 53);
    // An address's failures keep their order: one made "earlier" counts as the latest.
    for n in 0..19 {
        let_through(&store, &format!("u{n}"), ip("10.0.0.8"), 1000);
    }
    let_through(&store, "last", ip("10.0.0.8"), 0);
    assert_eq!(wait(&store, "next", ip("10.0.0.8"), 0), 1900);
}

#[test]
fn a_success_takes_back_only_its_own_attempt() {
    let store = store();
    let source = ip("10.0.0.10");
    for n in 0..19 {
        let_through(&store, &format!("guess{n}"), source, 0);
    }
    let_through(&store, "owner", source, 1);
    succeeded(&store, "owner", source, at(1)).unwrap();
    // 19 failures count: one more is let through, then the address waits.
    let_through(&store, "guess19", source, 2);
    assert_eq!(wait(&store, "owner", source, 2), 898);
}

/// What is kept per pair and per address stays small whatever is tried, and leaves the store
/// once the rules no longer need it.
#[test]
fn what_is_kept_stays_bounded_and_expires() {
    let store = store();
    let source = ip("10.0.0.6");
    let huge = "x".repeat(100_000);
    let_through(&store, &huge, source, 0);
    for n in 0..200 {
        // Spread over time so the source cap does not refuse them.
        let_through(&store, &format!("u{n}"), source, 60 * n);
    }
    let times = stored(&store, "login-source:10.0.0.6", 60 * 199).expect("the address's failures");
    let times: Vec<DateTime<Utc>> = serde_json::from_str(&times.state).unwrap();
    assert_eq!(times.len(), 15, "the failures within the window");
    let pair = keys(&huge, source);
    assert!(
        pair[0].len() < 100,
        "a pair's key is short: {}",
        pair[0].len()
    );
    assert!(stored(&store, &pair[0], 0).is_some());
    // A pair is forgotten a day after its failure, an address 15 minutes after its last.
    assert!(stored(&store, &pair[0], FORGET_AFTER.num_seconds()).is_none());
    assert!(stored(&store, "login-source:10.0.0.6", 60 * 199 + 900).is_none());

    // Never more than MAX_PER_SOURCE times, even with a clock that stands still.
    let busy = ip("10.0.0.11");
    for n in 0..MAX_PER_SOURCE {
        let_through(&store, &format!("v{n}"), busy, 0);
    }
    assert_eq!(wait(&store, "w", busy, 0), 900);
    let times = stored(&store, "login-source:10.0.0.11", 0).unwrap();
    let times: Vec<DateTime<Utc>> = serde_json::from_str(&times.state).unwrap();
    assert_eq!(times.len(), MAX_PER_SOURCE);
}

/// A state the rules cannot read counts as none rather than locking anyone out.
#[test]
fn an_unreadable_counter_counts_as_none() {
    let store = store();
    let source = ip("10.0.0.12");
    let keys = keys("eve", source);
    store
        .update_throttles(&keys, at(0), &mut |_| {
            let garbage = ThrottleState {
                state: "{not json".to_string(),
                expires_at: at(10_000),
            };
            vec![Some(garbage.clone()), Some(garbage)]
        })
        .unwrap();
    let_through(&store, "eve", source, 0);
    let pair: serde_json::Value =
        serde_json::from_str(&stored(&store, &keys[0], 0).unwrap().state).unwrap();
    assert_eq!(pair["count"], 1);
}
