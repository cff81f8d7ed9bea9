//! The step RPCs: each validates its input, then inside one transaction checks the caller
//! against the stored application, checks the workflow order and the step's own rules, and
//! appends the step.

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::events::NewEvent;
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_platform::ids::MedicalInstitutionCode;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;

use super::submit::MAX_TEXT;
use super::{Inner, actor, check_application_id, convert};
use crate::domain::access::{self, Parties};
use crate::domain::judgment::{self, BandIndicators};
use crate::domain::types::{CareLevel, DelayReason, StepKind};
use crate::domain::workflow::{self, Refusal};
use crate::domain::{deadline, validity};
use crate::record::{
    ActorRecord, ApplicationRecord, BoardRecord, Closure, DecisionRecord, DelayNoticeRecord, LoadedApplication,
    PrimaryRecord, SurveyResult,
};
use crate::store::{Change, DecidedCertification, NewStep};

/// The topic of the decision event.
pub const DECIDED_TOPIC: &str = "certification.decided";

/// Who may call a step RPC.
#[derive(Clone, Copy)]
enum Who {
    /// The deciding insurer.
    Insurer,
    /// The insurer, the acting office or the person (withdrawal).
    Party,
}

/// The common parts of a step request.
struct Call<'a> {
    rpc: &'static str,
    request_id: &'a str,
    application_id: &'a str,
    expected_version: i64,
    who: Who,
}

/// A workflow refusal as FAILED_PRECONDITION naming the rule and the missing steps.
pub(crate) fn refused(r: Refusal) -> ApiError {
    let missing: Vec<&str> = r.missing.iter().map(|k| k.name()).collect();
    let err = ApiError::failed_precondition(r.reason, r.message);
    if missing.is_empty() { err } else { err.with_metadata("missing", missing.join(",")) }
}

/// Moves the workflow by `kind`, or refuses.
pub(crate) fn advance(record: &mut ApplicationRecord, kind: StepKind) -> Result<(), ApiError> {
    workflow::check(&record.workflow, kind).map_err(refused)?;
    record.workflow = workflow::apply(record.workflow, kind);
    Ok(())
}

fn parties(r: &ApplicationRecord) -> Parties<'_> {
    Parties {
        insurer_number: &r.insurer_number,
        acting_office_number: r.acting_office_number.as_deref(),
        person_subject: r.person_subject.as_deref(),
    }
}

fn required_date(v: &mut Violations, field: &str, d: Option<&kaigo_proto::google::r#type::Date>) -> Option<NaiveDate> {
    match d {
        None => {
            v.add(field, "required");
            None
        }
        Some(d) => v.check(field, convert::date(d)),
    }
}

fn occur_time(v: &mut Violations, t: Option<&prost_types::Timestamp>, now: DateTime<Utc>) -> DateTime<Utc> {
    match t {
        None => now,
        Some(t) => match convert::instant(t) {
            Some(t) if t <= now + chrono::Duration::minutes(5) => t,
            Some(_) => {
                v.add("occur_time", "must not be in the future");
                now
            }
            None => {
                v.add("occur_time", "out of range");
                now
            }
        },
    }
}

fn text(v: &mut Violations, field: &str, s: &str) {
    if s.chars().count() > MAX_TEXT {
        v.add(field, format!("at most {MAX_TEXT} characters"));
    }
}

fn not_before(what: &'static str, date: NaiveDate, floor: NaiveDate, message: &str) -> Result<(), ApiError> {
    if date < floor { Err(ApiError::failed_precondition(what, message.to_owned())) } else { Ok(()) }
}

fn one_step(kind: StepKind, occur: DateTime<Utc>, actor: ActorRecord, summary: String) -> Change {
    Change { steps: vec![NewStep { kind, occur_time: occur, actor, summary }], ..Change::default() }
}

impl Inner {
    /// Runs one step write: role, input, then the stored checks and the change.
    async fn step<Req, Resp, M>(
        &self,
        caller: &Caller,
        call: Call<'_>,
        request: &Req,
        mut v: Violations,
        mutate: M,
        wrap: fn(pb::Application) -> Resp,
    ) -> Result<Resp, ApiError>
    where
        Req: prost::Message,
        Resp: prost::Message + Default,
        M: FnOnce(&mut LoadedApplication) -> Result<Change, ApiError>,
    {
        let who = call.who;
        let role_ok = match who {
            Who::Insurer => access::role_may_record_steps(caller.role),
            Who::Party => access::role_may_read(caller.role),
        };
        if !role_ok {
            return Err(ApiError::permission_denied("STEP_NOT_ALLOWED", "the caller may not record this step"));
        }
        check_request_id(&mut v, "request_id", call.request_id);
        check_application_id(&mut v, call.application_id);
        if call.expected_version <= 0 {
            v.add("expected_version", "required: the version last read (> 0)");
        }
        v.into_result()?;
        let key = IdempotencyKey::new(call.rpc, caller, call.request_id, request);
        let today = self.clock.today_jst();
        let at_risk = self.settings.at_risk_day;
        let written = self
            .store
            .write(
                &key,
                call.application_id,
                call.expected_version,
                self.clock.now(),
                |record| {
                    let p = parties(record);
                    let allowed = match who {
                        Who::Insurer => access::may_record_steps(caller, &p),
                        Who::Party => access::may_withdraw(caller, &p),
                    };
                    if allowed {
                        Ok(())
                    } else {
                        Err(ApiError::permission_denied(
                            "STEP_NOT_ALLOWED",
                            "the caller may not record steps of this application",
                        ))
                    }
                },
                mutate,
                |loaded| prost::Message::encode_to_vec(&wrap(convert::application(loaded, today, at_risk, true))),
            )
            .await?;
        self.finish(written).await
    }

    pub(crate) async fn survey_scheduled(
        &self,
        caller: &Caller,
        r: &pb::RecordSurveyScheduledRequest,
    ) -> Result<pb::RecordSurveyScheduledResponse, ApiError> {
        let mut v = Violations::new();
        let date = required_date(&mut v, "scheduled_date", r.scheduled_date.as_ref());
        text(&mut v, "surveyor", &r.surveyor);
        let occur = occur_time(&mut v, r.occur_time.as_ref(), self.clock.now());
        let who = actor(caller);
        let call = Call {
            rpc: "RecordSurveyScheduled",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                let date = date.ok_or_else(|| ApiError::internal("validated"))?;
                advance(&mut a.record, StepKind::SurveyScheduled)?;
                not_before(
                    "SURVEY_DATE_BEFORE_APPLICATION",
                    date,
                    a.record.application_date,
                    "the survey date is before the application date",
                )?;
                a.record.survey.scheduled_date = Some(date);
                a.record.survey.surveyor = r.surveyor.clone();
                Ok(one_step(StepKind::SurveyScheduled, occur, who, format!("survey scheduled for {date}")))
            },
            |application| pb::RecordSurveyScheduledResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn survey_completed(
        &self,
        caller: &Caller,
        r: &pb::RecordSurveyCompletedRequest,
    ) -> Result<pb::RecordSurveyCompletedResponse, ApiError> {
        let mut v = Violations::new();
        let date = required_date(&mut v, "completed_date", r.completed_date.as_ref());
        let today = self.clock.today_jst();
        if date.is_some_and(|d| d > today) {
            v.add("completed_date", "must not be in the future (JST)");
        }
        let mut result = None;
        match &r.result {
            None => v.add("result", "required"),
            Some(res) => {
                if res.standard_time_tenth_minutes < 0 {
                    v.add("result.standard_time_tenth_minutes", "must not be negative");
                } else if res.standard_time_tenth_minutes > 100_000 {
                    v.add("result.standard_time_tenth_minutes", "implausibly large");
                }
                let in_band = judgment::in_split_band(res.standard_time_tenth_minutes);
                if pb::ConditionStability::try_from(res.stability).is_err()
                    || (in_band && convert::stability_from(res.stability).is_none())
                {
                    v.add("result.stability", "required when the standard time is in the 32–50 minute band");
                }
                if common::DementiaIndependenceLevel::try_from(res.dementia_level).is_err()
                    || (in_band && convert::dementia_from(res.dementia_level).is_none())
                {
                    v.add("result.dementia_level", "required when the standard time is in the 32–50 minute band");
                }
                if common::DisabilityIndependenceLevel::try_from(res.disability_level).is_err() {
                    v.add("result.disability_level", "unknown value");
                }
                result = Some(SurveyResult {
                    standard_time_tenths: res.standard_time_tenth_minutes,
                    stability: res.stability,
                    dementia_level: res.dementia_level,
                    disability_level: res.disability_level,
                });
            }
        }
        let occur = occur_time(&mut v, r.occur_time.as_ref(), self.clock.now());
        let who = actor(caller);
        let call = Call {
            rpc: "RecordSurveyCompleted",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                let date = date.ok_or_else(|| ApiError::internal("validated"))?;
                advance(&mut a.record, StepKind::SurveyCompleted)?;
                not_before(
                    "SURVEY_DATE_BEFORE_APPLICATION",
                    date,
                    a.record.application_date,
                    "the survey date is before the application date",
                )?;
                a.record.survey.completed_date = Some(date);
                a.record.survey.result = result;
                Ok(one_step(StepKind::SurveyCompleted, occur, who, format!("survey completed on {date}")))
            },
            |application| pb::RecordSurveyCompletedResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn opinion_requested(
        &self,
        caller: &Caller,
        r: &pb::RecordOpinionRequestedRequest,
    ) -> Result<pb::RecordOpinionRequestedResponse, ApiError> {
        let mut v = Violations::new();
        let institution = v.check("institution_code", MedicalInstitutionCode::parse(&r.institution_code));
        if !r.opinion_request_id.is_empty() && uuid::Uuid::parse_str(&r.opinion_request_id).is_err() {
            v.add("opinion_request_id", "must be a UUID");
        }
        let occur = occur_time(&mut v, r.occur_time.as_ref(), self.clock.now());
        let who = actor(caller);
        let call = Call {
            rpc: "RecordOpinionRequested",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                advance(&mut a.record, StepKind::OpinionRequested)?;
                a.record.opinion.institution_code = institution.map(|i| i.as_str().to_owned()).unwrap_or_default();
                a.record.opinion.opinion_request_id = r.opinion_request_id.clone();
                a.record.opinion.request_time = Some(occur);
                Ok(one_step(StepKind::OpinionRequested, occur, who, "opinion (主治医意見書) requested".to_owned()))
            },
            |application| pb::RecordOpinionRequestedResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn opinion_received(
        &self,
        caller: &Caller,
        r: &pb::RecordOpinionReceivedRequest,
    ) -> Result<pb::RecordOpinionReceivedResponse, ApiError> {
        let mut v = Violations::new();
        if r.opinion_id.is_empty() {
            v.add("opinion_id", "required");
        } else if r.opinion_id.chars().count() > 64 {
            v.add("opinion_id", "at most 64 characters");
        }
        let occur = occur_time(&mut v, r.occur_time.as_ref(), self.clock.now());
        let who = actor(caller);
        let call = Call {
            rpc: "RecordOpinionReceived",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                advance(&mut a.record, StepKind::OpinionReceived)?;
                a.record.opinion.opinion_id = r.opinion_id.clone();
                a.record.opinion.receive_time = Some(occur);
                Ok(one_step(StepKind::OpinionReceived, occur, who, "opinion (主治医意見書) received".to_owned()))
            },
            |application| pb::RecordOpinionReceivedResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn primary_judgment(
        &self,
        caller: &Caller,
        r: &pb::RecordPrimaryJudgmentRequest,
    ) -> Result<pb::RecordPrimaryJudgmentResponse, ApiError> {
        let mut v = Violations::new();
        let external = if r.external_care_level == 0 {
            None
        } else {
            let level = convert::care_level_from(r.external_care_level);
            if level.is_none() {
                v.add("external_care_level", "must be 非該当, 要支援1–2 or 要介護1–5");
            }
            level
        };
        let occur = occur_time(&mut v, r.occur_time.as_ref(), self.clock.now());
        let who = actor(caller);
        let call = Call {
            rpc: "RecordPrimaryJudgment",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                advance(&mut a.record, StepKind::PrimaryJudgment)?;
                let survey = a.record.survey.result.clone().ok_or_else(|| {
                    ApiError::failed_precondition("SURVEY_NOT_COMPLETED", "no survey result is recorded")
                })?;
                let indicators = convert::stability_from(survey.stability)
                    .zip(convert::dementia_from(survey.dementia_level))
                    .map(|(stability, dementia)| BandIndicators { stability, dementia });
                let primary = match external {
                    Some(level) => PrimaryRecord {
                        level,
                        external: true,
                        standard_time_tenths: survey.standard_time_tenths,
                        explanation: format!("given by the insurer's 認定ソフト → {}", level.label()),
                    },
                    None => {
                        let j = judgment::primary_judgment(survey.standard_time_tenths, indicators)
                            .map_err(|e| ApiError::failed_precondition("SURVEY_RESULT_INCOMPLETE", e.to_string()))?;
                        PrimaryRecord {
                            level: j.level,
                            external: false,
                            standard_time_tenths: survey.standard_time_tenths,
                            explanation: j.explanation,
                        }
                    }
                };
                let summary = format!("primary judgment: {}", primary.level.label());
                a.record.primary = Some(primary);
                Ok(one_step(StepKind::PrimaryJudgment, occur, who, summary))
            },
            |application| pb::RecordPrimaryJudgmentResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn review_board(
        &self,
        caller: &Caller,
        r: &pb::ScheduleReviewBoardRequest,
    ) -> Result<pb::ScheduleReviewBoardResponse, ApiError> {
        let mut v = Violations::new();
        let date = required_date(&mut v, "board_date", r.board_date.as_ref());
        if r.board_name.chars().count() > 100 {
            v.add("board_name", "at most 100 characters");
        }
        let occur = occur_time(&mut v, r.occur_time.as_ref(), self.clock.now());
        let who = actor(caller);
        let call = Call {
            rpc: "ScheduleReviewBoard",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                let date = date.ok_or_else(|| ApiError::internal("validated"))?;
                advance(&mut a.record, StepKind::ReviewBoardScheduled)?;
                not_before(
                    "BOARD_DATE_BEFORE_APPLICATION",
                    date,
                    a.record.application_date,
                    "the review board date is before the application date",
                )?;
                a.record.board = Some(BoardRecord { date, name: r.board_name.clone() });
                Ok(one_step(StepKind::ReviewBoardScheduled, occur, who, format!("review board scheduled for {date}")))
            },
            |application| pb::ScheduleReviewBoardResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn decision(
        &self,
        caller: &Caller,
        r: &pb::RecordDecisionRequest,
    ) -> Result<pb::RecordDecisionResponse, ApiError> {
        let mut v = Violations::new();
        let level = convert::care_level_from(r.care_level);
        if level.is_none() {
            v.add("care_level", "required: 非該当, 要支援1–2 or 要介護1–5");
        }
        let date = required_date(&mut v, "decision_date", r.decision_date.as_ref());
        let mut requested = None;
        if let Some(p) = &r.validity {
            let start = required_date(&mut v, "validity.start", p.start.as_ref());
            let end = required_date(&mut v, "validity.end", p.end.as_ref());
            if let (Some(s), Some(e)) = (start, end) {
                if e < s {
                    v.add("validity.end", "must not be before the start");
                }
                requested = Some((s, e));
            }
        }
        text(&mut v, "board_opinion", &r.board_opinion);
        for (i, t) in r.designated_service_types.iter().enumerate() {
            if t.len() != 2 || !t.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
                v.add(format!("designated_service_types[{i}]"), "a 2-character サービス種類コード");
            }
        }
        let occur = occur_time(&mut v, r.occur_time.as_ref(), self.clock.now());
        let now = self.clock.now();
        let who = actor(caller);
        let policy = self.settings.validity;
        let call = Call {
            rpc: "RecordDecision",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                let (level, date) = level.zip(date).ok_or_else(|| ApiError::internal("validated"))?;
                advance(&mut a.record, StepKind::Decided)?;
                let rec = &mut a.record;
                let board_date = rec.board.as_ref().map_or(rec.application_date, |b| b.date);
                not_before(
                    "DECISION_BEFORE_BOARD",
                    date,
                    board_date,
                    "the decision date is before the review board date",
                )?;
                let validity = if level == CareLevel::NotApplicable {
                    None
                } else {
                    let previous = rec.previous.as_ref();
                    let range = validity::allowed_months(rec.kind, previous.map(|p| p.level), level, &policy);
                    let start =
                        validity::expected_start(rec.kind, rec.application_date, previous.map(|p| p.validity_end));
                    let period = validity::decide_period(start, requested, range, &policy).map_err(|e| {
                        let reason = match e {
                            validity::ValidityError::WrongStart { .. } => "VALIDITY_START_MISMATCH",
                            _ => "VALIDITY_OUT_OF_RANGE",
                        };
                        ApiError::failed_precondition(reason, e.to_string())
                            .with_metadata("min_months", range.min.to_string())
                            .with_metadata("max_months", range.max.to_string())
                    })?;
                    Some(period)
                };
                let primary = rec.primary.as_ref().map(|p| p.level);
                let decision = DecisionRecord {
                    level,
                    date,
                    validity,
                    board_opinion: r.board_opinion.clone(),
                    designated_service_types: r.designated_service_types.clone(),
                    limit_units_per_month: level.limit_units_per_month(),
                    changed_from_primary: primary.is_some_and(|p| p != level),
                };
                let event = decided_event(rec, &decision, primary, now);
                rec.decision = Some(decision);
                let mut change = one_step(StepKind::Decided, occur, who, format!("decided: {}", level.label()));
                change.event = Some(NewEvent {
                    topic: DECIDED_TOPIC.to_owned(),
                    key: rec.id.clone(),
                    payload: prost::Message::encode_to_vec(&event),
                });
                change.certification = Some(DecidedCertification { level, validity, decision_date: date });
                Ok(change)
            },
            |application| pb::RecordDecisionResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn notified(
        &self,
        caller: &Caller,
        r: &pb::RecordNotifiedRequest,
    ) -> Result<pb::RecordNotifiedResponse, ApiError> {
        let mut v = Violations::new();
        let date = required_date(&mut v, "notified_date", r.notified_date.as_ref());
        let occur = occur_time(&mut v, r.occur_time.as_ref(), self.clock.now());
        let who = actor(caller);
        let call = Call {
            rpc: "RecordNotified",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                let date = date.ok_or_else(|| ApiError::internal("validated"))?;
                advance(&mut a.record, StepKind::Notified)?;
                let decided = a.record.decision.as_ref().map_or(a.record.application_date, |d| d.date);
                not_before("NOTICE_BEFORE_DECISION", date, decided, "the notice date is before the decision date")?;
                a.record.notified_date = Some(date);
                Ok(one_step(StepKind::Notified, occur, who, format!("result notice sent on {date}")))
            },
            |application| pb::RecordNotifiedResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn withdraw(
        &self,
        caller: &Caller,
        r: &pb::WithdrawApplicationRequest,
    ) -> Result<pb::WithdrawApplicationResponse, ApiError> {
        let mut v = Violations::new();
        let date = required_date(&mut v, "withdrawn_date", r.withdrawn_date.as_ref());
        text(&mut v, "reason", &r.reason);
        let now = self.clock.now();
        let who = actor(caller);
        let call = Call {
            rpc: "WithdrawApplication",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Party,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                let date = date.ok_or_else(|| ApiError::internal("validated"))?;
                advance(&mut a.record, StepKind::Withdrawn)?;
                not_before(
                    "WITHDRAWAL_BEFORE_APPLICATION",
                    date,
                    a.record.application_date,
                    "the withdrawal date is before the application date",
                )?;
                a.record.closure = Some(Closure { date: Some(date), cancel_reason: 0, text: r.reason.clone() });
                Ok(one_step(StepKind::Withdrawn, now, who, format!("withdrawn on {date}")))
            },
            |application| pb::WithdrawApplicationResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn cancel(
        &self,
        caller: &Caller,
        r: &pb::CancelApplicationRequest,
    ) -> Result<pb::CancelApplicationResponse, ApiError> {
        let mut v = Violations::new();
        let reason = pb::CancelReason::try_from(r.reason).unwrap_or(pb::CancelReason::Unspecified);
        if reason == pb::CancelReason::Unspecified {
            v.add("reason", "required");
        }
        if reason == pb::CancelReason::Other && r.reason_text.trim().is_empty() {
            v.add("reason_text", "required for CANCEL_REASON_OTHER");
        }
        text(&mut v, "reason_text", &r.reason_text);
        let now = self.clock.now();
        let who = actor(caller);
        let call = Call {
            rpc: "CancelApplication",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                advance(&mut a.record, StepKind::Cancelled)?;
                a.record.closure = Some(Closure { date: None, cancel_reason: r.reason, text: r.reason_text.clone() });
                Ok(one_step(StepKind::Cancelled, now, who, format!("cancelled ({})", reason.as_str_name())))
            },
            |application| pb::CancelApplicationResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn delay_notice(
        &self,
        caller: &Caller,
        r: &pb::IssueDelayNoticeRequest,
    ) -> Result<pb::IssueDelayNoticeResponse, ApiError> {
        let mut v = Violations::new();
        let notice_date = required_date(&mut v, "notice_date", r.notice_date.as_ref());
        let expected = required_date(&mut v, "expected_decision_date", r.expected_decision_date.as_ref());
        let reason = convert::delay_reason_from(r.reason);
        if reason.is_none() {
            v.add("reason", "required");
        }
        if reason == Some(DelayReason::Other) && r.reason_text.trim().is_empty() {
            v.add("reason_text", "required for DELAY_REASON_OTHER");
        }
        text(&mut v, "reason_text", &r.reason_text);
        let now = self.clock.now();
        let who = actor(caller);
        let call = Call {
            rpc: "IssueDelayNotice",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        self.step(
            caller,
            call,
            r,
            v,
            |a| {
                let (notice_date, expected, reason) = match (notice_date, expected, reason) {
                    (Some(n), Some(e), Some(r)) => (n, e, r),
                    _ => return Err(ApiError::internal("validated")),
                };
                advance(&mut a.record, StepKind::DelayNoticeIssued)?;
                let previous: Vec<(NaiveDate, NaiveDate)> =
                    a.delay_notices.iter().map(|n| (n.notice_date, n.expected_date)).collect();
                let input = deadline::DelayNoticeInput { notice_date, expected_date: expected, reason };
                deadline::check_delay_notice(a.record.application_date, &previous, &input)
                    .map_err(|e| ApiError::failed_precondition(e.reason(), e.to_string()))?;
                let mut change = one_step(
                    StepKind::DelayNoticeIssued,
                    now,
                    who,
                    format!("delay notice: decision expected by {expected} ({reason:?})"),
                );
                change.delay_notice = Some(DelayNoticeRecord {
                    notice_date,
                    expected_date: expected,
                    reason,
                    reason_text: r.reason_text.clone(),
                });
                Ok(change)
            },
            |application| pb::IssueDelayNoticeResponse { application: Some(application) },
        )
        .await
    }
}

/// The `certification.decided` payload: everything eligibility needs to record the period.
fn decided_event(
    rec: &ApplicationRecord,
    d: &DecisionRecord,
    primary: Option<CareLevel>,
    now: DateTime<Utc>,
) -> pb::CertificationDecidedEvent {
    pb::CertificationDecidedEvent {
        application_id: rec.id.clone(),
        insurer_number: rec.insurer_number.clone(),
        insured_number: rec.insured_number.clone(),
        application_type: convert::application_type(rec.kind) as i32,
        application_date: Some(convert::wire_date(rec.application_date)),
        care_level: convert::care_level(d.level) as i32,
        certified_date: Some(convert::wire_date(d.date)),
        validity: d
            .validity
            .map(|(s, e)| common::Period { start: Some(convert::wire_date(s)), end: Some(convert::wire_date(e)) }),
        limit_units_per_month: d.limit_units_per_month,
        board_opinion: d.board_opinion.clone(),
        designated_service_types: d.designated_service_types.clone(),
        acting_office_number: rec.acting_office_number.clone().unwrap_or_default(),
        previous_care_level: rec.previous.as_ref().map_or(0, |p| convert::care_level(p.level) as i32),
        primary_care_level: primary.map_or(0, |p| convert::care_level(p) as i32),
        decide_time: Some(convert::timestamp(now)),
    }
}
