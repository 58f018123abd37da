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
//! guesses cannot slip through the delay while their passwords are being checked. A clock set
//! back does not shorten a wait: a failure is never recorded earlier than the last one.
//!
//! The counters live in the store, as throttle states ([`Store::update_throttles`]), so every
//! server instance sharing one database — and every process on one SQLite file — counts
//! against the same numbers, and a restart forgets nothing. Each attempt reads and rewrites its
//! pair's and its address's counters in one short transaction that serializes against every
//! other attempt on the same keys; a success is a second one. What is kept stays bounded: a
//! pair is a count and a time, keyed by a hash of the username (so neither a huge username nor
//! the usernames tried reach the database), and an address at most [`MAX_PER_SOURCE`] times.
//! Each state expires when the rules stop needing it — a pair [`FORGET_AFTER`] after its last
//! failure, an address [`SOURCE_WINDOW`] after its last — and the store deletes expired states
//! a few at a time as later logins pass, which replaces the old in-memory bound on the number
//! of pairs and addresses.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use dpipe_core::{Error, ErrorKind, Result};
use dpipe_store::{Store, ThrottleState};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::StoreResultExt;

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

/// `Ok(None)` when a login for `username` from `source` may be tried at `now`, counting it as
/// a failure until [`succeeded`] says otherwise; `Ok(Some)` with the wait when it may not.
pub(crate) fn attempt(
    store: &dyn Store,
    username: &str,
    source: Option<IpAddr>,
    now: DateTime<Utc>,
) -> Result<Option<Throttled>> {
    let mut refused = None;
    store
        .update_throttles(&keys(username, source), now, &mut |stored| {
            let mut counters = Counters::load(stored);
            refused = counters.wait(now);
            if refused.is_some() {
                return stored.to_vec();
            }
            counters.count(now);
            counters.to_states()
        })
        .or_internal()?;
    Ok(refused)
}

/// After a successful attempt made at `now`: forgets the failures of its pair, and takes back
/// the attempt counted against `source` (its other failures stay).
pub(crate) fn succeeded(
    store: &dyn Store,
    username: &str,
    source: Option<IpAddr>,
    now: DateTime<Utc>,
) -> Result<()> {
    store
        .update_throttles(&keys(username, source), now, &mut |stored| {
            let mut counters = Counters::load(stored);
            counters.pair = None;
            if let Some(times) = &mut counters.source
                && let Some(index) = times.iter().rposition(|t| *t >= now)
            {
                times.remove(index);
            }
            counters.to_states()
        })
        .or_internal()
}

/// The throttle keys of an attempt: its pair's, then its address's when known.
fn keys(username: &str, source: Option<IpAddr>) -> Vec<String> {
    let address = source.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    let user = hex::encode(Sha256::digest(username.as_bytes()));
    let pair = format!("login-pair:{address}:{user}");
    std::iter::once(pair)
        .chain(source.map(|ip| format!("login-source:{ip}")))
        .collect()
}

/// The failures of one (username, source) pair.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
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

/// The counters one attempt judges and changes, as read from the store.
#[derive(Debug)]
struct Counters {
    /// The pair's failures; `None` when it has none (or they were forgotten: a pair's state
    /// expires [`FORGET_AFTER`] after its last failure).
    pair: Option<PairFailures>,
    /// The address's failure times, in time order; `None` when the address is unknown.
    source: Option<Vec<DateTime<Utc>>>,
}

impl Counters {
    /// The counters in the states of [`keys`], in their order.
    fn load(stored: &[Option<ThrottleState>]) -> Counters {
        let state = |index: usize| stored.get(index).and_then(Option::as_ref);
        Counters {
            pair: decode(state(0)),
            source: (stored.len() > 1).then(|| decode(state(1)).unwrap_or_default()),
        }
    }

    /// The states to store for the counters, in the order of [`keys`]: each expires when the
    /// rules stop needing it.
    fn to_states(&self) -> Vec<Option<ThrottleState>> {
        let pair = self
            .pair
            .map(|failures| encode(&failures, failures.last + FORGET_AFTER));
        let source = self.source.as_ref().map(|times| {
            times
                .last()
                .map(|last| encode(times, *last + SOURCE_WINDOW))
        });
        std::iter::once(pair).chain(source).collect()
    }

    /// How long an attempt at `now` must wait, if it must; forgets the address's failures
    /// that left the window.
    fn wait(&mut self, now: DateTime<Utc>) -> Option<Throttled> {
        let pair_ready = self.pair.as_ref().map(PairFailures::next_allowed);
        let source_ready = self.source.as_mut().and_then(|times| {
            forget_stale(times, now);
            // Allowed again once the failure that reached the cap leaves the window.
            (times.len() >= MAX_PER_SOURCE)
                .then(|| times[times.len() - MAX_PER_SOURCE] + SOURCE_WINDOW)
        });
        let ready = pair_ready.into_iter().chain(source_ready).max()?;
        (ready > now).then(|| Throttled { wait: ready - now })
    }

    /// Counts a failure at `now`, against the pair and its source.
    fn count(&mut self, now: DateTime<Utc>) {
        let failures = self.pair.get_or_insert(PairFailures {
            count: 0,
            last: now,
        });
        failures.count = failures.count.saturating_add(1);
        // A clock set back must not shorten the wait.
        failures.last = failures.last.max(now);
        if let Some(times) = &mut self.source {
            // Keep the time order `forget_stale` relies on, even with a clock set back.
            let at = times.last().map_or(now, |last| now.max(*last));
            times.push(at);
            // Only the newest MAX_PER_SOURCE times can ever refuse an attempt.
            let excess = times.len().saturating_sub(MAX_PER_SOURCE);
            times.drain(..excess);
        }
    }
}

/// Drops the failures that no longer count against an address at `now` (they are in time
/// order).
fn forget_stale(times: &mut Vec<DateTime<Utc>>, now: DateTime<Utc>) {
    let fresh = times.partition_point(|t| *t + SOURCE_WINDOW <= now);
    times.drain(..fresh);
}

/// A stored counter; one that cannot be read (written by a future dpipe, or damaged) counts
/// as none, so it cannot lock anyone out for good.
fn decode<T: DeserializeOwned>(stored: Option<&ThrottleState>) -> Option<T> {
    let text = &stored?.state;
    serde_json::from_str(text)
        .inspect_err(|error| tracing::warn!(%error, "unreadable login counter ignored"))
        .ok()
}

/// A counter as stored, forgotten from `expires_at` on.
fn encode<T: Serialize>(counter: &T, expires_at: DateTime<Utc>) -> ThrottleState {
    ThrottleState {
        state: serde_json::to_string(counter).expect("counters are plain numbers and times"),
        expires_at,
    }
}

#[cfg(test)]
mod tests;
