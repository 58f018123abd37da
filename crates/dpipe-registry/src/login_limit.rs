//! Rate limiting of failed logins, per username and per source address, so a password cannot
//! be guessed at the speed of the network.
//!
//! After [`MAX_PER_USER`] failures for one username, or [`MAX_PER_SOURCE`] from one address,
//! within [`WINDOW`], every further login for that username (or from that address) is refused
//! with 429 — even with the right password — until the oldest counted failure leaves the
//! window. A successful login forgets the username's failures. A refused attempt is not a
//! failure, so it does not extend the wait. An attempt counts as a failure from the moment it
//! is let through (and is taken back when it succeeds), so parallel guesses cannot overshoot
//! the limit while their passwords are being checked.
//!
//! The counters live in memory, in the [`crate::Registry`] (shared by its clones): with several
//! server instances behind a load balancer each instance counts on its own, so an attacker
//! spreading guesses over N instances gets N times the budget; a restart forgets everything.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use dpipe_core::{Error, ErrorKind, Result};

/// How long a failed login counts.
pub(crate) const WINDOW: TimeDelta = TimeDelta::minutes(15);
/// Failures per username within [`WINDOW`] before its logins are refused.
pub(crate) const MAX_PER_USER: usize = 5;
/// Failures per source address within [`WINDOW`] before its logins are refused.
pub(crate) const MAX_PER_SOURCE: usize = 20;
/// Above this many tracked names and addresses, stale ones are dropped at once, so guessing
/// many usernames cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Source(IpAddr),
}

impl Key {
    fn limit(&self) -> usize {
        match self {
            Key::User(_) => MAX_PER_USER,
            Key::Source(_) => MAX_PER_SOURCE,
        }
    }
}

/// The failed-login counters of one registry.
#[derive(Debug, Default)]
pub(crate) struct LoginLimiter {
    failures: Mutex<HashMap<Key, Vec<DateTime<Utc>>>>,
}

impl LoginLimiter {
    /// `Ok` when a login for `username` from `source` may be tried at `now`, counting it as a
    /// failure until [`LoginLimiter::succeeded`] says otherwise; otherwise 429 saying how many
    /// seconds to wait.
    pub(crate) fn attempt(
        &self,
        username: &str,
        source: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut failures = self.lock();
        let wait = keys(username, source)
            .filter_map(|key| {
                let times = failures.get_mut(&key)?;
                forget_stale(times, now);
                let limit = key.limit();
                // Allowed again once the failure that reached the limit leaves the window.
                (times.len() >= limit).then(|| times[times.len() - limit] + WINDOW - now)
            })
            .max();
        match wait {
            None => {
                count(&mut failures, username, source, now);
                Ok(())
            }
            Some(wait) => {
                let seconds = (wait.num_milliseconds() + 999) / 1000;
                Err(Error::new(
                    ErrorKind::TooManyRequests,
                    format!(
                        "Too many failed logins; try again in {} seconds.",
                        seconds.max(1)
                    ),
                ))
            }
        }
    }

    /// After a successful attempt made at `now`: forgets the failures of `username`, and
    /// takes back the attempt counted against `source` (its other failures stay).
    pub(crate) fn succeeded(&self, username: &str, source: Option<IpAddr>, now: DateTime<Utc>) {
        let mut failures = self.lock();
        failures.remove(&Key::User(username.to_string()));
        if let Some(times) = source.and_then(|ip| failures.get_mut(&Key::Source(ip)))
            && let Some(index) = times.iter().rposition(|t| *t >= now)
        {
            times.remove(index);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<DateTime<Utc>>>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counts a failure for `username` from `source` at `now`.
fn count(
    failures: &mut HashMap<Key, Vec<DateTime<Utc>>>,
    username: &str,
    source: Option<IpAddr>,
    now: DateTime<Utc>,
) {
    if failures.len() >= MAX_KEYS {
        failures.retain(|_, times| {
            forget_stale(times, now);
            !times.is_empty()
        });
    }
    for key in keys(username, source) {
        let times = failures.entry(key).or_default();
        // A clock set back must not break the time order `forget_stale` relies on.
        let at = times.last().map_or(now, |last| now.max(*last));
        times.push(at);
    }
}

fn keys(username: &str, source: Option<IpAddr>) -> impl Iterator<Item = Key> {
    std::iter::once(Key::User(username.to_string())).chain(source.map(Key::Source))
}

/// Drops the failures that no longer count at `now` (they are in time order).
fn forget_stale(times: &mut Vec<DateTime<Utc>>, now: DateTime<Utc>) {
    let fresh = times.partition_point(|t| *t + WINDOW <= now);
    times.drain(..fresh);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::minutes(minutes)
    }

    #[test]
    fn users_are_refused_after_five_failures_until_the_window_passes() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for minute in 0..5 {
            limiter.attempt("ann", Some(ip), at(minute)).unwrap();
        }
        let refused = limiter.attempt("ann", None, at(5)).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::TooManyRequests);
        assert_eq!(
            refused.message(),
            "Too many failed logins; try again in 600 seconds."
        );
        limiter.attempt("bob", Some(ip), at(5)).unwrap();
        limiter.succeeded("bob", Some(ip), at(5));
        limiter.attempt("ann", None, at(15)).unwrap();
        limiter.succeeded("ann", None, at(15));
        for _ in 0..5 {
            limiter.attempt("ann", None, at(16)).unwrap();
        }
    }

    #[test]
    fn sources_are_refused_after_twenty_failures() {
        let limiter = LoginLimiter::default();
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        for n in 0..20 {
            limiter
                .attempt(&format!("user{n}"), Some(ip), at(0))
                .unwrap();
        }
        let refused = limiter.attempt("fresh", Some(ip), at(1)).unwrap_err();
        assert!(refused.message().contains("840 seconds"), "{refused}");
        limiter
            .attempt("fresh", Some("10.0.0.3".parse().unwrap()), at(1))
            .unwrap();
        limiter.attempt("fresh", Some(ip), at(15)).unwrap();
    }
}
