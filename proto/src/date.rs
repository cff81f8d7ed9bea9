//! Conversions between `google.type.Date` and `chrono::NaiveDate`.
//!
//! Calendar dates on the wire are JST calendar dates; these helpers only check that the date
//! exists (2025-02-30 does not) and lies in [`YEARS`], and leave the meaning to the caller.

use chrono::{Datelike, NaiveDate};

use crate::google::r#type::Date;

/// Why a `google.type.Date` is not a usable calendar date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// Year, month or day is zero: the partial dates google.type.Date allows are not accepted.
    Incomplete,
    /// The fields name a day that does not exist, such as 2025-02-30.
    Impossible,
    /// The year is outside [`YEARS`]: no long-term-care record is dated there, and such
    /// dates only reach storage and date arithmetic as mistakes.
    OutOfRange,
}

/// The years a date on the wire may have.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DateError::Incomplete => f.write_str("year, month and day are all required"),
            DateError::Impossible => f.write_str("no such calendar date"),
            DateError::OutOfRange => f.write_str("the year must be between 1900 and 2200"),
        }
    }
}

impl std::error::Error for DateError {}

/// Converts a wire date into a calendar date, refusing partial and impossible dates and years
/// outside [`YEARS`].
pub fn to_naive_date(date: &Date) -> Result<NaiveDate, DateError> {
    if date.year == 0 || date.month == 0 || date.day == 0 {
        return Err(DateError::Incomplete);
    }
    if !YEARS.contains(&date.year) {
        return Err(DateError::OutOfRange);
    }
    let (Ok(month), Ok(day)) = (u32::try_from(date.month), u32::try_from(date.day)) else {
        return Err(DateError::Impossible);
    };
    NaiveDate::from_ymd_opt(date.year, month, day).ok_or(DateError::Impossible)
}

/// Converts a calendar date into its wire form.
pub fn from_naive_date(date: NaiveDate) -> Date {
    Date {
        year: date.year(),
        // month() is 1..=12 and day() 1..=31: both fit in i32.
        month: i32::try_from(date.month()).unwrap_or_default(),
        day: i32::try_from(date.day()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_leap_day() {
        let day = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap();
        assert_eq!(to_naive_date(&from_naive_date(day)), Ok(day));
    }

    #[test]
    fn refuses_impossible_and_partial_dates() {
        let bad = Date { year: 2025, month: 2, day: 29 };
        assert_eq!(to_naive_date(&bad), Err(DateError::Impossible));
        let partial = Date { year: 2025, month: 0, day: 1 };
        assert_eq!(to_naive_date(&partial), Err(DateError::Incomplete));
        let negative = Date { year: 2025, month: -1, day: 1 };
        assert_eq!(to_naive_date(&negative), Err(DateError::Impossible));
    }

    #[test]
    fn refuses_years_outside_1900_to_2200() {
        for year in [1, 1899, 2201, 9999, -5] {
            assert_eq!(to_naive_date(&Date { year, month: 1, day: 1 }), Err(DateError::OutOfRange), "{year}");
        }
        for year in [1900, 2200] {
            assert!(to_naive_date(&Date { year, month: 12, day: 31 }).is_ok(), "{year}");
        }
    }
}
