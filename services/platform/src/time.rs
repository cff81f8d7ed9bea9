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
}
