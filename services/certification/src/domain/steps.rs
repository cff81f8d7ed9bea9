//! What each workflow step checks and records on an application
//! (docs/domain/certification.md#process). Which step may follow which is [`workflow::check`];
//! each function here checks that first, then the step's own rules (its dates against the
//! application's, the validity of a decision, the sequence of delay notices), and only then moves
//! the workflow and writes what the step records into the application, returning the step to
//! append; a refusal names the rule and leaves the application untouched. Plain functions: the api
//! validates a request into their inputs and the store runs them inside the write's transaction.

use chrono::{DateTime, NaiveDate, Utc};

use super::deadline::{self, DelayNoticeInput};
use super::judgment::{self, BandIndicators, External};
use super::record::{
    ApplicationRecord, BoardRecord, Closure, DecisionRecord, DelayNoticeRecord, PrimaryRecord, SurveyResult,
};
use super::types::{CareLevel, StepKind};
use super::validity::{self, ValidityError, ValidityPolicy};
use super::workflow::{self, Refusal};

/// The step a write appends: its kind and a summary (no personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The step.
    pub kind: StepKind,
    /// What it recorded, in a line.
    pub summary: String,
}

impl Recorded {
    fn new(kind: StepKind, summary: impl Into<String>) -> Self {
        Self { kind, summary: summary.into() }
    }
}

/// Moves the workflow of `r` by `kind`: called once every rule of the step has passed, so that
/// a refused step leaves the application as it was.
fn moved(r: &mut ApplicationRecord, kind: StepKind) {
    r.workflow = workflow::apply(r.workflow, kind);
}

fn not_before(reason: &'static str, date: NaiveDate, floor: NaiveDate, message: &str) -> Result<(), Refusal> {
    if date < floor { Err(Refusal::rule(reason, message)) } else { Ok(()) }
}

fn not_before_application(
    r: &ApplicationRecord,
    reason: &'static str,
    date: NaiveDate,
    what: &str,
) -> Result<(), Refusal> {
    not_before(reason, date, r.application_date, &format!("the {what} date is before the application date"))
}

/// 認定調査 scheduled (again, until it is done) for `date` with `surveyor`.
pub fn schedule_survey(r: &mut ApplicationRecord, date: NaiveDate, surveyor: String) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::SurveyScheduled)?;
    not_before_application(r, "SURVEY_DATE_BEFORE_APPLICATION", date, "survey")?;
    moved(r, StepKind::SurveyScheduled);
    r.survey.scheduled_date = Some(date);
    r.survey.surveyor = surveyor;
    Ok(Recorded::new(StepKind::SurveyScheduled, format!("survey scheduled for {date}")))
}

/// 認定調査 done on `date` with `result`.
pub fn complete_survey(r: &mut ApplicationRecord, date: NaiveDate, result: SurveyResult) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::SurveyCompleted)?;
    not_before_application(r, "SURVEY_DATE_BEFORE_APPLICATION", date, "survey")?;
    moved(r, StepKind::SurveyCompleted);
    r.survey.completed_date = Some(date);
    r.survey.result = Some(result);
    Ok(Recorded::new(StepKind::SurveyCompleted, format!("survey completed on {date}")))
}

/// 主治医意見書 requested (again, of another doctor, until one is received) at `at`.
pub fn request_opinion(
    r: &mut ApplicationRecord,
    institution_code: String,
    opinion_request_id: String,
    at: DateTime<Utc>,
) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::OpinionRequested)?;
    moved(r, StepKind::OpinionRequested);
    r.opinion.institution_code = institution_code;
    r.opinion.opinion_request_id = opinion_request_id;
    r.opinion.request_time = Some(at);
    Ok(Recorded::new(StepKind::OpinionRequested, "opinion (主治医意見書) requested"))
}

/// 主治医意見書 received at `at`.
pub fn receive_opinion(r: &mut ApplicationRecord, opinion_id: String, at: DateTime<Utc>) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::OpinionReceived)?;
    moved(r, StepKind::OpinionReceived);
    r.opinion.opinion_id = opinion_id;
    r.opinion.receive_time = Some(at);
    Ok(Recorded::new(StepKind::OpinionReceived, "opinion (主治医意見書) received"))
}

/// 一次判定: the level the insurer's 認定ソフト gave (`external`), or the one computed here from
/// the survey's standard time and, in the 32–50 minute band, its `indicators`.
pub fn judge(
    r: &mut ApplicationRecord,
    external: Option<External>,
    indicators: Option<BandIndicators>,
) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::PrimaryJudgment)?;
    let Some(survey) = &r.survey.result else {
        return Err(Refusal::rule("SURVEY_NOT_COMPLETED", "no survey result is recorded"));
    };
    let minutes = survey.standard_time_tenths;
    let primary = match external {
        Some(External { level, software_version }) => PrimaryRecord {
            level,
            external: true,
            standard_time_tenths: minutes,
            explanation: format!("given by the insurer's 認定ソフト → {}", level.label()),
            software_version,
        },
        None => {
            let j = judgment::primary_judgment(minutes, indicators)
                .map_err(|e| Refusal::rule("SURVEY_RESULT_INCOMPLETE", e.to_string()))?;
            PrimaryRecord {
                level: j.level,
                external: false,
                standard_time_tenths: minutes,
                explanation: j.explanation,
                software_version: String::new(),
            }
        }
    };
    let summary = format!("primary judgment: {}", primary.level.label());
    moved(r, StepKind::PrimaryJudgment);
    r.primary = Some(primary);
    Ok(Recorded::new(StepKind::PrimaryJudgment, summary))
}

/// 再調査 asked for (docs/domain/certification.md#going-back): the completed survey's branch
/// goes back to "not scheduled" and its result, the primary judgment and the board date are set
/// aside; the application stays open and its 30-day clock runs on.
pub fn request_resurvey(r: &mut ApplicationRecord, reason: &str) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::ResurveyRequested)?;
    moved(r, StepKind::ResurveyRequested);
    r.survey = Default::default();
    r.primary = None;
    r.board = None;
    Ok(Recorded::new(StepKind::ResurveyRequested, format!("re-survey (再調査) requested: {reason}")))
}

/// 再意見書 asked of `institution_code` at `at` (docs/domain/certification.md#going-back): the
/// received opinion's branch goes back to "requested" and the primary judgment and board date
/// are set aside; the opinion received before stays named until the new one arrives.
pub fn request_second_opinion(
    r: &mut ApplicationRecord,
    institution_code: String,
    opinion_request_id: String,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::SecondOpinionRequested)?;
    moved(r, StepKind::SecondOpinionRequested);
    r.opinion.institution_code = institution_code;
    r.opinion.opinion_request_id = opinion_request_id;
    r.opinion.request_time = Some(at);
    r.opinion.receive_time = None;
    r.opinion.second_opinion_count = r.opinion.second_opinion_count.saturating_add(1);
    r.primary = None;
    r.board = None;
    Ok(Recorded::new(StepKind::SecondOpinionRequested, format!("second opinion (再意見書) requested: {reason}")))
}

/// 継続審査: the board sitting on `board_date` (not before the date it was scheduled for)
/// deferred the case; the application waits for the next session (or for a re-survey or second
/// opinion asked for after this).
pub fn defer_review(r: &mut ApplicationRecord, board_date: NaiveDate, reason: &str) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::ReviewDeferred)?;
    let scheduled = r.board.as_ref().map_or(r.application_date, |b| b.date);
    not_before("DEFERRAL_BEFORE_BOARD", board_date, scheduled, "the deferral is dated before the scheduled board")?;
    moved(r, StepKind::ReviewDeferred);
    Ok(Recorded::new(StepKind::ReviewDeferred, format!("review deferred (継続審査) on {board_date}: {reason}")))
}

/// A corrected 主治医意見書 (`opinion_id`, `revision`) received at `at` after the first: recorded
/// and shown so the insurer reads it before the decision; no state changes.
pub fn record_corrected_opinion(
    r: &mut ApplicationRecord,
    opinion_id: String,
    revision: i32,
    at: DateTime<Utc>,
) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::OpinionCorrected)?;
    moved(r, StepKind::OpinionCorrected);
    r.opinion.opinion_id = opinion_id;
    r.opinion.revision = revision;
    r.opinion.corrected_time = Some(at);
    Ok(Recorded::new(
        StepKind::OpinionCorrected,
        format!("corrected opinion (主治医意見書, revision {revision}) received: read it before the decision"),
    ))
}

/// 介護認定審査会 scheduled (again, until the decision) for `date`.
pub fn schedule_board(r: &mut ApplicationRecord, date: NaiveDate, name: String) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::ReviewBoardScheduled)?;
    not_before_application(r, "BOARD_DATE_BEFORE_APPLICATION", date, "review board")?;
    moved(r, StepKind::ReviewBoardScheduled);
    r.board = Some(BoardRecord { date, name });
    Ok(Recorded::new(StepKind::ReviewBoardScheduled, format!("review board scheduled for {date}")))
}

/// What the board decided, as the insurer records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// 要介護状態区分.
    pub level: CareLevel,
    /// 認定年月日.
    pub date: NaiveDate,
    /// The validity period the board set, if it set one (else the default).
    pub requested_validity: Option<(NaiveDate, NaiveDate)>,
    /// 認定審査会の意見.
    pub board_opinion: String,
    /// サービスの種類の指定.
    pub designated_service_types: Vec<String>,
}

/// 二次判定・認定: not before the board, with a validity period the rules allow (none for
/// 非該当) (docs/domain/certification.md#validity). Returns the step and the decision as
/// recorded (the decision event and the person's certification are made from it).
pub fn decide(
    r: &mut ApplicationRecord,
    d: Decision,
    policy: &ValidityPolicy,
) -> Result<(Recorded, DecisionRecord), Refusal> {
    workflow::check(&r.workflow, StepKind::Decided)?;
    let board_date = r.board.as_ref().map_or(r.application_date, |b| b.date);
    not_before("DECISION_BEFORE_BOARD", d.date, board_date, "the decision date is before the review board date")?;
    let previous_end = r.previous.as_ref().map(|p| p.validity_end);
    let validity = if let Some(t) = &r.transfer {
        // 転入: the certificate's level, from the application date to the certificate's end
        // (docs/domain/certification.md#transfer).
        if d.level != t.level {
            return Err(Refusal::rule(
                "TRANSFER_LEVEL_MISMATCH",
                "a 転入 carries the 受給資格証明書's level over; record that level",
            )
            .with("care_level", t.level.code().to_owned()));
        }
        let carried = (r.application_date, t.validity_end);
        if d.requested_validity.is_some_and(|v| v != carried) {
            return Err(Refusal::rule(
                "VALIDITY_START_MISMATCH",
                format!("a 転入's validity runs from {} to {}, as carried over", carried.0, carried.1),
            ));
        }
        Some(carried)
    } else if d.level == CareLevel::NotApplicable {
        None
    } else {
        let previous = r.previous.as_ref();
        let range = validity::allowed_months(r.kind, previous.map(|p| p.level), d.level, policy);
        let start = validity::expected_start(r.kind, r.application_date, previous.map(|p| p.validity_end));
        let period = validity::decide_period(start, d.requested_validity, range, policy).map_err(|e| {
            let reason = match e {
                ValidityError::WrongStart { .. } => "VALIDITY_START_MISMATCH",
                _ => "VALIDITY_OUT_OF_RANGE",
            };
            Refusal::rule(reason, e.to_string())
                .with("min_months", range.min.to_string())
                .with("max_months", range.max.to_string())
        })?;
        Some(period)
    };
    let effective_from = match validity {
        Some((start, _)) => start,
        None => validity::not_applicable_from(r.kind, r.application_date, previous_end, policy),
    };
    let primary = r.primary.as_ref().map(|p| p.level);
    let decision = DecisionRecord {
        level: d.level,
        date: d.date,
        validity,
        effective_from: Some(effective_from),
        board_opinion: d.board_opinion,
        designated_service_types: d.designated_service_types,
        limit_units_per_month: d.level.limit_units_per_month(),
        changed_from_primary: primary.is_some_and(|p| p != d.level),
    };
    moved(r, StepKind::Decided);
    r.decision = Some(decision.clone());
    Ok((Recorded::new(StepKind::Decided, format!("decided: {}", d.level.label())), decision))
}

/// 結果通知 sent on `date`, not before the decision.
pub fn record_notice(r: &mut ApplicationRecord, date: NaiveDate) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::Notified)?;
    let decided = r.decision.as_ref().map_or(r.application_date, |d| d.date);
    not_before("NOTICE_BEFORE_DECISION", date, decided, "the notice date is before the decision date")?;
    moved(r, StepKind::Notified);
    r.notified_date = Some(date);
    Ok(Recorded::new(StepKind::Notified, format!("result notice sent on {date}")))
}

/// 取下げ on `date` at the applicant's request, before the decision.
pub fn withdraw(r: &mut ApplicationRecord, date: NaiveDate, reason: String) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::Withdrawn)?;
    not_before_application(r, "WITHDRAWAL_BEFORE_APPLICATION", date, "withdrawal")?;
    moved(r, StepKind::Withdrawn);
    r.closure = Some(Closure { date: Some(date), cancel_reason: 0, text: reason });
    Ok(Recorded::new(StepKind::Withdrawn, format!("withdrawn on {date}")))
}

/// Cancelled by the insurer before the decision (`reason_code` the `CancelReason`, named
/// `reason_name` in the summary).
pub fn cancel(
    r: &mut ApplicationRecord,
    reason_code: i32,
    reason_name: &str,
    text: String,
) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::Cancelled)?;
    moved(r, StepKind::Cancelled);
    r.closure = Some(Closure { date: None, cancel_reason: reason_code, text });
    Ok(Recorded::new(StepKind::Cancelled, format!("cancelled ({reason_name})")))
}

/// 延期通知 while open, in sequence with the notices already issued (`issued`, in order)
/// (docs/domain/certification.md#deadline). The caller appends `notice` on success.
pub fn issue_delay_notice(
    r: &mut ApplicationRecord,
    issued: &[DelayNoticeRecord],
    notice: &DelayNoticeRecord,
) -> Result<Recorded, Refusal> {
    workflow::check(&r.workflow, StepKind::DelayNoticeIssued)?;
    let previous: Vec<(NaiveDate, NaiveDate)> = issued.iter().map(|n| (n.notice_date, n.expected_date)).collect();
    let input = DelayNoticeInput {
        notice_date: notice.notice_date,
        expected_date: notice.expected_date,
        reason: notice.reason,
    };
    deadline::check_delay_notice(r.application_date, &previous, &input)
        .map_err(|e| Refusal::rule(e.reason(), e.to_string()))?;
    moved(r, StepKind::DelayNoticeIssued);
    Ok(Recorded::new(
        StepKind::DelayNoticeIssued,
        format!("delay notice: decision expected by {} ({:?})", notice.expected_date, notice.reason),
    ))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::record::PreviousCertification;
    use crate::domain::record::tests_support::application;
    use crate::domain::types::{ApplicationType, DelayReason, DementiaLevel, Stability, Status, SurveyState};
    use crate::domain::workflow::Workflow;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn survey(tenths: i32) -> SurveyResult {
        SurveyResult {
            standard_time_tenths: tenths,
            stability: 0,
            dementia_level: 0,
            disability_level: 0,
            basic_items: Vec::new(),
            special_notes: Vec::new(),
        }
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 4, 3, 3, 0, 0).unwrap()
    }

    /// Survey and opinion done, judged from `tenths`, the board on 4/20.
    fn up_to_board(tenths: i32) -> ApplicationRecord {
        let mut r = application(ApplicationType::New);
        schedule_survey(&mut r, d(2026, 4, 3), "調査員".to_owned()).unwrap();
        complete_survey(&mut r, d(2026, 4, 5), survey(tenths)).unwrap();
        request_opinion(&mut r, "0110113719".to_owned(), String::new(), at()).unwrap();
        receive_opinion(&mut r, "op".to_owned(), at()).unwrap();
        judge(&mut r, None, None).unwrap();
        schedule_board(&mut r, d(2026, 4, 20), "第1合議体".to_owned()).unwrap();
        r
    }

    fn decision(level: CareLevel, date: NaiveDate) -> Decision {
        Decision {
            level,
            date,
            requested_validity: None,
            board_opinion: String::new(),
            designated_service_types: vec![],
        }
    }

    #[test]
    fn each_step_records_its_details_and_names_itself() {
        let mut r = application(ApplicationType::New);
        let step = schedule_survey(&mut r, d(2026, 4, 3), "調査員".to_owned()).unwrap();
        assert_eq!(step, Recorded::new(StepKind::SurveyScheduled, "survey scheduled for 2026-04-03"));
        assert_eq!((r.survey.scheduled_date, r.workflow.survey), (Some(d(2026, 4, 3)), SurveyState::Scheduled));
        complete_survey(&mut r, d(2026, 4, 5), survey(900)).unwrap();
        assert_eq!(r.survey.result, Some(survey(900)));
        let step = request_opinion(&mut r, "0110113719".to_owned(), "req".to_owned(), at()).unwrap();
        assert_eq!(step.kind, StepKind::OpinionRequested);
        assert_eq!((r.opinion.institution_code.as_str(), r.opinion.request_time), ("0110113719", Some(at())));
        receive_opinion(&mut r, "op".to_owned(), at()).unwrap();
        assert_eq!(r.opinion.opinion_id, "op");
        let step = judge(&mut r, None, None).unwrap();
        assert_eq!(step.kind, StepKind::PrimaryJudgment);
        assert!(r.primary.as_ref().is_some_and(|p| !p.external && p.standard_time_tenths == 900));
        schedule_board(&mut r, d(2026, 4, 20), "第1合議体".to_owned()).unwrap();
        assert_eq!(r.workflow.status, Status::BoardScheduled);
        let policy = ValidityPolicy::default();
        decide(&mut r, decision(CareLevel::Care4, d(2026, 4, 21)), &policy).unwrap();
        let decided = r.decision.clone().unwrap();
        assert!(
            decided.validity.is_some()
                && decided.changed_from_primary == (r.primary.as_ref().unwrap().level != CareLevel::Care4)
        );
        assert_eq!(record_notice(&mut r, d(2026, 4, 22)).unwrap().kind, StepKind::Notified);
        assert_eq!((r.notified_date, r.workflow.status), (Some(d(2026, 4, 22)), Status::Notified));
    }

    #[test]
    fn dates_before_the_application_board_or_decision_are_refused() {
        let mut r = application(ApplicationType::New);
        let before = r.clone();
        let early = d(2026, 3, 31);
        assert_eq!(schedule_survey(&mut r, early, String::new()).unwrap_err().reason, "SURVEY_DATE_BEFORE_APPLICATION");
        assert_eq!(r, before, "a refused step leaves the application as it was");
        assert_eq!(withdraw(&mut r.clone(), early, String::new()).unwrap_err().reason, "WITHDRAWAL_BEFORE_APPLICATION");
        let mut r = up_to_board(900);
        assert_eq!(
            schedule_board(&mut r.clone(), early, String::new()).unwrap_err().reason,
            "BOARD_DATE_BEFORE_APPLICATION"
        );
        let policy = ValidityPolicy::default();
        let refused = decide(&mut r.clone(), decision(CareLevel::Care4, d(2026, 4, 19)), &policy).unwrap_err();
        assert_eq!(refused.reason, "DECISION_BEFORE_BOARD");
        decide(&mut r, decision(CareLevel::Care4, d(2026, 4, 20)), &policy).unwrap();
        assert_eq!(record_notice(&mut r, d(2026, 4, 19)).unwrap_err().reason, "NOTICE_BEFORE_DECISION");
    }

    #[test]
    fn a_step_out_of_order_is_refused_by_the_workflow_and_changes_nothing() {
        let mut r = application(ApplicationType::New);
        let before = r.clone();
        let refused = complete_survey(&mut r, d(2026, 4, 5), survey(300)).unwrap_err();
        assert_eq!((refused.reason, refused.missing), ("SURVEY_NOT_SCHEDULED", vec![StepKind::SurveyScheduled]));
        assert_eq!(judge(&mut r, None, None).unwrap_err().reason, "PRIMARY_JUDGMENT_PREREQUISITES_MISSING");
        assert_eq!(r, before);
    }

    #[test]
    fn the_judgment_takes_the_insurers_level_or_computes_one_with_the_band_indicators() {
        let mut r = up_to_board(0);
        r.workflow = Workflow { status: Status::Received, ..r.workflow };
        let given = External { level: CareLevel::Care2, software_version: "09B".into() };
        let step = judge(&mut r.clone(), Some(given), None).unwrap();
        assert_eq!(step.summary, format!("primary judgment: {}", CareLevel::Care2.label()));
        // 41.5 minutes is in the 32–50 band: the indicators are needed.
        r.survey.result = Some(survey(415));
        assert_eq!(judge(&mut r.clone(), None, None).unwrap_err().reason, "SURVEY_RESULT_INCOMPLETE");
        let unstable = BandIndicators { stability: Stability::Unstable, dementia: DementiaLevel::I };
        judge(&mut r, None, Some(unstable)).unwrap();
        assert_eq!(r.primary.map(|p| p.level), Some(CareLevel::Care1));
    }

    #[test]
    fn a_decision_outside_the_allowed_validity_names_the_range() {
        let mut r = up_to_board(900);
        let policy = ValidityPolicy::default();
        let long = Decision {
            requested_validity: Some((d(2026, 4, 1), d(2030, 3, 31))),
            ..decision(CareLevel::Care4, d(2026, 4, 21))
        };
        let refused = decide(&mut r.clone(), long, &policy).unwrap_err();
        assert_eq!(refused.reason, "VALIDITY_OUT_OF_RANGE");
        assert!(refused.metadata.iter().any(|(k, _)| *k == "min_months"));
        assert!(refused.metadata.iter().any(|(k, _)| *k == "max_months"));
        // 非該当 has no validity.
        decide(&mut r, decision(CareLevel::NotApplicable, d(2026, 4, 21)), &policy).unwrap();
        assert_eq!(r.decision.map(|d| d.validity), Some(None));
        // A renewal starts after the current period.
        let mut renewal = up_to_board(900);
        renewal.kind = ApplicationType::Renewal;
        renewal.previous = Some(PreviousCertification { level: CareLevel::Care4, validity_end: d(2026, 4, 30) });
        let wrong = Decision {
            requested_validity: Some((d(2026, 4, 1), d(2027, 3, 31))),
            ..decision(CareLevel::Care4, d(2026, 4, 21))
        };
        assert_eq!(decide(&mut renewal, wrong, &policy).unwrap_err().reason, "VALIDITY_START_MISMATCH");
    }

    #[test]
    fn going_back_sets_the_judgment_aside_and_keeps_the_application_open() {
        let mut r = up_to_board(600);
        let step = request_resurvey(&mut r, "調査結果と意見書が合わない").unwrap();
        assert_eq!(step.kind, StepKind::ResurveyRequested);
        assert!(r.primary.is_none() && r.board.is_none() && r.survey.result.is_none());
        assert_eq!((r.workflow.status, r.workflow.survey), (Status::Received, SurveyState::NotScheduled));
        assert_eq!(request_resurvey(&mut r, "x").unwrap_err().reason, "SURVEY_NOT_COMPLETED");

        let mut r = up_to_board(600);
        let at = at();
        request_second_opinion(&mut r, "1311234569".into(), String::new(), "所見の確認", at).unwrap();
        assert_eq!((r.workflow.status, r.opinion.second_opinion_count), (Status::Received, 1));
        assert_eq!((r.opinion.request_time, r.opinion.receive_time), (Some(at), None));
        assert!(r.primary.is_none());
        let refused = record_corrected_opinion(&mut r, "o2".into(), 2, at).unwrap_err();
        assert_eq!(refused.reason, "OPINION_NOT_YET_RECEIVED");

        let mut r = up_to_board(600);
        let board = r.board.as_ref().unwrap().date;
        let early = board.pred_opt().unwrap();
        assert_eq!(defer_review(&mut r.clone(), early, "x").unwrap_err().reason, "DEFERRAL_BEFORE_BOARD");
        defer_review(&mut r, board, "資料不足").unwrap();
        assert_eq!(r.workflow.status, Status::PrimaryJudged);
        assert!(r.primary.is_some(), "a deferral keeps the primary judgment");
        let step = record_corrected_opinion(&mut r, "o2".into(), 2, at).unwrap();
        assert_eq!(
            (step.kind, r.opinion.revision, r.opinion.corrected_time),
            (StepKind::OpinionCorrected, 2, Some(at))
        );
        assert_eq!(r.workflow.status, Status::PrimaryJudged, "no state change");
    }

    #[test]
    fn closures_and_delay_notices_record_what_they_say() {
        let mut r = application(ApplicationType::New);
        withdraw(&mut r, d(2026, 4, 2), "入院".to_owned()).unwrap();
        assert_eq!(r.closure.as_ref().map(|c| (c.date, c.text.as_str())), Some((Some(d(2026, 4, 2)), "入院")));
        assert_eq!(cancel(&mut r, 1, "DEATH", String::new()).unwrap_err().reason, "APPLICATION_CLOSED");
        let mut r = application(ApplicationType::New);
        let step = cancel(&mut r, 2, "CANCEL_REASON_OTHER", "転居".to_owned()).unwrap();
        assert_eq!(step.summary, "cancelled (CANCEL_REASON_OTHER)");
        assert_eq!(r.workflow.status, Status::Cancelled);

        let mut r = application(ApplicationType::New);
        let notice = |n: NaiveDate, e: NaiveDate| DelayNoticeRecord {
            notice_date: n,
            expected_date: e,
            reason: DelayReason::OpinionNotReady,
            reason_text: String::new(),
        };
        let first = notice(d(2026, 4, 25), d(2026, 5, 20));
        assert_eq!(issue_delay_notice(&mut r, &[], &first).unwrap().kind, StepKind::DelayNoticeIssued);
        let not_later = notice(d(2026, 5, 10), d(2026, 5, 20));
        let refused = issue_delay_notice(&mut r, std::slice::from_ref(&first), &not_later).unwrap_err();
        assert_eq!(refused.reason, "DELAY_EXPECTED_DATE_NOT_AFTER_PREVIOUS");
        let late_first = notice(d(2026, 5, 2), d(2026, 5, 20));
        assert_eq!(issue_delay_notice(&mut r, &[], &late_first).unwrap_err().reason, "DELAY_NOTICE_AFTER_DEADLINE");
    }
}
