//! Calendar dates in Japan Standard Time.
//!
//! Certificates, deadlines and validity periods are JST calendar dates: "today" is today in
//! Tokyo, whatever the server's time zone.

use chrono::{FixedOffset, NaiveDate, Utc};

/// JST, UTC+9 (Japan has no daylight saving time).
pub fn jst() -> FixedOffset {
    // 9 hours is well inside the ±24 h range FixedOffset accepts.
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| Utc.fix())
}

use chrono::Offset;

/// Today's date in JST.
pub fn today_jst() -> NaiveDate {
    Utc::now().with_timezone(&jst()).date_naive()
}

/// The JST calendar date of an instant.
pub fn jst_date(instant: chrono::DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&jst()).date_naive()
}

/// "Now", injected into every service: workflows, deadlines and audit timestamps ask their
/// clock, so tests (and a rehearsal of a deadline) can stand on either side of a date without
/// waiting for the calendar. Services hold an `Arc<dyn Clock>`.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> chrono::DateTime<Utc>;

    /// Today's calendar date in JST.
    fn today_jst(&self) -> NaiveDate {
        jst_date(self.now())
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        Utc::now()
    }
}

/// The clock a service uses unless one is injected.
pub fn system_clock() -> std::sync::Arc<dyn Clock> {
    std::sync::Arc::new(SystemClock)
}

/// A clock that shows a set instant until it is moved (tests, demos, rehearsals). Clones share
/// the instant: move the test's copy and the service sees it.
#[derive(Debug, Clone)]
pub struct SetClock(std::sync::Arc<parking_lot::RwLock<chrono::DateTime<Utc>>>);

impl SetClock {
    /// A clock showing `at`.
    pub fn new(at: chrono::DateTime<Utc>) -> Self {
        Self(std::sync::Arc::new(parking_lot::RwLock::new(at)))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: chrono::DateTime<Utc>) {
        *self.0.write() = at;
    }
}

impl Clock for SetClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        *self.0.read()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn late_evening_utc_is_the_next_day_in_tokyo() {
        let instant = Utc.with_ymd_and_hms(2026, 3, 31, 15, 30, 0).unwrap();
        assert_eq!(jst_date(instant), NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
        let before = Utc.with_ymd_and_hms(2026, 3, 31, 14, 59, 59).unwrap();
        assert_eq!(jst_date(before), NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
    }

    #[test]
    fn a_set_clock_is_shared_by_its_clones() {
        let clock = SetClock::new(Utc.with_ymd_and_hms(2026, 3, 31, 14, 0, 0).unwrap());
        let service_side: std::sync::Arc<dyn Clock> = std::sync::Arc::new(clock.clone());
        assert_eq!(service_side.today_jst(), NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
        clock.set(Utc.with_ymd_and_hms(2026, 3, 31, 15, 0, 0).unwrap());
        assert_eq!(service_side.today_jst(), NaiveDate::from_ymd_opt(2026, 4, 1).unwrap());
    }
}
