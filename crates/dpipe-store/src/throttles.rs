//! Throttle states: small keyed records that expire, read and rewritten atomically by
//! [`crate::Store::update_throttles`]. The registry keeps its failed-login counters in them so
//! that every server instance (and every process on one SQLite file) counts against the same
//! numbers; what a state means is the registry's business, the store only keeps it.
//!
//! This module holds what both backends share: the record, the callback type, the checks of a
//! call and of the callback's answer, and how times are written as sortable text.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::{StoreError, StoreResult};

/// One key's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleState {
    /// What the owner keeps (the registry: a small JSON document).
    pub state: String,
    /// From this instant on the state reads as absent, and the store deletes it.
    pub expires_at: DateTime<Utc>,
}

/// The callback of [`crate::Store::update_throttles`]: the current states of the keys, in the
/// order of the keys (`None`: no state, or an expired one), to their new states (`None`:
/// delete), one per key.
pub type ThrottleUpdate<'a> =
    dyn FnMut(&[Option<ThrottleState>]) -> Vec<Option<ThrottleState>> + 'a;

/// The most expired states of other keys one update deletes. Each update writes at most as
/// many states as it has keys (two for a login), so sweeping more than that keeps the table
/// from growing past the states still alive, at a bounded cost per call.
pub(crate) const SWEEP_LIMIT: i64 = 32;

/// Refuses a call that names a key twice: its two answers could not both be stored.
pub(crate) fn check_keys(keys: &[String]) -> StoreResult<()> {
    let mut seen = HashSet::with_capacity(keys.len());
    match keys.iter().find(|key| !seen.insert(key.as_str())) {
        Some(key) => Err(StoreError::Backend(format!(
            "throttle key {key:?} named twice in one update"
        ))),
        None => Ok(()),
    }
}

/// The writes an update must make: the (key, new state) pairs whose state changed. Refuses an
/// answer that does not give one state per key.
pub(crate) fn changes<'k>(
    keys: &'k [String],
    current: &[Option<ThrottleState>],
    next: Vec<Option<ThrottleState>>,
) -> StoreResult<Vec<(&'k str, Option<ThrottleState>)>> {
    if next.len() != keys.len() {
        return Err(StoreError::Backend(format!(
            "a throttle update answered {} states for {} keys",
            next.len(),
            keys.len()
        )));
    }
    Ok(keys
        .iter()
        .zip(current)
        .zip(next)
        .filter(|((_, old), new)| *old != new)
        .map(|((key, _), new)| (key.as_str(), new))
        .collect())
}

/// An instant as stored: RFC 3339 UTC with nanoseconds, fixed width, so text order is time
/// order and comparisons in SQL need no date functions.
pub(crate) fn timestamp(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Reads an instant written by [`timestamp`].
pub(crate) fn parse_timestamp(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Backend(format!("bad throttle expiry {text:?}: {e}")))
}
