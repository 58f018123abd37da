//! Throttling of failed logins, so that a password cannot be guessed at the speed of the
//! network, without letting a stranger lock its owner out.
//!
//! Failures are counted per (username, source address). The first [`FREE_FAILURES`] of a pair
//! cost nothing; after them, each further attempt of that pair must wait a delay that doubles
//! with every failure — [`FIRST_DELAY`], twice that, four times … capped at [`MAX_DELAY`] —
//! counted from the pair's last failure. An attempt made sooner is refused with 429 saying how
//! long to wait (the server adds `Retry-After`), even with the right password. The same
//! username from another address has its own count, so the owner logging in from elsewhere is
//! not slowed by a stranger's guesses. A successful login forgets its pair's failures; a pair
//! without a failure for [`FORGET_AFTER`] is forgotten too.
//!
//! One address guessing many usernames is capped as well: after [`MAX_PER_SOURCE`] failures
//! within [`SOURCE_WINDOW`], every login from it is refused until the oldest counted failure
//! leaves the window.
//!
//! A refused attempt is not a failure, so it does not extend the wait. An attempt counts as a
//! failure from the moment it is let through (and is taken back when it succeeds), so parallel
//! guesses cannot slip through the delay while their passwords are being checked.
//!
//! The counters live in memory, in the [`crate::Registry`] (shared by its clones), bounded to
//! [`MAX_KEYS`] pairs and addresses: beyond that, forgotten ones are dropped first, then the
//! least recent. With several server instances behind a load balancer each instance counts on
//! its own, so an attacker spreading guesses over N instances gets N times the budget; a
//! restart forgets everything.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use dpipe_core::{Error, ErrorKind};

/// Failures of one (username, source) pair that cost no wait.
pub(crate) const FREE_FAILURES: u32 = 5;
/// The wait after the first failure beyond [`FREE_FAILURES`]; each further failure doubles it.
pub(crate) const FIRST_DELAY: TimeDelta = TimeDelta::seconds(1);
/// The longest wait between two attempts of one pair.
pub(crate) const MAX_DELAY: TimeDelta = TimeDelta::minutes(15);
/// A pair without a failure for this long starts afresh.
pub(crate) const FORGET_AFTER: TimeDelta = TimeDelta::hours(24);
/// How long a failure counts against its source address.
pub(crate) const SOURCE_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Failures from one address (any usernames) within [`SOURCE_WINDOW`] before its logins are
/// refused.
pub(crate) const MAX_PER_SOURCE: usize = 20;
/// The most pairs, and the most addresses, tracked at once.
pub(crate) const MAX_KEYS: usize = 100_000;

/// A login refused for now: how long until the next attempt may be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    wait: TimeDelta,
}

impl Throttled {
    /// The wait in whole seconds, rounded up, at least 1 (what `Retry-After` says).
    pub fn seconds(&self) -> u64 {
        let millis = u64::try_from(self.wait.num_milliseconds()).unwrap_or(0);
        millis.div_ceil(1000).max(1)
    }

    /// The 429 error the caller sees.
    pub(crate) fn error(&self) -> Error {
        let seconds = self.seconds();
        let unit = if seconds == 1 { "second" } else { "seconds" };
        Error::new(
            ErrorKind::TooManyRequests,
            format!("Too many failed logins; try again in {seconds} {unit}."),
        )
    }
}

/// The failures of one (username, source) pair.
#[derive(Debug, Clone, Copy)]
struct PairFailures {
    count: u32,
    last: DateTime<Utc>,
}

impl PairFailures {
    /// When the pair may try again: at once within the free failures, else after the delay
    /// its count has earned.
    fn next_allowed(&self) -> DateTime<Utc> {
        match self.count.checked_sub(FREE_FAILURES) {
            None => self.last,
            Some(doublings) => self.last + delay(doublings),
        }
    }
}

/// [`FIRST_DELAY`] doubled `doublings` times, capped at [`MAX_DELAY`].
fn delay(doublings: u32) -> TimeDelta {
    let factor = 1i32.checked_shl(doublings).filter(|f| *f > 0);
    factor
        .and_then(|f| FIRST_DELAY.checked_mul(f))
        .map_or(MAX_DELAY, |d| d.min(MAX_DELAY))
}

type Pair = (String, Option<IpAddr>);

#[derive(Debug, Default)]
struct Counters {
    pairs: HashMap<Pair, PairFailures>,
    /// Each address's failures within [`SOURCE_WINDOW`], in time order.
    sources: HashMap<IpAddr, Vec<DateTime<Utc>>>,
}

/// The failed-login counters of one registry.
#[derive(Debug, Default)]
pub(crate) struct LoginLimiter {
    counters: Mutex<Counters>,
}

impl LoginLimiter {
    /// `Ok` when a login for `username` from `source` may be tried at `now`, counting it as a
    /// failure until [`LoginLimiter::succeeded`] says otherwise; otherwise how long to wait.
    pub(crate) fn attempt(
        &self,
        username: &str,
        source: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<(), Throttled> {
        let mut counters = self.lock();
        let pair = (username.to_string(), source);
        let pair_ready = counters
            .pairs
            .get(&pair)
            .filter(|failures| !is_forgotten(failures, now))
            .map(PairFailures::next_allowed);
        let source_ready = source.and_then(|ip| {
            let times = counters.sources.get_mut(&ip)?;
            forget_stale(times, now);
            // Allowed again once the failure that reached the cap leaves the window.
            (times.len() >= MAX_PER_SOURCE)
                .then(|| times[times.len() - MAX_PER_SOURCE] + SOURCE_WINDOW)
        });
        if let Some(ready) = pair_ready.into_iter().chain(source_ready).max()
            && ready > now
        {
            return Err(Throttled { wait: ready - now });
        }
        counters.count(pair, now);
        Ok(())
    }

    /// After a successful attempt made at `now`: forgets the failures of its pair, and takes
    /// back the attempt counted against `source` (its other failures stay).
    pub(crate) fn succeeded(&self, username: &str, source: Option<IpAddr>, now: DateTime<Utc>) {
        let mut counters = self.lock();
        counters.pairs.remove(&(username.to_string(), source));
        if let Some(times) = source.and_then(|ip| counters.sources.get_mut(&ip))
            && let Some(index) = times.iter().rposition(|t| *t >= now)
        {
            times.remove(index);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Counters {
    /// Counts a failure of `pair` at `now`, against the pair and its source.
    fn count(&mut self, pair: Pair, now: DateTime<Utc>) {
        let source = pair.1;
        bound(
            &mut self.pairs,
            |failures| !is_forgotten(failures, now),
            |failures| failures.last,
        );
        let failures = self
            .pairs
            .entry(pair)
            .and_modify(|f| {
                if is_forgotten(f, now) {
                    f.count = 0;
                }
            })
            .or_insert(PairFailures {
                count: 0,
                last: now,
            });
        failures.count = failures.count.saturating_add(1);
        // A clock set back must not shorten the wait.
        failures.last = failures.last.max(now);
        if let Some(ip) = source {
            bound(
                &mut self.sources,
                |times| {
                    forget_stale(times, now);
                    !times.is_empty()
                },
                |times| times.last().copied().unwrap_or(DateTime::UNIX_EPOCH),
            );
            let times = self.sources.entry(ip).or_default();
            // Keep the time order `forget_stale` relies on, even with a clock set back.
            let at = times.last().map_or(now, |last| now.max(*last));
            times.push(at);
        }
    }
}

/// True when a pair has been quiet long enough to start afresh.
fn is_forgotten(failures: &PairFailures, now: DateTime<Utc>) -> bool {
    failures.last + FORGET_AFTER <= now
}

/// Drops the failures that no longer count against an address at `now` (they are in time
/// order).
fn forget_stale(times: &mut Vec<DateTime<Utc>>, now: DateTime<Utc>) {
    let fresh = times.partition_point(|t| *t + SOURCE_WINDOW <= now);
    times.drain(..fresh);
}

/// Makes room for one more key in a full `map`: first drops what `keep` says is no longer
/// needed, then, if still full, the less recent half by `last`.
fn bound<K: Eq + Hash, V>(
    map: &mut HashMap<K, V>,
    mut keep: impl FnMut(&mut V) -> bool,
    last: impl Fn(&V) -> DateTime<Utc>,
) {
    if map.len() < MAX_KEYS {
        return;
    }
    map.retain(|_, value| keep(value));
    if map.len() >= MAX_KEYS {
        let mut times: Vec<DateTime<Utc>> = map.values().map(&last).collect();
        let middle = times.len() / 2;
        let (_, median, _) = times.select_nth_unstable(middle);
        let median = *median;
        map.retain(|_, value| last(value) > median);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::seconds(seconds)
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn wait(limiter: &LoginLimiter, user: &str, source: Option<IpAddr>, now: i64) -> u64 {
        limiter
            .attempt(user, source, at(now))
            .unwrap_err()
            .seconds()
    }

    #[test]
    fn delays_double_after_the_free_failures_up_to_the_cap() {
        assert_eq!(delay(0), TimeDelta::seconds(1));
        assert_eq!(delay(3), TimeDelta::seconds(8));
        assert_eq!(delay(9), TimeDelta::seconds(512));
        assert_eq!(delay(10), MAX_DELAY);
        assert_eq!(delay(31), MAX_DELAY);
        assert_eq!(delay(u32::MAX), MAX_DELAY);

        let limiter = LoginLimiter::default();
        let stranger = ip("10.0.0.1");
        for _ in 0..FREE_FAILURES {
            limiter.attempt("ann", stranger, at(0)).unwrap();
        }
        assert_eq!(wait(&limiter, "ann", stranger, 0), 1);
        limiter.attempt("ann", stranger, at(1)).unwrap();
        assert_eq!(wait(&limiter, "ann", stranger, 1), 2);
        // A refused attempt does not extend the wait.
        assert_eq!(wait(&limiter, "ann", stranger, 2), 1);
        limiter.attempt("ann", stranger, at(3)).unwrap();
        assert_eq!(wait(&limiter, "ann", stranger, 3), 4);
        let mut now = 3;
        for _ in 0..20 {
            now += 1000;
            limiter.attempt("ann", stranger, at(now)).unwrap();
        }
        assert_eq!(wait(&limiter, "ann", stranger, now), 900);
    }

    #[test]
    fn the_owner_from_another_address_is_not_slowed() {
        let limiter = LoginLimiter::default();
        let stranger = ip("10.0.0.1");
        for _ in 0..FREE_FAILURES {
            limiter.attempt("ann", stranger, at(0)).unwrap();
        }
        limiter.attempt("ann", stranger, at(1)).unwrap();
        assert_eq!(wait(&limiter, "ann", stranger, 1), 2);
        limiter.attempt("ann", ip("10.0.0.9"), at(1)).unwrap();
        limiter.succeeded("ann", ip("10.0.0.9"), at(1));
        // The owner's success does not lift the stranger's wait.
        assert_eq!(wait(&limiter, "ann", stranger, 2), 1);
        // A success forgets the pair's failures.
        limiter.attempt("ann", stranger, at(3)).unwrap();
        limiter.succeeded("ann", stranger, at(3));
        for _ in 0..FREE_FAILURES {
            limiter.attempt("ann", stranger, at(3)).unwrap();
        }
        assert_eq!(wait(&limiter, "ann", stranger, 3), 1);
    }

    #[test]
    fn a_quiet_pair_is_forgotten() {
        let limiter = LoginLimiter::default();
        let source = ip("10.0.0.4");
        for n in 0..12 {
            limiter.attempt("bob", source, at(n * 1000)).unwrap();
        }
        let later = 11 * 1000 + FORGET_AFTER.num_seconds();
        for _ in 0..FREE_FAILURES {
            limiter.attempt("bob", source, at(later)).unwrap();
        }
        assert_eq!(wait(&limiter, "bob", source, later), 1);
    }

    #[test]
    fn sources_are_refused_after_twenty_failures() {
        let limiter = LoginLimiter::default();
        let source = ip("10.0.0.2");
        for n in 0..20 {
            limiter.attempt(&format!("user{n}"), source, at(0)).unwrap();
        }
        assert_eq!(wait(&limiter, "fresh", source, 60), 840);
        assert_eq!(
            wait(&limiter, "fresh", source, 60),
            840,
            "a refusal is not a failure"
        );
        limiter.attempt("fresh", ip("10.0.0.3"), at(60)).unwrap();
        limiter.attempt("fresh", source, at(900)).unwrap();
    }

    #[test]
    fn parallel_guesses_are_counted_before_they_are_checked() {
        let limiter = LoginLimiter::default();
        let source = ip("10.0.0.5");
        for _ in 0..FREE_FAILURES {
            limiter.attempt("cat", source, at(0)).unwrap();
        }
        limiter.attempt("cat", source, at(1)).unwrap();
        // The guess let through at 1 s has not been judged yet: the next one still waits.
        assert_eq!(wait(&limiter, "cat", source, 1), 2);
    }

    #[test]
    fn memory_stays_bounded() {
        let limiter = LoginLimiter::default();
        let source = ip("10.0.0.6");
        for n in 0..MAX_KEYS + 10 {
            let seconds = i64::try_from(n).unwrap();
            // Spread over time so the source cap does not refuse them.
            limiter
                .attempt(&format!("u{n}"), source, at(seconds * 60))
                .unwrap();
        }
        let counters = limiter.lock();
        assert!(counters.pairs.len() <= MAX_KEYS, "{}", counters.pairs.len());
        assert!(counters.sources.len() <= MAX_KEYS);
    }
}
