//! Qualification (資格) as a history of spans, and the insured category (第1号/第2号) over them
//! (docs/domain/eligibility.md#qualification and #category-at-65).
//!
//! A span runs from the 資格取得年月日 (first day insured) to the 資格喪失年月日 (first day no
//! longer insured); as a record its period ends, inclusive, on the day before the lost date. A
//! person who moves away and comes back has two spans; a person's spans never overlap (the
//! same-kind rule of every record). A person recorded before spans existed, and not migrated,
//! has none: their single pair on the person decides.

use chrono::NaiveDate;

use super::timeline::{Detail, Record};
// Where a date falls against the spans is part of assessing a timeline (timeline.rs).
pub use super::timeline::{Standing, spans, standing};
use super::validity::{RuleViolation, check_copayment_for_age, first_category_from};

/// A span's record period from its 資格取得年月日 and 資格喪失年月日: the last day insured is the
/// day before the lost date. `None` when the lost date is not after the acquisition.
pub fn record_period(acquired: NaiveDate, lost: Option<NaiveDate>) -> Option<(NaiveDate, Option<NaiveDate>)> {
    match lost {
        None => Some((acquired, None)),
        Some(lost) if lost > acquired => Some((acquired, Some(lost.pred_opt()?))),
        Some(_) => None,
    }
}

/// The 資格喪失年月日 of a span's record: the day after its last day insured.
pub fn lost_date(span: &Record) -> Option<NaiveDate> {
    span.end.and_then(|end| end.succ_opt())
}

/// The latest span's 資格取得年月日 and 資格喪失年月日: what the person's own pair shows.
pub fn latest(records: &[Record]) -> Option<(NaiveDate, Option<NaiveDate>)> {
    spans(records).max_by_key(|r| r.start).map(|r| (r.start, lost_date(r)))
}

/// 1 (第1号) or 2 (第2号) on `day` for a person born on `birth`: 第1号 from the day the law
/// counts the 65th year as reached ([`first_category_from`]). `None` without a birth date.
pub fn category_on(day: NaiveDate, birth: Option<NaiveDate>) -> Option<u8> {
    let first = first_category_from(birth?)?;
    Some(if day < first { 2 } else { 1 })
}

/// One derived category period: the category, its first and last day (inclusive; open while
/// the span is).
pub type CategoryPeriod = (u8, NaiveDate, Option<NaiveDate>);

/// 第1号/第2号 over the active spans, oldest first: each span split on the person's 第1号 day.
/// Empty without a birth date.
pub fn category_periods(records: &[Record], birth: Option<NaiveDate>) -> Vec<CategoryPeriod> {
    let Some(first) = birth.and_then(first_category_from) else { return Vec::new() };
    let mut spans: Vec<&Record> = spans(records).collect();
    spans.sort_by_key(|r| r.start);
    let mut out = Vec::with_capacity(spans.len() + 1);
    for span in spans {
        if span.start >= first {
            out.push((1, span.start, span.end));
        } else if span.end.is_some_and(|end| end < first) {
            out.push((2, span.start, span.end));
        } else {
            // The span reaches the 第1号 day: 第2号 up to the day before, 第1号 from it.
            let Some(before) = first.pred_opt() else { continue };
            out.push((2, span.start, Some(before)));
            out.push((1, first, span.end));
        }
    }
    out
}

/// What writing the span `[acquired, lost)` of a person's own pair (UpsertInsuredPerson, an
/// import row) does to their spans: spans are matched by their 資格取得年月日.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairChange {
    /// A span with this acquisition date and lost date exists: nothing to do.
    Unchanged,
    /// No span starts on this date: a new span (subject to the overlap rule).
    Add,
    /// The span with this record id starts on this date but ends otherwise: a correction.
    Correct(i64),
}

/// How the pair `[acquired, lost)` applies to the active `records`.
pub fn pair_change(records: &[Record], acquired: NaiveDate, lost: Option<NaiveDate>) -> PairChange {
    match spans(records).find(|r| r.start == acquired) {
        None => PairChange::Add,
        Some(span) if lost_date(span) == lost => PairChange::Unchanged,
        Some(span) => PairChange::Correct(span.id),
    }
}

/// The detail a span takes when written through the person's pair: a corrected span keeps its
/// reasons (and drops the loss reason when it is open again); a new one has none.
pub fn pair_detail(records: &[Record], change: PairChange, lost: Option<NaiveDate>) -> Detail {
    let kept = match change {
        PairChange::Correct(id) => records.iter().find(|r| r.id == id).map(|r| r.detail.clone()),
        _ => None,
    };
    match kept {
        Some(Detail::Qualification { acquisition, loss }) => {
            Detail::Qualification { acquisition, loss: if lost.is_some() { loss } else { 0 } }
        }
        _ => Detail::Qualification { acquisition: 0, loss: 0 },
    }
}

/// 第2号被保険者 always pay 1割, over the whole history: every active 負担割合 is checked against
/// the birth date (a corrected birth date must not leave a 2割 or 3割 period before 65).
pub fn check_copayments_for_birth(records: &[Record], birth: Option<NaiveDate>) -> Result<(), RuleViolation> {
    records.iter().try_for_each(|r| check_copayment_for_age(&r.detail, r.start, birth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PersonCore, Timeline};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn span(id: i64, acquired: NaiveDate, lost: Option<NaiveDate>) -> Record {
        let (start, end) = record_period(acquired, lost).unwrap();
        Record { id, start, end, detail: Detail::Qualification { acquisition: 1, loss: u8::from(lost.is_some()) } }
    }

    fn timeline(records: Vec<Record>) -> Timeline {
        Timeline { person: PersonCore { category: 1, acquired: None, lost: None, version: 1, changed_at: 0 }, records }
    }

    #[test]
    fn moving_away_and_back_leaves_a_gap_that_is_not_insured() {
        // Insured from 2020-04-01, moved out (lost 2022-10-01), back from 2024-01-15.
        let t = timeline(vec![span(1, d(2020, 4, 1), Some(d(2022, 10, 1))), span(2, d(2024, 1, 15), None)]);
        assert_eq!(standing(&t, d(2020, 3, 31)), Standing::NotYet);
        assert!(matches!(standing(&t, d(2020, 4, 1)), Standing::Insured(Some(r)) if r.id == 1));
        // The lost date is exclusive: the day before is the last day insured.
        assert!(matches!(standing(&t, d(2022, 9, 30)), Standing::Insured(Some(r)) if r.id == 1));
        assert!(matches!(standing(&t, d(2022, 10, 1)), Standing::Lost(Some(r)) if r.id == 1));
        assert!(matches!(standing(&t, d(2024, 1, 14)), Standing::Lost(Some(r)) if r.id == 1));
        assert!(matches!(standing(&t, d(2024, 1, 15)), Standing::Insured(Some(r)) if r.id == 2));
        assert!(matches!(standing(&t, d(2040, 1, 1)), Standing::Insured(Some(r)) if r.id == 2));
        assert_eq!(latest(&t.records), Some((d(2024, 1, 15), None)));
    }

    #[test]
    fn after_the_last_span_the_last_one_is_the_evidence() {
        let t =
            timeline(vec![span(1, d(2010, 4, 1), Some(d(2012, 1, 1))), span(2, d(2015, 1, 1), Some(d(2016, 1, 1)))]);
        assert!(matches!(standing(&t, d(2020, 1, 1)), Standing::Lost(Some(r)) if r.id == 2));
        assert!(matches!(standing(&t, d(2013, 1, 1)), Standing::Lost(Some(r)) if r.id == 1));
        assert_eq!(lost_date(&t.records[1]), Some(d(2016, 1, 1)));
    }

    #[test]
    fn without_spans_the_single_pair_decides() {
        let mut t = timeline(vec![]);
        t.person.acquired = Some(d(2020, 4, 1));
        t.person.lost = Some(d(2026, 2, 10));
        assert_eq!(standing(&t, d(2020, 3, 31)), Standing::NotYet);
        assert_eq!(standing(&t, d(2026, 2, 9)), Standing::Insured(None));
        assert_eq!(standing(&t, d(2026, 2, 10)), Standing::Lost(None));
    }

    #[test]
    fn a_lost_date_must_be_after_the_acquisition() {
        assert_eq!(record_period(d(2020, 4, 1), Some(d(2020, 4, 1))), None);
        assert_eq!(record_period(d(2020, 4, 1), Some(d(2020, 4, 2))), Some((d(2020, 4, 1), Some(d(2020, 4, 1)))));
    }

    #[test]
    fn the_category_changes_on_the_day_before_the_65th_birthday() {
        let birth = Some(d(1960, 8, 2));
        assert_eq!(category_on(d(2025, 7, 31), birth), Some(2));
        assert_eq!(category_on(d(2025, 8, 1), birth), Some(1));
        // 29 February: 65 is reached on 28 February.
        assert_eq!(category_on(d(2025, 2, 27), Some(d(1960, 2, 29))), Some(2));
        assert_eq!(category_on(d(2025, 2, 28), Some(d(1960, 2, 29))), Some(1));
        assert_eq!(category_on(d(2025, 2, 28), None), None);
    }

    #[test]
    fn category_periods_split_a_span_at_65_and_follow_the_gaps() {
        let birth = Some(d(1960, 8, 2)); // 第1号 from 2025-08-01
        let records = vec![
            span(2, d(2024, 1, 15), None),
            span(1, d(2020, 4, 1), Some(d(2022, 10, 1))),
            Record { id: 3, start: d(2024, 8, 1), end: Some(d(2025, 7, 31)), detail: Detail::Copayment { tenths: 1 } },
        ];
        assert_eq!(
            category_periods(&records, birth),
            vec![
                (2, d(2020, 4, 1), Some(d(2022, 9, 30))),
                (2, d(2024, 1, 15), Some(d(2025, 7, 31))),
                (1, d(2025, 8, 1), None),
            ]
        );
        // A span that starts on the 第1号 day is 第1号 throughout.
        assert_eq!(category_periods(&[span(4, d(2025, 8, 1), None)], birth), vec![(1, d(2025, 8, 1), None)]);
        assert!(category_periods(&records, None).is_empty());
    }

    #[test]
    fn the_pair_matches_its_span_by_the_acquisition_date() {
        let records = vec![span(1, d(2020, 4, 1), Some(d(2022, 10, 1))), span(2, d(2024, 1, 15), None)];
        assert_eq!(pair_change(&records, d(2024, 1, 15), None), PairChange::Unchanged);
        assert_eq!(pair_change(&records, d(2020, 4, 1), Some(d(2022, 10, 1))), PairChange::Unchanged);
        assert_eq!(pair_change(&records, d(2024, 1, 15), Some(d(2026, 2, 10))), PairChange::Correct(2));
        assert_eq!(pair_change(&records, d(2027, 1, 1), None), PairChange::Add);
        // A corrected span keeps its reasons; opened again, it loses the loss reason.
        let closed = pair_detail(&records, PairChange::Correct(1), Some(d(2022, 11, 1)));
        assert_eq!(closed, Detail::Qualification { acquisition: 1, loss: 1 });
        assert_eq!(
            pair_detail(&records, PairChange::Correct(1), None),
            Detail::Qualification { acquisition: 1, loss: 0 }
        );
        assert_eq!(pair_detail(&records, PairChange::Add, None), Detail::Qualification { acquisition: 0, loss: 0 });
    }

    #[test]
    fn a_corrected_birth_date_may_not_leave_a_second_category_above_one_tenth() {
        let records = vec![Record {
            id: 1,
            start: d(2025, 8, 1),
            end: Some(d(2026, 7, 31)),
            detail: Detail::Copayment { tenths: 2 },
        }];
        assert!(check_copayments_for_birth(&records, Some(d(1960, 8, 2))).is_ok());
        let err = check_copayments_for_birth(&records, Some(d(1960, 8, 3))).unwrap_err();
        assert_eq!(err.reason, "SECOND_CATEGORY_PAYS_ONE_TENTH");
    }
}
