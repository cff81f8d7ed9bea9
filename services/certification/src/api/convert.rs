//! Mapping between the protobuf contract and the service's records and domain types.

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_proto::google::r#type::Date;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::{from_naive_date, to_naive_date};

use crate::domain::deadline::{self, DeadlineFacts, DeadlineStatus};
use crate::domain::record::{LoadedApplication, StepRecord};
use crate::domain::types::{
    ApplicationType, CareLevel, DelayReason, DementiaLevel, OpinionState, Stability, Status, StepKind, SurveyState,
};
use crate::domain::workflow::{self, Workflow};

/// A timestamp on the wire.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: t.timestamp(), nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0) }
}

/// A wire timestamp as an instant (`None` when out of range).
pub fn instant(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?)
}

/// A wire date as a calendar date, with a readable error.
pub fn date(d: &Date) -> Result<NaiveDate, String> {
    to_naive_date(d).map_err(|e| e.to_string())
}

/// A calendar date on the wire.
pub fn wire_date(d: NaiveDate) -> Date {
    from_naive_date(d)
}

pub fn application_type_from(v: i32) -> Option<ApplicationType> {
    match pb::ApplicationType::try_from(v).ok()? {
        pb::ApplicationType::New => Some(ApplicationType::New),
        pb::ApplicationType::Renewal => Some(ApplicationType::Renewal),
        pb::ApplicationType::LevelChange => Some(ApplicationType::LevelChange),
        pb::ApplicationType::ExOfficio => Some(ApplicationType::ExOfficio),
        pb::ApplicationType::Transfer => Some(ApplicationType::Transfer),
        pb::ApplicationType::Unspecified => None,
    }
}

pub fn application_type(t: ApplicationType) -> pb::ApplicationType {
    match t {
        ApplicationType::New => pb::ApplicationType::New,
        ApplicationType::Renewal => pb::ApplicationType::Renewal,
        ApplicationType::LevelChange => pb::ApplicationType::LevelChange,
        ApplicationType::ExOfficio => pb::ApplicationType::ExOfficio,
        ApplicationType::Transfer => pb::ApplicationType::Transfer,
    }
}

pub fn care_level(l: CareLevel) -> common::CareLevel {
    use common::CareLevel as W;
    match l {
        CareLevel::NotApplicable => W::NotApplicable,
        CareLevel::Support1 => W::Support1,
        CareLevel::Support2 => W::Support2,
        CareLevel::Care1 => W::Care1,
        CareLevel::Care2 => W::Care2,
        CareLevel::Care3 => W::Care3,
        CareLevel::Care4 => W::Care4,
        CareLevel::Care5 => W::Care5,
    }
}

pub fn stability_from(v: i32) -> Option<Stability> {
    match pb::ConditionStability::try_from(v).ok()? {
        pb::ConditionStability::Stable => Some(Stability::Stable),
        pb::ConditionStability::Unstable => Some(Stability::Unstable),
        pb::ConditionStability::Unspecified => None,
    }
}

pub fn dementia_from(v: i32) -> Option<DementiaLevel> {
    use common::DementiaIndependenceLevel as W;
    Some(match W::try_from(v).ok()? {
        W::Independent => DementiaLevel::Independent,
        W::I => DementiaLevel::I,
        W::Iia => DementiaLevel::IIa,
        W::Iib => DementiaLevel::IIb,
        W::Iiia => DementiaLevel::IIIa,
        W::Iiib => DementiaLevel::IIIb,
        W::Iv => DementiaLevel::IV,
        W::M => DementiaLevel::M,
        W::Unspecified => return None,
    })
}

pub fn delay_reason_from(v: i32) -> Option<DelayReason> {
    DelayReason::from_code(v)
}

pub fn status(s: Status) -> pb::ApplicationStatus {
    use pb::ApplicationStatus as W;
    match s {
        Status::Received => W::Received,
        Status::PrimaryJudged => W::PrimaryJudged,
        Status::BoardScheduled => W::BoardScheduled,
        Status::Decided => W::Decided,
        Status::Notified => W::Notified,
        Status::Withdrawn => W::Withdrawn,
        Status::Cancelled => W::Cancelled,
    }
}

pub fn status_from(v: i32) -> Option<Status> {
    use pb::ApplicationStatus as W;
    Some(match W::try_from(v).ok()? {
        W::Received => Status::Received,
        W::PrimaryJudged => Status::PrimaryJudged,
        W::BoardScheduled => Status::BoardScheduled,
        W::Decided => Status::Decided,
        W::Notified => Status::Notified,
        W::Withdrawn => Status::Withdrawn,
        W::Cancelled => Status::Cancelled,
        W::Unspecified => return None,
    })
}

pub fn survey_state(s: SurveyState) -> pb::SurveyState {
    match s {
        SurveyState::NotScheduled => pb::SurveyState::NotScheduled,
        SurveyState::Scheduled => pb::SurveyState::Scheduled,
        SurveyState::Completed => pb::SurveyState::Completed,
    }
}

pub fn opinion_state(s: OpinionState) -> pb::OpinionState {
    match s {
        OpinionState::NotRequested => pb::OpinionState::NotRequested,
        OpinionState::Requested => pb::OpinionState::Requested,
        OpinionState::Received => pb::OpinionState::Received,
    }
}

pub fn step_kind(k: StepKind) -> pb::StepKind {
    pb::StepKind::try_from(k.code()).unwrap_or(pb::StepKind::Unspecified)
}

pub fn deadline_status(s: DeadlineStatus) -> pb::DeadlineStatus {
    use pb::DeadlineStatus as W;
    match s {
        DeadlineStatus::OnTrack => W::OnTrack,
        DeadlineStatus::AtRisk => W::AtRisk,
        DeadlineStatus::Overdue => W::Overdue,
        DeadlineStatus::Met => W::Met,
        DeadlineStatus::Missed => W::Missed,
        DeadlineStatus::NotApplicable => W::NotApplicable,
    }
}

pub fn deadline_status_from(v: i32) -> Option<DeadlineStatus> {
    use pb::DeadlineStatus as W;
    Some(match W::try_from(v).ok()? {
        W::OnTrack => DeadlineStatus::OnTrack,
        W::AtRisk => DeadlineStatus::AtRisk,
        W::Overdue => DeadlineStatus::Overdue,
        W::Met => DeadlineStatus::Met,
        W::Missed => DeadlineStatus::Missed,
        W::NotApplicable => DeadlineStatus::NotApplicable,
        W::Unspecified => return None,
    })
}

pub fn step(s: &StepRecord) -> pb::ApplicationStep {
    pb::ApplicationStep {
        sequence: s.sequence,
        kind: step_kind(s.kind) as i32,
        occur_time: Some(timestamp(s.occur_time)),
        record_time: Some(timestamp(s.record_time)),
        actor: Some(common::Actor {
            role: s.actor.role,
            subject: s.actor.subject.clone(),
            organization_number: s.actor.organization_number.clone(),
        }),
        summary: s.summary.clone(),
    }
}

pub fn facts(a: &LoadedApplication, status: Status) -> DeadlineFacts {
    DeadlineFacts {
        application_date: a.record.application_date,
        status,
        decision_date: a.record.decision.as_ref().map(|d| d.date),
        latest_expected_date: a.latest_expected_date(),
        in_force_until: a.record.in_force_until,
    }
}

/// The full application.
pub fn application(a: &LoadedApplication, today: NaiveDate, at_risk_day: u32, with_steps: bool) -> pb::Application {
    let r = &a.record;
    pb::Application {
        application_id: r.id.clone(),
        insurer_number: r.insurer_number.clone(),
        insured_number: r.insured_number.clone(),
        r#type: application_type(r.kind) as i32,
        application_date: Some(wire_date(r.application_date)),
        applicant: Some(pb::Applicant {
            kind: r.applicant.kind,
            family_member_name: r.applicant.family_member_name.clone(),
            family_relationship: r.applicant.family_relationship.clone(),
            office_number: r.applicant.office_number.clone(),
        }),
        acting_office_number: r.acting_office_number.clone().unwrap_or_default(),
        insured_category: r.insured_category,
        previous_care_level: r.previous.as_ref().map_or(0, |p| care_level(p.level) as i32),
        consent_reference: r.consent_reference.clone(),
        status: status(r.workflow.status) as i32,
        survey: Some(pb::Survey {
            state: survey_state(r.workflow.survey) as i32,
            scheduled_date: r.survey.scheduled_date.map(wire_date),
            surveyor: r.survey.surveyor.clone(),
            completed_date: r.survey.completed_date.map(wire_date),
            result: r.survey.result.as_ref().map(|s| pb::SurveyResult {
                standard_time_tenth_minutes: s.standard_time_tenths,
                stability: s.stability,
                dementia_level: s.dementia_level,
                disability_level: s.disability_level,
                basic_items: s
                    .basic_items
                    .iter()
                    .map(|(code, answer)| pb::SurveyItem { code: code.clone(), answer: *answer })
                    .collect(),
                special_notes: s
                    .special_notes
                    .iter()
                    .map(|(item_code, text)| pb::SurveyNote { item_code: item_code.clone(), text: text.clone() })
                    .collect(),
            }),
        }),
        opinion: Some(pb::OpinionTracking {
            state: opinion_state(r.workflow.opinion) as i32,
            institution_code: r.opinion.institution_code.clone(),
            opinion_request_id: r.opinion.opinion_request_id.clone(),
            opinion_id: r.opinion.opinion_id.clone(),
            request_time: r.opinion.request_time.map(timestamp),
            receive_time: r.opinion.receive_time.map(timestamp),
            revision: r.opinion.revision,
            corrected_time: r.opinion.corrected_time.map(timestamp),
            second_opinion_count: r.opinion.second_opinion_count,
        }),
        primary_judgment: r.primary.as_ref().map(|p| pb::PrimaryJudgment {
            care_level: care_level(p.level) as i32,
            source: if p.external { pb::JudgmentSource::External } else { pb::JudgmentSource::Computed } as i32,
            standard_time_tenth_minutes: p.standard_time_tenths,
            explanation: p.explanation.clone(),
            software_version: p.software_version.clone(),
        }),
        review_board: r
            .board
            .as_ref()
            .map(|b| pb::ReviewBoard { board_date: Some(wire_date(b.date)), board_name: b.name.clone() }),
        decision: r.decision.as_ref().map(|d| pb::Decision {
            care_level: care_level(d.level) as i32,
            decision_date: Some(wire_date(d.date)),
            validity: d.validity.map(|(s, e)| common::Period { start: Some(wire_date(s)), end: Some(wire_date(e)) }),
            board_opinion: d.board_opinion.clone(),
            designated_service_types: d.designated_service_types.clone(),
            limit_units_per_month: d.limit_units_per_month,
            changed_from_primary: d.changed_from_primary,
        }),
        notified_date: r.notified_date.map(wire_date),
        delay_notices: a
            .delay_notices
            .iter()
            .map(|n| pb::DelayNotice {
                notice_date: Some(wire_date(n.notice_date)),
                expected_decision_date: Some(wire_date(n.expected_date)),
                reason: n.reason.code(),
                reason_text: n.reason_text.clone(),
            })
            .collect(),
        deadline_date: Some(wire_date(deadline::deadline_date(r.application_date))),
        deadline_status: deadline_status(deadline::deadline_status(&facts(a, r.workflow.status), today, at_risk_day))
            as i32,
        steps: if with_steps { a.steps.iter().map(step).collect() } else { Vec::new() },
        version: r.version,
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        transfer: r.transfer.as_ref().map(|t| pb::TransferCertificate {
            previous_insurer_number: t.previous_insurer_number.clone(),
            move_in_date: Some(wire_date(t.move_in_date)),
            care_level: care_level(t.level) as i32,
            validity: Some(common::Period {
                start: Some(wire_date(t.validity_start)),
                end: Some(wire_date(t.validity_end)),
            }),
        }),
    }
}

/// The compact progress, as it stood right after the step with sequence `upto` (the latest
/// when `None`): the workflow is replayed from the steps, dates are today's.
pub fn progress(
    a: &LoadedApplication,
    upto: Option<i64>,
    today: NaiveDate,
    at_risk_day: u32,
) -> pb::ApplicationProgress {
    let r = &a.record;
    let steps: Vec<&StepRecord> = a.steps.iter().filter(|s| upto.is_none_or(|u| s.sequence <= u)).collect();
    let state = match upto {
        None => r.workflow,
        Some(_) => {
            let start = Workflow { carried_over: r.workflow.carried_over, ..Workflow::RECEIVED };
            steps.iter().fold(start, |w, s| workflow::apply(w, s.kind))
        }
    };
    let decided = matches!(state.status, Status::Decided | Status::Notified);
    let mut f = facts(a, state.status);
    if !decided {
        f.decision_date = None;
    }
    pb::ApplicationProgress {
        application_id: r.id.clone(),
        insurer_number: r.insurer_number.clone(),
        insured_number: r.insured_number.clone(),
        r#type: application_type(r.kind) as i32,
        application_date: Some(wire_date(r.application_date)),
        status: status(state.status) as i32,
        survey_state: survey_state(state.survey) as i32,
        opinion_state: opinion_state(state.opinion) as i32,
        latest_step: steps.last().map(|s| step(s)),
        deadline_date: Some(wire_date(deadline::deadline_date(r.application_date))),
        expected_decision_date: a.latest_expected_date().map(wire_date),
        deadline_status: deadline_status(deadline::deadline_status(&f, today, at_risk_day)) as i32,
        days_elapsed: i32::try_from(deadline::days_elapsed(r.application_date, f.decision_date, today))
            .unwrap_or(i32::MAX),
        pending_steps: workflow::pending_steps(&state).into_iter().map(|k| step_kind(k) as i32).collect(),
        board_date: r.board.as_ref().map(|b| wire_date(b.date)),
        decided_care_level: if decided { r.decision.as_ref().map_or(0, |d| care_level(d.level) as i32) } else { 0 },
        version: steps.last().map_or(r.version, |s| s.sequence),
    }
}
