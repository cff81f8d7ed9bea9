//! The 30-day deadline (介護保険法 27条11項: the decision within 30 days of the application),
//! delay notices (延期通知, docs/domain/certification.md#deadline) and the per-insurer figures. All dates are JST
//! calendar dates; "today" is passed in so the clock stays outside the rules.

use chrono::{Days, NaiveDate};

use super::types::{ApplicationType, DelayReason, Status};

/// Days from the application date to the deadline date (法27条11項).
pub const DEADLINE_DAYS: u64 = 30;

/// The deadline date: application date + 30 days.
pub fn deadline_date(application_date: NaiveDate) -> NaiveDate {
    application_date.checked_add_days(Days::new(DEADLINE_DAYS)).unwrap_or(NaiveDate::MAX)
}

/// Standing against the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineStatus {
    /// Open, not at risk.
    OnTrack,
    /// Open, at or past the at-risk day, not past the (possibly extended) deadline.
    AtRisk,
    /// Open and past the deadline, or past the expected date of the latest delay notice.
    Overdue,
    /// Decided on or before the deadline date.
    Met,
    /// Decided after the deadline date.
    Missed,
    /// Withdrawn or cancelled.
    NotApplicable,
}

/// What the deadline status depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineFacts {
    /// 申請年月日.
    pub application_date: NaiveDate,
    /// Overall status.
    pub status: Status,
    /// 認定年月日, once decided.
    pub decision_date: Option<NaiveDate>,
    /// Expected date of the latest delay notice.
    pub latest_expected_date: Option<NaiveDate>,
    /// For a renewal (更新), the last day of the certification in force it renews: a decision
    /// up to that day is on time (docs/domain/certification.md#renewal-deadline). None otherwise.
    pub in_force_until: Option<NaiveDate>,
}

impl DeadlineFacts {
    /// The last day a decision counts as on time: the 30-day deadline, or for a renewal the end
    /// of the certification in force when that is later.
    pub fn on_time_until(&self) -> NaiveDate {
        on_time_until(self.application_date, self.in_force_until)
    }
}

/// The last day a decision on an application dated `application_date` counts as on time: the
/// deadline date, or the end of the certification a renewal renews (`in_force_until`) when
/// later — decided inside the current validity, the person is never without a certification,
/// and no delay notice is needed (docs/domain/certification.md#renewal-deadline).
pub fn on_time_until(application_date: NaiveDate, in_force_until: Option<NaiveDate>) -> NaiveDate {
    let legal = deadline_date(application_date);
    in_force_until.map_or(legal, |end| end.max(legal))
}

/// The end of the certification an application of `kind` keeps on time to: the current
/// validity's end for a renewal, none for other kinds.
pub fn renewal_in_force_until(kind: ApplicationType, previous_end: Option<NaiveDate>) -> Option<NaiveDate> {
    if kind == ApplicationType::Renewal { previous_end } else { None }
}

/// The date after which an open application is overdue: the deadline, the expected date of
/// the latest delay notice (which must lie after it), or for a renewal the end of the
/// certification in force — whichever is latest.
pub fn effective_deadline(
    application_date: NaiveDate,
    latest_expected_date: Option<NaiveDate>,
    in_force_until: Option<NaiveDate>,
) -> NaiveDate {
    let on_time = on_time_until(application_date, in_force_until);
    latest_expected_date.map_or(on_time, |e| e.max(on_time))
}

/// The first day an open application counts as at risk: `at_risk_day` days after the
/// application, and no earlier than `30 - at_risk_day` days before it stops being on time
/// (an early renewal is not at risk while the certification it renews has long to run).
pub fn at_risk_on(application_date: NaiveDate, on_time_until: NaiveDate, at_risk_day: u32) -> NaiveDate {
    let margin = DEADLINE_DAYS.saturating_sub(u64::from(at_risk_day));
    let near_end = on_time_until.checked_sub_days(Days::new(margin)).unwrap_or(NaiveDate::MIN);
    at_risk_from(application_date, at_risk_day).max(near_end)
}

/// The first day an open application counts as at risk: application date + `at_risk_day`.
pub fn at_risk_from(application_date: NaiveDate, at_risk_day: u32) -> NaiveDate {
    application_date.checked_add_days(Days::new(u64::from(at_risk_day))).unwrap_or(NaiveDate::MAX)
}

/// The status on `today` (JST) with the at-risk threshold `at_risk_day` (days after
/// application, e.g. 21).
pub fn deadline_status(facts: &DeadlineFacts, today: NaiveDate, at_risk_day: u32) -> DeadlineStatus {
    match facts.status {
        Status::Withdrawn | Status::Cancelled => DeadlineStatus::NotApplicable,
        Status::Decided | Status::Notified => match facts.decision_date {
            Some(d) if d <= facts.on_time_until() => DeadlineStatus::Met,
            _ => DeadlineStatus::Missed,
        },
        Status::Received | Status::PrimaryJudged | Status::BoardScheduled => {
            let overdue_after =
                effective_deadline(facts.application_date, facts.latest_expected_date, facts.in_force_until);
            if today > overdue_after {
                DeadlineStatus::Overdue
            } else if today >= at_risk_on(facts.application_date, facts.on_time_until(), at_risk_day) {
                DeadlineStatus::AtRisk
            } else {
                DeadlineStatus::OnTrack
            }
        }
    }
}

/// The facts of an application as stored on its row: its effective deadline stands for the
/// latest delay notice's expected date when it lies past the day the application stops being
/// on time, and the on-time day for the end of the certification a renewal renews when it
/// lies past the 30-day deadline.
pub fn stored_facts(
    status: Status,
    application_date: NaiveDate,
    decision_date: Option<NaiveDate>,
    effective_deadline: NaiveDate,
    on_time_until: NaiveDate,
) -> DeadlineFacts {
    let legal = deadline_date(application_date);
    DeadlineFacts {
        application_date,
        status,
        decision_date,
        latest_expected_date: (effective_deadline > legal.max(on_time_until)).then_some(effective_deadline),
        in_force_until: (on_time_until > legal).then_some(on_time_until),
    }
}

/// Where an open application stands against its deadline, as operators count them
/// (`kaigo.certification.applications.open`, README "Observability").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpenStanding {
    /// Before its at-risk day.
    OnTrack,
    /// From its at-risk day to the last day it is on time.
    AtRisk,
    /// Past the last day it is on time, within the expected date of its latest delay notice.
    Extended,
    /// Past its effective deadline.
    Overdue,
}

impl OpenStanding {
    /// Every standing, in the order of [`count_open`]'s figures.
    pub const ALL: [OpenStanding; 4] =
        [OpenStanding::OnTrack, OpenStanding::AtRisk, OpenStanding::Extended, OpenStanding::Overdue];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            OpenStanding::OnTrack => "on_track",
            OpenStanding::AtRisk => "at_risk",
            OpenStanding::Extended => "extended",
            OpenStanding::Overdue => "overdue",
        }
    }
}

/// The standing of an application on `today` if it is open ([`deadline_status`], with the
/// days past the 30-day or renewal deadline that a delay notice covers told apart as
/// extended), `None` once decided or closed.
pub fn open_standing(facts: &DeadlineFacts, today: NaiveDate, at_risk_day: u32) -> Option<OpenStanding> {
    match deadline_status(facts, today, at_risk_day) {
        DeadlineStatus::Overdue => Some(OpenStanding::Overdue),
        DeadlineStatus::AtRisk if today > facts.on_time_until() => Some(OpenStanding::Extended),
        DeadlineStatus::AtRisk => Some(OpenStanding::AtRisk),
        DeadlineStatus::OnTrack => Some(OpenStanding::OnTrack),
        DeadlineStatus::Met | DeadlineStatus::Missed | DeadlineStatus::NotApplicable => None,
    }
}

/// The open applications among `groups` (facts shared by `n` applications) by standing, in
/// the order of [`OpenStanding::ALL`].
pub fn count_open(groups: &[(DeadlineFacts, u64)], today: NaiveDate, at_risk_day: u32) -> [u64; 4] {
    let mut counts = [0; 4];
    for (facts, n) in groups {
        if let Some(standing) = open_standing(facts, today, at_risk_day) {
            let i = OpenStanding::ALL.iter().position(|s| *s == standing).unwrap_or_default();
            counts[i] += n;
        }
    }
    counts
}

/// Calendar days from the application to `today`, or to the decision once decided.
pub fn days_elapsed(application_date: NaiveDate, decision_date: Option<NaiveDate>, today: NaiveDate) -> i64 {
    (decision_date.unwrap_or(today) - application_date).num_days()
}

/// A delay notice as requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayNoticeInput {
    /// Date issued.
    pub notice_date: NaiveDate,
    /// 処理見込期間: expected decision date.
    pub expected_date: NaiveDate,
    /// Reason code.
    pub reason: DelayReason,
}

/// Why a delay notice is refused (FAILED_PRECONDITION reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DelayNoticeError {
    /// Dated before the application.
    #[error("the notice date is before the application date")]
    NoticeBeforeApplication,
    /// The first notice must go out within the 30 days.
    #[error("the first delay notice must be issued on or before the deadline date (法27条11項)")]
    FirstNoticeAfterDeadline,
    /// A later notice is dated before an earlier one.
    #[error("the notice date is before the previous delay notice")]
    NoticeBeforePrevious,
    /// The expected date is not after the deadline.
    #[error("the expected decision date must be after the 30-day deadline date")]
    ExpectedNotAfterDeadline,
    /// The expected date is not after the previous notice's.
    #[error("the expected decision date must be after the previous notice's expected date")]
    ExpectedNotAfterPrevious,
}

impl DelayNoticeError {
    /// The ErrorInfo reason.
    pub fn reason(self) -> &'static str {
        match self {
            DelayNoticeError::NoticeBeforeApplication => "DELAY_NOTICE_BEFORE_APPLICATION",
            DelayNoticeError::FirstNoticeAfterDeadline => "DELAY_NOTICE_AFTER_DEADLINE",
            DelayNoticeError::NoticeBeforePrevious => "DELAY_NOTICE_BEFORE_PREVIOUS",
            DelayNoticeError::ExpectedNotAfterDeadline => "DELAY_EXPECTED_DATE_NOT_AFTER_DEADLINE",
            DelayNoticeError::ExpectedNotAfterPrevious => "DELAY_EXPECTED_DATE_NOT_AFTER_PREVIOUS",
        }
    }
}

/// Checks a new notice against the application date and the notices before it
/// (`previous`: (notice date, expected date) in issue order).
pub fn check_delay_notice(
    application_date: NaiveDate,
    previous: &[(NaiveDate, NaiveDate)],
    notice: &DelayNoticeInput,
) -> Result<(), DelayNoticeError> {
    let deadline = deadline_date(application_date);
    if notice.notice_date < application_date {
        return Err(DelayNoticeError::NoticeBeforeApplication);
    }
    if notice.expected_date <= deadline {
        return Err(DelayNoticeError::ExpectedNotAfterDeadline);
    }
    match previous.last() {
        None if notice.notice_date > deadline => Err(DelayNoticeError::FirstNoticeAfterDeadline),
        None => Ok(()),
        Some((prev_notice, _)) if notice.notice_date < *prev_notice => Err(DelayNoticeError::NoticeBeforePrevious),
        Some((_, prev_expected)) if notice.expected_date <= *prev_expected => {
            Err(DelayNoticeError::ExpectedNotAfterPrevious)
        }
        Some(_) => Ok(()),
    }
}

/// Per-insurer figures over decided applications.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionFigures {
    /// How many were decided.
    pub decided: usize,
    /// Of those, within 30 days.
    pub within_30_days: usize,
    /// Share within 30 days, 0.0–1.0 (0 when none).
    pub share_within_30_days: f64,
    /// Median days to decision (0 when none).
    pub median_days: f64,
    /// Mean days to decision (0 when none).
    pub mean_days: f64,
}

/// Figures over (application date, decision date) pairs.
pub fn decision_figures(decided: &[(NaiveDate, NaiveDate)]) -> DecisionFigures {
    let mut days: Vec<i64> = decided.iter().map(|(a, d)| (*d - *a).num_days()).collect();
    days.sort_unstable();
    let n = days.len();
    let within = days.iter().filter(|d| **d <= DEADLINE_DAYS as i64).count();
    let median = match n {
        0 => 0.0,
        n if n % 2 == 1 => days[n / 2] as f64,
        n => (days[n / 2 - 1] + days[n / 2]) as f64 / 2.0,
    };
    let mean = if n == 0 { 0.0 } else { days.iter().sum::<i64>() as f64 / n as f64 };
    DecisionFigures {
        decided: n,
        within_30_days: within,
        share_within_30_days: if n == 0 { 0.0 } else { within as f64 / n as f64 },
        median_days: median,
        mean_days: mean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn open(app: NaiveDate) -> DeadlineFacts {
        DeadlineFacts {
            application_date: app,
            status: Status::Received,
            decision_date: None,
            latest_expected_date: None,
            in_force_until: None,
        }
    }

    #[test]
    fn open_applications_are_counted_by_standing_and_a_delay_notice_extends() {
        let app = d(2026, 4, 1);
        let today = d(2026, 5, 10);
        let extended = DeadlineFacts { latest_expected_date: Some(d(2026, 5, 20)), ..open(app) };
        let renewal = DeadlineFacts { in_force_until: Some(d(2026, 6, 30)), ..open(app) };
        let decided = DeadlineFacts { status: Status::Decided, decision_date: Some(d(2026, 4, 20)), ..open(app) };
        let withdrawn = DeadlineFacts { status: Status::Withdrawn, ..open(app) };
        assert_eq!(open_standing(&open(d(2026, 5, 1)), today, 21), Some(OpenStanding::OnTrack));
        assert_eq!(open_standing(&open(d(2026, 4, 15)), today, 21), Some(OpenStanding::AtRisk));
        assert_eq!(open_standing(&extended, today, 21), Some(OpenStanding::Extended));
        assert_eq!(open_standing(&extended, d(2026, 5, 21), 21), Some(OpenStanding::Overdue));
        assert_eq!(open_standing(&open(app), today, 21), Some(OpenStanding::Overdue));
        // A renewal inside the validity it renews is on time, not extended.
        assert_eq!(open_standing(&renewal, today, 21), Some(OpenStanding::OnTrack));
        assert_eq!(open_standing(&decided, today, 21), None);
        assert_eq!(open_standing(&withdrawn, today, 21), None);
        let groups = [
            (open(d(2026, 5, 1)), 5),
            (open(d(2026, 4, 15)), 2),
            (extended, 3),
            (open(app), 1),
            (renewal, 4),
            (decided, 7),
            (withdrawn, 9),
        ];
        assert_eq!(count_open(&groups, today, 21), [9, 2, 3, 1]);
        let labels: Vec<&str> = OpenStanding::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(labels, ["on_track", "at_risk", "extended", "overdue"]);
    }

    #[test]
    fn the_deadline_is_thirty_calendar_days_after_application() {
        assert_eq!(deadline_date(d(2026, 4, 1)), d(2026, 5, 1));
        assert_eq!(deadline_date(d(2026, 2, 10)), d(2026, 3, 12));
    }

    #[test]
    fn open_applications_move_from_on_track_to_at_risk_to_overdue() {
        let app = d(2026, 4, 1);
        assert_eq!(deadline_status(&open(app), d(2026, 4, 21), 21), DeadlineStatus::OnTrack);
        assert_eq!(deadline_status(&open(app), d(2026, 4, 22), 21), DeadlineStatus::AtRisk);
        assert_eq!(
            deadline_status(&open(app), d(2026, 5, 1), 21),
            DeadlineStatus::AtRisk,
            "the deadline day itself is not late"
        );
        assert_eq!(deadline_status(&open(app), d(2026, 5, 2), 21), DeadlineStatus::Overdue);
    }

    #[test]
    fn a_delay_notice_moves_the_overdue_line_to_its_expected_date() {
        let app = d(2026, 4, 1);
        let facts = DeadlineFacts { latest_expected_date: Some(d(2026, 5, 20)), ..open(app) };
        assert_eq!(deadline_status(&facts, d(2026, 5, 2), 21), DeadlineStatus::AtRisk);
        assert_eq!(deadline_status(&facts, d(2026, 5, 20), 21), DeadlineStatus::AtRisk);
        assert_eq!(deadline_status(&facts, d(2026, 5, 21), 21), DeadlineStatus::Overdue);
    }

    #[test]
    fn decided_applications_met_or_missed_the_legal_deadline() {
        let app = d(2026, 4, 1);
        let decided = |day| DeadlineFacts { status: Status::Decided, decision_date: Some(day), ..open(app) };
        assert_eq!(deadline_status(&decided(d(2026, 5, 1)), d(2027, 1, 1), 21), DeadlineStatus::Met);
        assert_eq!(deadline_status(&decided(d(2026, 5, 2)), d(2027, 1, 1), 21), DeadlineStatus::Missed);
        let notified = DeadlineFacts { status: Status::Notified, ..decided(d(2026, 4, 20)) };
        assert_eq!(deadline_status(&notified, d(2027, 1, 1), 21), DeadlineStatus::Met);
        let withdrawn = DeadlineFacts { status: Status::Withdrawn, ..open(app) };
        assert_eq!(deadline_status(&withdrawn, d(2027, 1, 1), 21), DeadlineStatus::NotApplicable);
    }

    #[test]
    fn an_early_renewal_is_neither_overdue_nor_missed_while_the_certification_runs() {
        let app = d(2026, 4, 1);
        // The certification renewed ends on 2026-06-30, two months after the 30 days.
        let renewal = DeadlineFacts { in_force_until: Some(d(2026, 6, 30)), ..open(app) };
        assert_eq!(renewal.on_time_until(), d(2026, 6, 30));
        assert_eq!(deadline_status(&renewal, d(2026, 4, 22), 21), DeadlineStatus::OnTrack, "day 21, long to run");
        assert_eq!(deadline_status(&renewal, d(2026, 5, 2), 21), DeadlineStatus::OnTrack, "past 30 days");
        assert_eq!(deadline_status(&renewal, d(2026, 6, 20), 21), DeadlineStatus::OnTrack);
        assert_eq!(deadline_status(&renewal, d(2026, 6, 21), 21), DeadlineStatus::AtRisk, "nine days left");
        assert_eq!(deadline_status(&renewal, d(2026, 6, 30), 21), DeadlineStatus::AtRisk, "the last day");
        assert_eq!(deadline_status(&renewal, d(2026, 7, 1), 21), DeadlineStatus::Overdue, "lapsed");
        let decided = |day| DeadlineFacts { status: Status::Decided, decision_date: Some(day), ..renewal };
        assert_eq!(deadline_status(&decided(d(2026, 6, 30)), d(2027, 1, 1), 21), DeadlineStatus::Met);
        assert_eq!(deadline_status(&decided(d(2026, 7, 1)), d(2027, 1, 1), 21), DeadlineStatus::Missed);
        // Filed late (the certification ends before the 30 days): the 30 days apply.
        let late = DeadlineFacts { in_force_until: Some(d(2026, 4, 10)), ..open(app) };
        assert_eq!(deadline_status(&late, d(2026, 4, 22), 21), DeadlineStatus::AtRisk);
        assert_eq!(deadline_status(&late, d(2026, 5, 2), 21), DeadlineStatus::Overdue);
        // Only a renewal keeps the current validity: a level change does not.
        assert_eq!(renewal_in_force_until(ApplicationType::Renewal, Some(d(2026, 6, 30))), Some(d(2026, 6, 30)));
        assert_eq!(renewal_in_force_until(ApplicationType::LevelChange, Some(d(2026, 6, 30))), None);
        assert_eq!(renewal_in_force_until(ApplicationType::New, None), None);
    }

    #[test]
    fn delay_notices_follow_the_rules_of_section_3_2() {
        let app = d(2026, 4, 1);
        let n = |notice, expected| DelayNoticeInput {
            notice_date: notice,
            expected_date: expected,
            reason: DelayReason::OpinionNotReady,
        };
        assert_eq!(check_delay_notice(app, &[], &n(d(2026, 4, 25), d(2026, 5, 15))), Ok(()));
        assert_eq!(check_delay_notice(app, &[], &n(d(2026, 5, 1), d(2026, 5, 2))), Ok(()));
        assert_eq!(
            check_delay_notice(app, &[], &n(d(2026, 5, 2), d(2026, 5, 15))),
            Err(DelayNoticeError::FirstNoticeAfterDeadline)
        );
        assert_eq!(
            check_delay_notice(app, &[], &n(d(2026, 4, 25), d(2026, 5, 1))),
            Err(DelayNoticeError::ExpectedNotAfterDeadline)
        );
        assert_eq!(
            check_delay_notice(app, &[], &n(d(2026, 3, 31), d(2026, 5, 15))),
            Err(DelayNoticeError::NoticeBeforeApplication)
        );
        let prev = [(d(2026, 4, 25), d(2026, 5, 15))];
        // A second notice may follow after the deadline when the first slipped.
        assert_eq!(check_delay_notice(app, &prev, &n(d(2026, 5, 10), d(2026, 5, 30))), Ok(()));
        assert_eq!(
            check_delay_notice(app, &prev, &n(d(2026, 5, 10), d(2026, 5, 15))),
            Err(DelayNoticeError::ExpectedNotAfterPrevious)
        );
        assert_eq!(
            check_delay_notice(app, &prev, &n(d(2026, 4, 24), d(2026, 5, 30))),
            Err(DelayNoticeError::NoticeBeforePrevious)
        );
    }

    #[test]
    fn figures_give_median_mean_and_share() {
        let app = d(2026, 4, 1);
        let after = |days: u64| (app, app.checked_add_days(Days::new(days)).unwrap());
        let f = decision_figures(&[after(20), after(30), after(31), after(45)]);
        assert_eq!(f.decided, 4);
        assert_eq!(f.within_30_days, 2);
        assert!((f.share_within_30_days - 0.5).abs() < 1e-9);
        assert!((f.median_days - 30.5).abs() < 1e-9);
        assert!((f.mean_days - 31.5).abs() < 1e-9);
        let odd = decision_figures(&[after(10), after(40), after(35)]);
        assert!((odd.median_days - 35.0).abs() < 1e-9);
        assert_eq!(
            decision_figures(&[]),
            DecisionFigures {
                decided: 0,
                within_30_days: 0,
                share_within_30_days: 0.0,
                median_days: 0.0,
                mean_days: 0.0
            }
        );
        assert_eq!(days_elapsed(app, None, d(2026, 4, 11)), 10);
        assert_eq!(days_elapsed(app, Some(d(2026, 4, 5)), d(2026, 4, 11)), 4);
    }
}
