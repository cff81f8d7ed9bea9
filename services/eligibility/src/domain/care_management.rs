//! The care-management office an accepted 居宅サービス計画作成依頼届出 records
//! (docs/domain/access.md#care-plan-notification): what changes in the person's active
//! care-management periods.

use chrono::{Days, NaiveDate};

use super::{Detail, Kind, Record};

/// What recording `office` from `start` does to the active records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The office is already in force from that day or earlier, open-ended: nothing to do
    /// (a notification accepted again, or recorded by hand before).
    AlreadyRecorded,
    /// End these records the day before `start`, supersede those, then add the new period.
    Record {
        /// Records that began before `start`: they end on `end_on`.
        end: Vec<i64>,
        /// The day they end on.
        end_on: Option<NaiveDate>,
        /// Records beginning on or after `start`: replaced.
        supersede: Vec<i64>,
    },
}

/// Decides the change for recording `office` as the care-management office from `start`.
pub fn change(active: &[Record], office: &str, start: NaiveDate) -> Change {
    let current: Vec<&Record> =
        active.iter().filter(|r| r.detail.kind() == Kind::CareManagement && r.overlaps(start, None)).collect();
    let same = current.iter().any(|r| {
        matches!(&r.detail, Detail::CareManagement { office_number, .. } if office_number == office)
            && r.start <= start
            && r.end.is_none()
    });
    if same {
        return Change::AlreadyRecorded;
    }
    let (before, after): (Vec<&Record>, Vec<&Record>) = current.into_iter().partition(|r| r.start < start);
    Change::Record {
        end: before.iter().map(|r| r.id).collect(),
        end_on: start.checked_sub_days(Days::new(1)),
        supersede: after.iter().map(|r| r.id).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn office(id: i64, number: &str, start: NaiveDate, end: Option<NaiveDate>) -> Record {
        Record {
            id,
            start,
            end,
            detail: Detail::CareManagement {
                kind: 1,
                office_number: number.into(),
                office_name: String::new(),
                notified: None,
            },
        }
    }

    #[test]
    fn the_same_office_already_in_force_changes_nothing() {
        let active = [office(1, "4371000128", d(2026, 1, 1), None)];
        assert_eq!(change(&active, "4371000128", d(2026, 4, 1)), Change::AlreadyRecorded);
    }

    #[test]
    fn another_office_ends_the_day_before_and_a_later_one_is_replaced() {
        let active = [
            office(1, "4371000201", d(2026, 1, 1), None),
            office(2, "4371000201", d(2026, 5, 1), None),
            office(3, "4371000201", d(2025, 1, 1), Some(d(2025, 12, 31))),
        ];
        assert_eq!(
            change(&active, "4371000128", d(2026, 4, 1)),
            Change::Record { end: vec![1], end_on: Some(d(2026, 3, 31)), supersede: vec![2] }
        );
    }

    #[test]
    fn nobody_recorded_yet_only_adds() {
        assert_eq!(
            change(&[], "4371000128", d(2026, 4, 1)),
            Change::Record { end: vec![], end_on: Some(d(2026, 3, 31)), supersede: vec![] }
        );
    }
}
