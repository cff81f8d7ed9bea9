//! "Now", injectable: the service asks its clock, so a deployment can be checked against a
//! given day (a rehearsal of the deadline) and tests can stand on either side of it.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use parking_lot::RwLock;

/// A source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Today in JST.
    fn today_jst(&self) -> NaiveDate {
        kaigo_platform::time::jst_date(self.now())
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that shows a set instant until it is moved.
#[derive(Debug, Clone)]
pub struct SetClock(Arc<RwLock<DateTime<Utc>>>);

impl SetClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(RwLock::new(at)))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.write() = at;
    }
}

impl Clock for SetClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.read()
    }
}
