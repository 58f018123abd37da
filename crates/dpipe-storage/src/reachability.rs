//! Whether a storage is still within reach during a run. Each call of the run (a transfer,
//! retried whole) says whether it reached the storage; a call that could not reach it (see
//! [`Error::is_unreachable`]) is tried again after a growing pause, until the storage has
//! been out of reach for [`Tuning::give_up_after`] with no call reaching it in between. Then
//! the run gives up: every call, waiting or still to come, ends at once with the same one
//! error, instead of each file failing on its own after its own retries (which, over
//! thousands of files, meant minutes of silence and a flood of identical errors). A short
//! outage, such as a server restarting, is waited out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::{Error, ErrorKind, Result};
use crate::operator::Tuning;

/// The reachability of one storage over one run; shared by the run's concurrent calls.
#[derive(Debug)]
pub struct Reachability {
    give_up_after: Duration,
    first_pause: Duration,
    longest_pause: Duration,
    state: Mutex<State>,
    /// Turns true when the run gives up: the tries and pauses under way end then.
    stopped: watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct State {
    /// When the current streak of failures to reach the storage began; `None` while calls
    /// reach it.
    down_since: Option<Instant>,
    /// Why the run gave up, once it has.
    gave_up: Option<String>,
}

/// What to do after a call that could not reach the storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Try again after `pause`; the storage has been out of reach for `down_for`.
    Retry { down_for: Duration, pause: Duration },
    /// The storage has been out of reach for the whole bound: give up.
    GiveUp,
}

impl Reachability {
    /// Reachability bounded by `tuning`'s `give_up_after`, pausing between tries as its
    /// backoff does (from `min_backoff`, doubling, up to `max_backoff`).
    pub fn new(tuning: &Tuning) -> Reachability {
        Reachability {
            give_up_after: tuning.give_up_after,
            first_pause: tuning.min_backoff,
            longest_pause: tuning.max_backoff,
            state: Mutex::default(),
            stopped: watch::Sender::new(false),
        }
    }

    /// Runs `call` until it reaches the storage (its result is then returned, whatever it
    /// is), or until the run gives up (see the module docs): then the error says why, with
    /// how long the storage was out of reach. `waiting` hears how long the storage has been
    /// out of reach before each pause; `back` that a call reached it again after a failure.
    /// A try or a pause under way when the run gives up (in another call) is dropped.
    pub async fn call<T, Fut>(
        &self,
        mut call: impl FnMut() -> Fut,
        waiting: impl Fn(Duration),
        back: impl Fn(),
    ) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        let mut stopped = self.stopped.subscribe();
        for attempt in 0u32.. {
            if let Some(why) = self.gave_up() {
                return Err(Error::new(ErrorKind::Transient, why));
            }
            let started = Instant::now();
            let tried = tokio::select! {
                tried = call() => tried,
                _ = stopped.wait_for(|gave_up| *gave_up) => continue,
            };
            let error = match tried {
                Err(e) if e.is_unreachable() => e,
                answered => {
                    if self.reached() {
                        back();
                    }
                    return answered;
                }
            };
            match self.failed(&error, attempt, started, Instant::now()) {
                Verdict::Retry { down_for, pause } => {
                    waiting(down_for);
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        _ = stopped.wait_for(|gave_up| *gave_up) => {}
                    }
                }
                Verdict::GiveUp => {}
            }
        }
        unreachable!("the attempts of one call never run out")
    }

    /// Why the run gave up (the last failure and how long it lasted), once it has.
    pub fn gave_up(&self) -> Option<String> {
        self.lock().gave_up.clone()
    }

    /// A call reached the storage: a streak of failures, if any, is over. Returns whether
    /// there was one (and the run had not given up).
    fn reached(&self) -> bool {
        let mut state = self.lock();
        state.gave_up.is_none() && state.down_since.take().is_some()
    }

    /// The `attempt`th try (from 0) of a call, `started` then, failed at `now` with `error`,
    /// which could not reach the storage. The run gives up once another try like this one
    /// (OpenDAL's own quick retries included) would end past the bound: so a dead storage
    /// ends the run about one try after the bound, not a pause and a try later.
    fn failed(&self, error: &Error, attempt: u32, started: Instant, now: Instant) -> Verdict {
        let mut state = self.lock();
        if state.gave_up.is_some() {
            return Verdict::GiveUp;
        }
        let down_since = *state.down_since.get_or_insert(now);
        let down_for = now.saturating_duration_since(down_since);
        let took = now.saturating_duration_since(started);
        let left = self.give_up_after.saturating_sub(down_for + took);
        if left.is_zero() {
            // Out of reach since the first failed try began, at least.
            state.gave_up = Some(format!(
                "{error}; out of reach for {} s",
                (down_for + took).as_secs()
            ));
            self.stopped.send_replace(true);
            return Verdict::GiveUp;
        }
        let backoff = self
            .first_pause
            .saturating_mul(2u32.saturating_pow(attempt.min(16)))
            .min(self.longest_pause);
        // The last try ends when the bound is reached, not a whole pause after it.
        Verdict::Retry {
            down_for,
            pause: backoff.min(left),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one store.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn tuning(give_up_after: Duration) -> Tuning {
        Tuning {
            give_up_after,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            ..Tuning::default()
        }
    }

    fn refused() -> Error {
        Error::new(ErrorKind::Transient, "cannot reach x: connection refused")
    }

    #[test]
    fn a_streak_gives_up_only_at_the_bound() {
        let reach = Reachability::new(&tuning(Duration::from_secs(3)));
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        let retry = |down, pause| Verdict::Retry {
            down_for: Duration::from_millis(down),
            pause: Duration::from_millis(pause),
        };
        assert_eq!(reach.failed(&refused(), 0, at(0), at(0)), retry(0, 100));
        assert_eq!(
            reach.failed(&refused(), 1, at(500), at(500)),
            retry(500, 200)
        );
        // The pause grows up to the longest, and never past the bound.
        assert_eq!(
            reach.failed(&refused(), 5, at(1000), at(1000)),
            retry(1000, 400)
        );
        assert_eq!(
            reach.failed(&refused(), 5, at(2900), at(2900)),
            retry(2900, 100)
        );
        assert_eq!(reach.gave_up(), None);
        assert_eq!(
            reach.failed(&refused(), 6, at(3000), at(3000)),
            Verdict::GiveUp
        );
        assert_eq!(
            reach.gave_up().as_deref(),
            Some("cannot reach x: connection refused; out of reach for 3 s")
        );
        // Once given up, always: a late success changes nothing.
        assert!(!reach.reached());
        assert_eq!(
            reach.failed(&refused(), 0, at(3001), at(3001)),
            Verdict::GiveUp
        );
    }

    #[test]
    fn the_run_gives_up_when_another_try_would_end_past_the_bound() {
        let reach = Reachability::new(&tuning(Duration::from_secs(3)));
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        // Each try takes a second (OpenDAL's own retries): the streak begins at the first
        // failure, and the last try must end within the bound.
        assert_eq!(
            reach.failed(&refused(), 0, at(0), at(1000)),
            Verdict::Retry {
                down_for: Duration::ZERO,
                pause: Duration::from_millis(100)
            }
        );
        assert!(matches!(
            reach.failed(&refused(), 1, at(1100), at(2100)),
            Verdict::Retry { pause, .. } if pause == Duration::from_millis(200)
        ));
        assert_eq!(
            reach.failed(&refused(), 2, at(2300), at(3300)),
            Verdict::GiveUp
        );
    }

    #[test]
    fn a_call_that_reaches_the_storage_ends_the_streak() {
        let reach = Reachability::new(&tuning(Duration::from_secs(3)));
        let start = Instant::now();
        let at = |s| start + Duration::from_secs(s);
        assert!(matches!(
            reach.failed(&refused(), 0, at(0), at(0)),
            Verdict::Retry { .. }
        ));
        assert!(matches!(
            reach.failed(&refused(), 0, at(2), at(2)),
            Verdict::Retry { .. }
        ));
        assert!(reach.reached(), "a streak was on");
        assert!(!reach.reached(), "no streak any more");
        // A new streak counts from its own start.
        assert!(matches!(
            reach.failed(&refused(), 0, at(4), at(4)),
            Verdict::Retry { down_for, .. } if down_for.is_zero()
        ));
        assert!(matches!(
            reach.failed(&refused(), 0, at(6), at(6)),
            Verdict::Retry { .. }
        ));
        assert_eq!(reach.failed(&refused(), 0, at(7), at(7)), Verdict::GiveUp);
    }

    #[tokio::test]
    async fn calls_are_retried_until_they_reach_the_storage() {
        let reach = Reachability::new(&tuning(Duration::from_secs(60)));
        let tries = Cell::new(0);
        let waits = Cell::new(0);
        let backs = Cell::new(0);
        let result = reach
            .call(
                || {
                    tries.set(tries.get() + 1);
                    let outcome = if tries.get() < 3 {
                        Err(unreachable_error())
                    } else {
                        Ok(tries.get())
                    };
                    async move { outcome }
                },
                |_| waits.set(waits.get() + 1),
                || backs.set(backs.get() + 1),
            )
            .await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!((waits.get(), backs.get()), (2, 1));
        // An error from a storage that answered is the call's own: not retried.
        let answered = reach
            .call(
                || async { Err::<(), _>(Error::new(ErrorKind::NotFound, "gone")) },
                |_| panic!("not a failure to reach the storage"),
                || {},
            )
            .await;
        assert_eq!(answered.unwrap_err().kind(), ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn after_giving_up_every_call_ends_at_once() {
        let reach = Reachability::new(&tuning(Duration::ZERO));
        let first = reach
            .call(
                || async { Err::<(), _>(unreachable_error()) },
                |_| {},
                || {},
            )
            .await
            .unwrap_err();
        assert_eq!(first.kind(), ErrorKind::Transient);
        assert!(first.message().contains("out of reach for 0 s"), "{first}");
        let next: Result<()> = reach
            .call(
                || async { panic!("not called once given up") },
                |_| {},
                || {},
            )
            .await;
        assert_eq!(next.unwrap_err().message(), first.message());
    }

    #[tokio::test]
    async fn giving_up_ends_the_tries_under_way() {
        let reach = Reachability::new(&tuning(Duration::ZERO));
        let hanging = reach.call(std::future::pending::<Result<()>>, |_| {}, || {});
        let failing = async {
            // Once the hanging call is under way.
            tokio::task::yield_now().await;
            reach
                .call(
                    || async { Err::<(), _>(unreachable_error()) },
                    |_| {},
                    || {},
                )
                .await
        };
        let (hung, failed) = tokio::join!(hanging, failing);
        assert_eq!(hung.unwrap_err().message(), failed.unwrap_err().message());
    }

    /// A real failure to reach the storage: OpenDAL's error of a refused connection.
    fn unreachable_error() -> Error {
        let os = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let dal =
            opendal::Error::new(opendal::ErrorKind::Unexpected, "send http request").set_source(os);
        Error::from_opendal(dal, "put", "a.csv")
    }
}
