//! The registry's notion of "today", injectable so tests can judge grant expirations at a
//! date of their choosing.

use std::sync::Mutex;

use chrono::NaiveDate;

/// Tells the registry what day it is (UTC).
pub trait Clock: Send + Sync {
    /// Today's date.
    fn today(&self) -> NaiveDate;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn today(&self) -> NaiveDate {
        chrono::Utc::now().date_naive()
    }
}

/// A clock that says whatever date it was last set to.
#[derive(Debug)]
pub struct FixedClock(Mutex<NaiveDate>);

impl FixedClock {
    /// A clock stopped at `date`.
    pub fn new(date: NaiveDate) -> FixedClock {
        FixedClock(Mutex::new(date))
    }

    /// Moves the clock to `date`.
    pub fn set(&self, date: NaiveDate) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = date;
    }
}

impl Clock for FixedClock {
    fn today(&self) -> NaiveDate {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
