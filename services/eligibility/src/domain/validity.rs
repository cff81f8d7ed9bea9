//! Rules a write must satisfy before it is stored. Each failure names its rule, so the API can
//! answer FAILED_PRECONDITION with a reason a municipal system can act on.

use chrono::{Datelike, Months, NaiveDate};

use super::timeline::{CareLevel, Detail, Record};

/// A broken rule: a stable reason code and an explanation (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// UPPER_SNAKE reason, e.g. `PERIOD_OVERLAP`.
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

fn violation(reason: &'static str, message: impl Into<String>) -> RuleViolation {
    RuleViolation { reason, message: message.into() }
}

/// Limits on certification validity (docs/domain/certification.md#validity). The national
/// maximum is 48 months (a renewal at the same level); a municipality may run a stricter cap, so
/// both ends are parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityRules {
    /// Shortest validity, months (3).
    pub min_months: u32,
    /// Longest validity, months (48, or a municipal cap such as 36).
    pub max_months: u32,
    /// A period starting mid-month gets the rest of that month on top of its months
    /// (UNCONFIRMED standard rule; on by default).
    pub mid_month_start_adds_rest_of_month: bool,
}

impl Default for ValidityRules {
    fn default() -> Self {
        Self { min_months: 3, max_months: 48, mid_month_start_adds_rest_of_month: true }
    }
}

/// The last day of a validity of `months` months starting on `start`.
pub fn validity_end(start: NaiveDate, months: u32, rules: &ValidityRules) -> Option<NaiveDate> {
    let anchor = if rules.mid_month_start_adds_rest_of_month && start.day() != 1 {
        // The rest of the starting month is added: count the months from the next 1st.
        start.with_day(1)?.checked_add_months(Months::new(1))?
    } else {
        start
    };
    anchor.checked_add_months(Months::new(months))?.pred_opt()
}

/// Whether `[start, end]` is a validity the rules allow.
pub fn check_certification_validity(
    start: NaiveDate,
    end: Option<NaiveDate>,
    rules: &ValidityRules,
) -> Result<(), RuleViolation> {
    let Some(end) = end else {
        return Err(violation(
            "CERTIFICATION_VALIDITY_OPEN",
            "a certification's validity must have an end date (docs/domain/certification.md#validity)",
        ));
    };
    let shortest = validity_end(start, rules.min_months, rules);
    let longest = validity_end(start, rules.max_months, rules);
    match (shortest, longest) {
        (Some(shortest), Some(longest)) if end >= shortest && end <= longest => Ok(()),
        _ => Err(violation(
            "CERTIFICATION_VALIDITY_OUT_OF_RANGE",
            format!(
                "validity must last {} to {} months from its start (介護保険法施行規則; docs/domain/certification.md#validity)",
                rules.min_months, rules.max_months
            ),
        )),
    }
}

/// 負担割合 periods run within one year from August 1 to July 31 (docs/domain/eligibility.md#copayment).
pub fn check_copayment_period(start: NaiveDate, end: Option<NaiveDate>) -> Result<(), RuleViolation> {
    let year_start = if start.month() >= 8 { start.year() } else { start.year() - 1 };
    let last_day = NaiveDate::from_ymd_opt(year_start + 1, 7, 31);
    match (end, last_day) {
        (Some(end), Some(last)) if end <= last => Ok(()),
        _ => Err(violation(
            "COPAYMENT_PERIOD_CROSSES_JULY_31",
            "a co-payment ratio applies from August 1 to July 31; record one period per year",
        )),
    }
}

/// `start` must not be after `end`.
pub fn check_order(start: NaiveDate, end: Option<NaiveDate>) -> Result<(), RuleViolation> {
    if end.is_some_and(|end| end < start) {
        Err(violation("PERIOD_ENDS_BEFORE_START", "the period ends before it starts"))
    } else {
        Ok(())
    }
}

/// Same-kind active periods never overlap. `ignore` is a record being replaced.
pub fn check_no_overlap(
    existing: &[Record],
    detail: &Detail,
    start: NaiveDate,
    end: Option<NaiveDate>,
    ignore: Option<i64>,
) -> Result<(), RuleViolation> {
    let kind = detail.kind();
    match existing.iter().find(|r| r.detail.kind() == kind && Some(r.id) != ignore && r.overlaps(start, end)) {
        Some(other) => Err(violation(
            "PERIOD_OVERLAP",
            format!("overlaps active record {} of the same kind; close or correct it first", other.id),
        )),
        None => Ok(()),
    }
}

/// Every rule for a new or replacing record.
pub fn check_record(
    existing: &[Record],
    detail: &Detail,
    start: NaiveDate,
    end: Option<NaiveDate>,
    replacing: Option<i64>,
    rules: &ValidityRules,
) -> Result<(), RuleViolation> {
    check_order(start, end)?;
    match detail {
        // 非該当 has no validity period and 事業対象者 no fixed end: the 3–48-month rule applies
        // to neither, and either may stay open until a later decision
        // (docs/domain/certification.md#no-validity).
        Detail::Certification { level: CareLevel::NotApplicable | CareLevel::ProgrammeEligible, .. } => {}
        Detail::Certification { .. } => check_certification_validity(start, end, rules)?,
        Detail::Copayment { .. } => check_copayment_period(start, end)?,
        _ => {}
    }
    check_no_overlap(existing, detail, start, end, replacing)
}

/// The first day a person is 第1号被保険者 by age: the day before the 65th birthday, the day
/// the law counts the age as reached (docs/domain/eligibility.md#category-at-65). Counting from
/// the day before the birth date keeps 29 February right: that age is reached on 28 February.
pub fn first_category_from(birth: NaiveDate) -> Option<NaiveDate> {
    birth.pred_opt()?.checked_add_months(Months::new(65 * 12))
}

/// 第2号被保険者 always pay 1割 (docs/domain/eligibility.md#copayment): a 負担割合 above 1割 for a
/// period that starts before the person's 第1号 day is refused. Without a birth date there is
/// nothing to check.
pub fn check_copayment_for_age(
    detail: &Detail,
    start: NaiveDate,
    birth: Option<NaiveDate>,
) -> Result<(), RuleViolation> {
    let Detail::Copayment { tenths } = detail else {
        return Ok(());
    };
    let Some(first_day) = birth.and_then(first_category_from) else {
        return Ok(());
    };
    if *tenths > 1 && start < first_day {
        return Err(violation(
            "SECOND_CATEGORY_PAYS_ONE_TENTH",
            "a 負担割合 starting before the person turns 65 (第2号被保険者) must be 1割; 2割 and 3割 apply from 65",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timeline::CareLevel;

    #[test]
    fn the_first_category_starts_the_day_before_the_65th_birthday() {
        assert_eq!(first_category_from(d(1960, 8, 1)), Some(d(2025, 7, 31)));
        assert_eq!(first_category_from(d(1960, 2, 29)), Some(d(2025, 2, 28)));
        assert_eq!(first_category_from(d(1960, 3, 1)), Some(d(2025, 2, 28)));
        let two = Detail::Copayment { tenths: 2 };
        let one = Detail::Copayment { tenths: 1 };
        // Born 1960-08-02: 第1号 from 2025-08-01, so an August ratio of 2割 is allowed.
        assert_eq!(check_copayment_for_age(&two, d(2025, 8, 1), Some(d(1960, 8, 2))), Ok(()));
        // Born 1960-08-03: still 第2号 on 2025-08-01: only 1割.
        let err = check_copayment_for_age(&two, d(2025, 8, 1), Some(d(1960, 8, 3))).unwrap_err();
        assert_eq!(err.reason, "SECOND_CATEGORY_PAYS_ONE_TENTH");
        assert_eq!(check_copayment_for_age(&one, d(2025, 8, 1), Some(d(1970, 1, 1))), Ok(()));
        // No birth date, or another kind: nothing to check.
        assert_eq!(check_copayment_for_age(&two, d(2025, 8, 1), None), Ok(()));
        let cost = Detail::CostLimit {
            stage: crate::domain::timeline::CostStage::First,
            caps: crate::domain::timeline::DailyCaps::default(),
        };
        assert_eq!(check_copayment_for_age(&cost, d(2025, 8, 1), Some(d(1990, 1, 1))), Ok(()));
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn validity_from_the_first_counts_whole_months() {
        let rules = ValidityRules::default();
        assert_eq!(validity_end(d(2025, 4, 1), 6, &rules), Some(d(2025, 9, 30)));
        assert_eq!(validity_end(d(2025, 4, 1), 48, &rules), Some(d(2029, 3, 31)));
    }

    #[test]
    fn a_mid_month_start_adds_the_rest_of_that_month() {
        let rules = ValidityRules::default();
        assert_eq!(validity_end(d(2025, 4, 15), 6, &rules), Some(d(2025, 10, 31)));
        let strict = ValidityRules { mid_month_start_adds_rest_of_month: false, ..rules };
        assert_eq!(validity_end(d(2025, 4, 15), 6, &strict), Some(d(2025, 10, 14)));
    }

    #[test]
    fn validity_between_three_and_forty_eight_months_is_allowed() {
        let rules = ValidityRules::default();
        assert!(check_certification_validity(d(2025, 4, 1), Some(d(2025, 6, 30)), &rules).is_ok());
        assert_eq!(
            check_certification_validity(d(2025, 4, 1), Some(d(2025, 6, 29)), &rules).unwrap_err().reason,
            "CERTIFICATION_VALIDITY_OUT_OF_RANGE"
        );
        assert!(check_certification_validity(d(2025, 4, 1), Some(d(2029, 3, 31)), &rules).is_ok());
        assert!(check_certification_validity(d(2025, 4, 1), Some(d(2029, 4, 1)), &rules).is_err());
        let capped = ValidityRules { max_months: 36, ..rules };
        assert!(check_certification_validity(d(2025, 4, 1), Some(d(2029, 3, 31)), &capped).is_err());
        assert!(check_certification_validity(d(2025, 4, 1), None, &rules).is_err());
    }

    #[test]
    fn not_applicable_and_programme_only_have_no_fixed_validity() {
        let rules = ValidityRules::default();
        let level = |level| Detail::Certification {
            level,
            certified: d(2025, 4, 20),
            limit_units: 0,
            board_opinion: String::new(),
            designated_service_types: vec![],
            service_type_limits: vec![],
            application_id: String::new(),
        };
        for open in [CareLevel::NotApplicable, CareLevel::ProgrammeEligible] {
            assert!(check_record(&[], &level(open), d(2025, 4, 1), None, None, &rules).is_ok(), "{open:?}");
            // A short or long end is not measured against the 3–48 months either.
            assert!(check_record(&[], &level(open), d(2025, 4, 1), Some(d(2025, 4, 30)), None, &rules).is_ok());
            assert!(check_record(&[], &level(open), d(2025, 4, 1), Some(d(2035, 3, 31)), None, &rules).is_ok());
            // The period still may not end before it starts.
            let reversed = check_record(&[], &level(open), d(2025, 4, 1), Some(d(2025, 3, 31)), None, &rules);
            assert_eq!(reversed.unwrap_err().reason, "PERIOD_ENDS_BEFORE_START");
        }
        for fixed in [CareLevel::Support1, CareLevel::Care5, CareLevel::Transitional] {
            let open = check_record(&[], &level(fixed), d(2025, 4, 1), None, None, &rules).unwrap_err();
            assert_eq!(open.reason, "CERTIFICATION_VALIDITY_OPEN", "{fixed:?}");
            let short = check_record(&[], &level(fixed), d(2025, 4, 1), Some(d(2025, 4, 30)), None, &rules);
            assert_eq!(short.unwrap_err().reason, "CERTIFICATION_VALIDITY_OUT_OF_RANGE", "{fixed:?}");
        }
    }

    #[test]
    fn copayment_periods_stay_within_august_to_july() {
        assert!(check_copayment_period(d(2025, 8, 1), Some(d(2026, 7, 31))).is_ok());
        assert!(check_copayment_period(d(2026, 1, 10), Some(d(2026, 7, 31))).is_ok());
        assert!(check_copayment_period(d(2025, 8, 1), Some(d(2026, 8, 1))).is_err());
        assert!(check_copayment_period(d(2025, 8, 1), None).is_err());
    }

    #[test]
    fn same_kind_overlap_is_refused_other_kinds_are_not() {
        let existing = vec![Record {
            id: 7,
            start: d(2025, 8, 1),
            end: Some(d(2026, 7, 31)),
            detail: Detail::Copayment { tenths: 1 },
        }];
        let copay = Detail::Copayment { tenths: 2 };
        let err = check_no_overlap(&existing, &copay, d(2026, 1, 1), Some(d(2026, 7, 31)), None).unwrap_err();
        assert_eq!(err.reason, "PERIOD_OVERLAP");
        assert!(check_no_overlap(&existing, &copay, d(2026, 1, 1), Some(d(2026, 7, 31)), Some(7)).is_ok());
        let cert = Detail::Certification {
            level: CareLevel::Care1,
            certified: d(2025, 8, 1),
            limit_units: 16_765,
            board_opinion: String::new(),
            designated_service_types: vec![],
            service_type_limits: vec![],
            application_id: String::new(),
        };
        assert!(check_no_overlap(&existing, &cert, d(2025, 8, 1), Some(d(2026, 1, 31)), None).is_ok());
    }
}
