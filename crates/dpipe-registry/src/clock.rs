//! The registry's notion of "now", injectable so tests can judge grant expirations at a date,
//! and login rate limits at an instant, of their choosing.

use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// Tells the registry what time it is (UTC).
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Today's date.
    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A stopped clock that says whatever it was last set to, and moves only when told.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock stopped at midnight (UTC) of `date`.
    pub fn new(date: NaiveDate) -> FixedClock {
        FixedClock(Mutex::new(midnight(date)))
    }

    /// Moves the clock to midnight (UTC) of `date`.
    pub fn set(&self, date: NaiveDate) {
        *self.lock() = midnight(date);
    }

    /// Moves the clock forward by `by` (backward when negative).
    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.lock();
        *now += by;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_told() {
        let day = NaiveDate::from_ymd_opt(2026, 6, 15).unwrap();
        let clock = FixedClock::new(day);
        assert_eq!(clock.today(), day);
        clock.advance(TimeDelta::hours(23));
        assert_eq!(clock.today(), day);
        clock.advance(TimeDelta::hours(1));
        assert_eq!(clock.today(), day.succ_opt().unwrap());
        clock.set(day);
        assert_eq!(clock.now(), midnight(day));
    }
}
