//! 認定有効期間 (validity period) rules, docs/domain/certification.md#validity (介護保険法施行規則,
//! applications from 2021-04-01):
//!
//! | application | default | allowed |
//! |---|---|---|
//! | 新規, 区分変更 | 6 months | 3–12 |
//! | 更新, same level | 12 months | 3–48 |
//! | 更新, different level | 12 months | 3–36 |
//!
//! "Same level" also counts 要支援 → 要支援 and 要介護 → 要介護. A municipality may run a stricter
//! cap (名取市 had 36 months until FY2024): [`ValidityPolicy::municipal_cap_months`]. The start is
//! the application date (renewals: the day after the current period ends); that a period
//! starting mid-month also gets the rest of that month is **UNCONFIRMED** in the sources, so it
//! is the parameter [`ValidityPolicy::add_rest_of_start_month`].

use chrono::{Datelike, Days, Months, NaiveDate};

use super::types::{ApplicationType, CareLevel};

/// Operator-set parameters of the validity rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityPolicy {
    /// A stricter municipal maximum in months (e.g. 36), applied on top of the national ranges.
    pub municipal_cap_months: Option<u32>,
    /// A period starting on a day other than the 1st runs N whole months after the rest of the
    /// starting month (so it ends on a month end). UNCONFIRMED rule; on by default.
    pub add_rest_of_start_month: bool,
    /// A 区分変更 decided 非該当 leaves the certification in force to its end (the 非該当 takes
    /// effect the day after), instead of taking effect on the application date
    /// (docs/domain/certification.md#no-validity: UNCONFIRMED; off by default).
    pub level_change_not_applicable_keeps_current: bool,
}

impl Default for ValidityPolicy {
    fn default() -> Self {
        Self {
            municipal_cap_months: None,
            add_rest_of_start_month: true,
            level_change_not_applicable_keeps_current: false,
        }
    }
}

/// The allowed length in months, and the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthRange {
    /// Shortest allowed.
    pub min: u32,
    /// Longest allowed.
    pub max: u32,
    /// Used when the board does not set one.
    pub default: u32,
}

/// True when a renewal keeps "the same level" for the validity rules: the same level, or a move within
/// 要支援 or within 要介護.
pub fn same_level(previous: CareLevel, decided: CareLevel) -> bool {
    previous == decided || (previous.family() == decided.family())
}

/// The allowed range for an application of `kind` decided at `decided`, with the level in force
/// before (`previous`, for renewals).
pub fn allowed_months(
    kind: ApplicationType,
    previous: Option<CareLevel>,
    decided: CareLevel,
    policy: &ValidityPolicy,
) -> MonthRange {
    let national = match kind {
        // 職権 changes the level like a level change; a 転入 carries its period over and is not
        // measured (steps::decide).
        ApplicationType::New
        | ApplicationType::LevelChange
        | ApplicationType::ExOfficio
        | ApplicationType::Transfer => MonthRange { min: 3, max: 12, default: 6 },
        ApplicationType::Renewal => {
            let unchanged = previous.is_some_and(|p| same_level(p, decided));
            MonthRange { min: 3, max: if unchanged { 48 } else { 36 }, default: 12 }
        }
    };
    match policy.municipal_cap_months {
        Some(cap) => {
            let max = national.max.min(cap).max(national.min);
            MonthRange { max, default: national.default.min(max), ..national }
        }
        None => national,
    }
}

/// The last day of a period of `months` months starting on `start` under `policy`.
pub fn period_end(start: NaiveDate, months: u32, policy: &ValidityPolicy) -> Option<NaiveDate> {
    if policy.add_rest_of_start_month && start.day() != 1 {
        // The rest of the starting month, then `months` whole months: ends on a month end.
        let first_of_start_month = start.with_day(1)?;
        first_of_start_month.checked_add_months(Months::new(months + 1))?.checked_sub_days(Days::new(1))
    } else {
        start.checked_add_months(Months::new(months))?.checked_sub_days(Days::new(1))
    }
}

/// Why a validity period is refused; each names the rule of docs/domain/certification.md#validity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidityError {
    /// The period does not start where the rules put it.
    #[error(
        "the validity period must start on {expected} (the application date, or for a renewal the day after the current period ends)"
    )]
    WrongStart {
        /// The required start.
        expected: NaiveDate,
    },
    /// Shorter than the minimum.
    #[error(
        "the validity period is shorter than the {min} months allowed for this application (docs/domain/certification.md#validity)"
    )]
    TooShort {
        /// The minimum in months.
        min: u32,
    },
    /// Longer than the maximum.
    #[error(
        "the validity period is longer than the {max} months allowed for this application (docs/domain/certification.md#validity)"
    )]
    TooLong {
        /// The maximum in months.
        max: u32,
    },
    /// Dates out of the calendar's range.
    #[error("the validity period is out of range")]
    OutOfRange,
}

/// The period to record: `requested` (start, end) checked against the range, or the default.
pub fn decide_period(
    expected_start: NaiveDate,
    requested: Option<(NaiveDate, NaiveDate)>,
    range: MonthRange,
    policy: &ValidityPolicy,
) -> Result<(NaiveDate, NaiveDate), ValidityError> {
    let Some((start, end)) = requested else {
        let end = period_end(expected_start, range.default, policy).ok_or(ValidityError::OutOfRange)?;
        return Ok((expected_start, end));
    };
    if start != expected_start {
        return Err(ValidityError::WrongStart { expected: expected_start });
    }
    let shortest = period_end(start, range.min, policy).ok_or(ValidityError::OutOfRange)?;
    let longest = period_end(start, range.max, policy).ok_or(ValidityError::OutOfRange)?;
    if end < shortest {
        return Err(ValidityError::TooShort { min: range.min });
    }
    if end > longest {
        return Err(ValidityError::TooLong { max: range.max });
    }
    Ok((start, end))
}

/// Where the new period starts: the application date, or for a renewal the day after the
/// current period ends (when that is later).
pub fn expected_start(kind: ApplicationType, application_date: NaiveDate, current_end: Option<NaiveDate>) -> NaiveDate {
    match (kind, current_end.and_then(|e| e.checked_add_days(Days::new(1)))) {
        (ApplicationType::Renewal, Some(next)) if next > application_date => next,
        _ => application_date,
    }
}

/// The day a 非該当 decision takes effect (it has no validity period,
/// docs/domain/certification.md#no-validity): where a period would have started (the application
/// date; for a renewal the day after the current period ends), or for a 区分変更 under
/// [`ValidityPolicy::level_change_not_applicable_keeps_current`] the day after the current
/// period ends.
pub fn not_applicable_from(
    kind: ApplicationType,
    application_date: NaiveDate,
    current_end: Option<NaiveDate>,
    policy: &ValidityPolicy,
) -> NaiveDate {
    let after_current = current_end.and_then(|e| e.checked_add_days(Days::new(1)));
    match (kind, after_current) {
        (ApplicationType::LevelChange, Some(next))
            if policy.level_change_not_applicable_keeps_current && next > application_date =>
        {
            next
        }
        _ => expected_start(kind, application_date, current_end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const PLAIN: ValidityPolicy = ValidityPolicy {
        municipal_cap_months: None,
        add_rest_of_start_month: false,
        level_change_not_applicable_keeps_current: false,
    };

    #[test]
    fn ranges_by_application_type() {
        let p = ValidityPolicy::default();
        let new = allowed_months(ApplicationType::New, None, CareLevel::Care2, &p);
        assert_eq!(new, MonthRange { min: 3, max: 12, default: 6 });
        let change = allowed_months(ApplicationType::LevelChange, Some(CareLevel::Care1), CareLevel::Care3, &p);
        assert_eq!(change, MonthRange { min: 3, max: 12, default: 6 });
        let same = allowed_months(ApplicationType::Renewal, Some(CareLevel::Care2), CareLevel::Care2, &p);
        assert_eq!(same, MonthRange { min: 3, max: 48, default: 12 });
        let different = allowed_months(ApplicationType::Renewal, Some(CareLevel::Support2), CareLevel::Care1, &p);
        assert_eq!(different, MonthRange { min: 3, max: 36, default: 12 });
    }

    #[test]
    fn same_level_counts_moves_within_support_or_within_care() {
        assert!(same_level(CareLevel::Support1, CareLevel::Support2));
        assert!(same_level(CareLevel::Care1, CareLevel::Care4));
        assert!(!same_level(CareLevel::Support2, CareLevel::Care1));
        assert!(same_level(CareLevel::NotApplicable, CareLevel::NotApplicable));
        let p = ValidityPolicy::default();
        assert_eq!(allowed_months(ApplicationType::Renewal, Some(CareLevel::Care5), CareLevel::Care1, &p).max, 48);
        // Without a known previous level a renewal cannot claim the 48 months.
        assert_eq!(allowed_months(ApplicationType::Renewal, None, CareLevel::Care1, &p).max, 36);
    }

    #[test]
    fn a_municipal_cap_lowers_the_maximum_and_the_default() {
        let capped = ValidityPolicy { municipal_cap_months: Some(36), ..ValidityPolicy::default() };
        let same = allowed_months(ApplicationType::Renewal, Some(CareLevel::Care2), CareLevel::Care2, &capped);
        assert_eq!(same.max, 36);
        let tight = ValidityPolicy { municipal_cap_months: Some(6), ..ValidityPolicy::default() };
        let r = allowed_months(ApplicationType::Renewal, Some(CareLevel::Care2), CareLevel::Care2, &tight);
        assert_eq!((r.min, r.max, r.default), (3, 6, 6));
        // A cap above the national maximum changes nothing.
        let loose = ValidityPolicy { municipal_cap_months: Some(60), ..ValidityPolicy::default() };
        assert_eq!(allowed_months(ApplicationType::New, None, CareLevel::Care2, &loose).max, 12);
    }

    #[test]
    fn period_ends_with_and_without_the_rest_of_the_month() {
        let p = ValidityPolicy::default();
        assert_eq!(period_end(d(2026, 4, 1), 6, &p), Some(d(2026, 9, 30)));
        assert_eq!(period_end(d(2026, 4, 15), 6, &p), Some(d(2026, 10, 31)));
        assert_eq!(period_end(d(2026, 4, 15), 6, &PLAIN), Some(d(2026, 10, 14)));
        assert_eq!(period_end(d(2026, 1, 31), 1, &PLAIN), Some(d(2026, 2, 27)));
        assert_eq!(period_end(d(2026, 12, 20), 12, &p), Some(d(2027, 12, 31)));
    }

    #[test]
    fn requested_periods_are_checked_at_both_edges() {
        let p = ValidityPolicy::default();
        let range = MonthRange { min: 3, max: 12, default: 6 };
        let start = d(2026, 4, 15);
        // Exactly 3 and exactly 12 months (plus the rest of April) are allowed.
        assert!(decide_period(start, Some((start, d(2026, 7, 31))), range, &p).is_ok());
        assert!(decide_period(start, Some((start, d(2027, 4, 30))), range, &p).is_ok());
        assert_eq!(
            decide_period(start, Some((start, d(2026, 7, 30))), range, &p),
            Err(ValidityError::TooShort { min: 3 })
        );
        assert_eq!(
            decide_period(start, Some((start, d(2027, 5, 1))), range, &p),
            Err(ValidityError::TooLong { max: 12 })
        );
        assert_eq!(
            decide_period(start, Some((d(2026, 4, 16), d(2026, 10, 31))), range, &p),
            Err(ValidityError::WrongStart { expected: start })
        );
        assert_eq!(decide_period(start, None, range, &p), Ok((start, d(2026, 10, 31))));
    }

    #[test]
    fn forty_eight_months_only_for_an_unchanged_renewal() {
        let p = ValidityPolicy::default();
        let start = d(2026, 5, 1);
        let same = allowed_months(ApplicationType::Renewal, Some(CareLevel::Care3), CareLevel::Care2, &p);
        assert_eq!(decide_period(start, Some((start, d(2030, 4, 30))), same, &p), Ok((start, d(2030, 4, 30))));
        let changed = allowed_months(ApplicationType::Renewal, Some(CareLevel::Support2), CareLevel::Care2, &p);
        assert_eq!(
            decide_period(start, Some((start, d(2030, 4, 30))), changed, &p),
            Err(ValidityError::TooLong { max: 36 })
        );
        assert!(decide_period(start, Some((start, d(2029, 4, 30))), changed, &p).is_ok());
    }

    #[test]
    fn renewals_start_after_the_current_period() {
        assert_eq!(expected_start(ApplicationType::Renewal, d(2026, 3, 1), Some(d(2026, 3, 31))), d(2026, 4, 1));
        // Filed after expiry (late): from the application date.
        assert_eq!(expected_start(ApplicationType::Renewal, d(2026, 4, 10), Some(d(2026, 3, 31))), d(2026, 4, 10));
        assert_eq!(expected_start(ApplicationType::LevelChange, d(2026, 3, 1), Some(d(2026, 3, 31))), d(2026, 3, 1));
        assert_eq!(expected_start(ApplicationType::New, d(2026, 3, 1), None), d(2026, 3, 1));
    }

    #[test]
    fn not_applicable_takes_effect_where_a_period_would_start() {
        let p = ValidityPolicy::default();
        let end = Some(d(2026, 6, 30));
        assert_eq!(not_applicable_from(ApplicationType::New, d(2026, 4, 10), None, &p), d(2026, 4, 10));
        assert_eq!(not_applicable_from(ApplicationType::Renewal, d(2026, 5, 10), end, &p), d(2026, 7, 1));
        assert_eq!(not_applicable_from(ApplicationType::LevelChange, d(2026, 4, 10), end, &p), d(2026, 4, 10));
        let keeps = ValidityPolicy { level_change_not_applicable_keeps_current: true, ..p };
        assert_eq!(not_applicable_from(ApplicationType::LevelChange, d(2026, 4, 10), end, &keeps), d(2026, 7, 1));
        // Nothing in force any more: from the application date either way.
        assert_eq!(not_applicable_from(ApplicationType::LevelChange, d(2026, 8, 10), end, &keeps), d(2026, 8, 10));
    }
}
