//! A retry budget: retries may add at most `ratio` of the calls, plus `min_per_sec`, so that
//! retries cannot multiply the load on a struggling service.

use parking_lot::Mutex;
use tokio::time::Instant;

/// Thousandths of a retry, so small ratios stay exact.
const UNIT: f64 = 1000.0;

#[derive(Debug)]
struct Balance {
    /// Earned by calls, spent by retries.
    earned: f64,
    /// The per-second allowance, refilled each second.
    floor: f64,
    second: Instant,
}

/// Shared by every call to one service.
#[derive(Debug)]
pub(crate) struct RetryBudget {
    balance: Mutex<Balance>,
    ratio: f64,
    min_per_sec: f64,
}

impl RetryBudget {
    pub(crate) fn new(ratio: f64, min_per_sec: u32) -> Self {
        let min_per_sec = f64::from(min_per_sec) * UNIT;
        Self {
            balance: Mutex::new(Balance { earned: 0.0, floor: min_per_sec, second: Instant::now() }),
            ratio,
            min_per_sec,
        }
    }

    /// A call was made: it earns `ratio` of a retry (capped at ten seconds' worth of floor).
    pub(crate) fn deposit(&self) {
        let mut balance = self.balance.lock();
        balance.earned = (balance.earned + self.ratio * UNIT).min(100.0 * UNIT + self.min_per_sec * 10.0);
    }

    /// Takes one retry from the budget, if there is one.
    pub(crate) fn withdraw(&self, now: Instant) -> bool {
        let mut balance = self.balance.lock();
        if now.saturating_duration_since(balance.second).as_secs() >= 1 {
            balance.second = now;
            balance.floor = self.min_per_sec;
        }
        if balance.floor >= UNIT {
            balance.floor -= UNIT;
            true
        } else if balance.earned >= UNIT {
            balance.earned -= UNIT;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn retries_are_a_fraction_of_calls_plus_a_floor() {
        let budget = RetryBudget::new(0.1, 2);
        let now = Instant::now();
        assert!(budget.withdraw(now));
        assert!(budget.withdraw(now));
        assert!(!budget.withdraw(now), "the floor is spent and nothing was earned");
        for _ in 0..20 {
            budget.deposit();
        }
        assert!(budget.withdraw(now));
        assert!(budget.withdraw(now));
        assert!(!budget.withdraw(now), "20 calls at 10 % earn two retries");
        assert!(budget.withdraw(now + Duration::from_secs(1)), "the floor comes back each second");
    }
}
