//! A circuit breaker per service: after `failures` consecutive failures (no connection,
//! UNAVAILABLE, timeout) calls fail at once for `open_for`, without touching the network, so a
//! dead service costs its callers microseconds instead of a connect timeout each. Then one probe
//! call is let through: success closes the breaker, failure opens it again.

use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; others are refused until it reports.
    HalfOpen,
}

/// What the breaker says about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead.
    Allowed,
    /// Refused: the service is considered down; retry after this long.
    Rejected(Duration),
}

/// The breaker of one service.
#[derive(Debug)]
pub(crate) struct Breaker {
    state: Mutex<State>,
    threshold: u32,
    open_for: Duration,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, open_for: Duration) -> Self {
        Self { state: Mutex::new(State::Closed { failures: 0 }), threshold: threshold.max(1), open_for }
    }

    /// Decides whether a call may go to the service now.
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        let mut state = self.state.lock();
        match *state {
            State::Closed { .. } => Admission::Allowed,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Admission::Allowed
            }
            State::Open { until } => Admission::Rejected(until - now),
            State::HalfOpen => Admission::Rejected(self.open_for),
        }
    }

    /// Records the outcome of an admitted call.
    pub(crate) fn record(&self, success: bool, now: Instant) {
        let mut state = self.state.lock();
        *state = match (*state, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 < self.threshold => {
                State::Closed { failures: failures + 1 }
            }
            (_, false) => {
                if !matches!(*state, State::Open { .. }) {
                    tracing::warn!(open_ms = self.open_for.as_millis() as u64, "circuit breaker opened");
                }
                State::Open { until: now + self.open_for }
            }
        };
    }

    /// True while calls are refused without trying.
    pub(crate) fn is_open(&self, now: Instant) -> bool {
        match *self.state.lock() {
            State::Open { until } => now < until,
            State::HalfOpen => true,
            State::Closed { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_probes_after_the_pause() {
        let t0 = Instant::now();
        let breaker = Breaker::new(3, Duration::from_secs(5));
        breaker.record(false, t0);
        breaker.record(false, t0);
        breaker.record(true, t0); // a success resets the count
        breaker.record(false, t0);
        breaker.record(false, t0);
        assert_eq!(breaker.admit(t0), Admission::Allowed);
        breaker.record(false, t0);
        assert!(breaker.is_open(t0));
        assert_eq!(breaker.admit(t0 + Duration::from_secs(1)), Admission::Rejected(Duration::from_secs(4)));

        // After the pause one probe goes; the rest wait for it.
        let later = t0 + Duration::from_secs(5);
        assert_eq!(breaker.admit(later), Admission::Allowed);
        assert!(matches!(breaker.admit(later), Admission::Rejected(_)));
        breaker.record(false, later);
        assert!(breaker.is_open(later));

        let again = later + Duration::from_secs(5);
        assert_eq!(breaker.admit(again), Admission::Allowed);
        breaker.record(true, again);
        assert!(!breaker.is_open(again));
        assert_eq!(breaker.admit(again), Admission::Allowed);
    }
}
