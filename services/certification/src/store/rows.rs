//! Conversions between stored rows and the service's records.

use chrono::{DateTime, Utc};
use kaigo_platform::errors::ApiError;

use super::entities::{application, delay_notice, step};
use crate::domain::deadline::{deadline_date, effective_deadline, on_time_until};
use crate::domain::record::{ActorRecord, ApplicationRecord, DelayNoticeRecord, LoadedApplication, StepRecord};
use crate::domain::types::{DelayReason, StepKind};

/// A stored value that does not decode: a bug or a hand-edited row.
#[derive(Debug, thiserror::Error)]
#[error("corrupt stored {0}")]
struct Corrupt(&'static str);

/// The row of `loaded` (columns derived from the record).
pub(super) fn application_row(loaded: &LoadedApplication) -> Result<application::Model, ApiError> {
    let record = &loaded.record;
    let body = serde_json::to_value(record).map_err(ApiError::internal)?;
    let in_force_until = record.in_force_until;
    Ok(application::Model {
        id: record.id.clone(),
        insurer_number: record.insurer_number.clone(),
        insured_number: record.insured_number.clone(),
        acting_office_number: record.acting_office_number.clone(),
        status: record.workflow.status.as_str().to_owned(),
        application_date: record.application_date,
        decision_date: record.decision.as_ref().map(|d| d.date),
        legal_deadline: deadline_date(record.application_date),
        effective_deadline: effective_deadline(record.application_date, loaded.latest_expected_date(), in_force_until),
        on_time_until: Some(on_time_until(record.application_date, in_force_until)),
        version: record.version,
        body,
        created_at: record.created_at,
        updated_at: record.updated_at,
    })
}

/// The record in `row`.
pub(super) fn record_from_row(row: &application::Model) -> Result<ApplicationRecord, ApiError> {
    serde_json::from_value(row.body.clone()).map_err(|_| ApiError::internal(Corrupt("application body")))
}

pub(super) fn step_row(application_id: &str, step: &StepRecord) -> step::Model {
    step::Model {
        application_id: application_id.to_owned(),
        sequence: step.sequence,
        kind: step.kind.code(),
        occur_time: step.occur_time,
        record_time: step.record_time,
        actor_role: step.actor.role,
        actor_subject: step.actor.subject.clone(),
        actor_organization: step.actor.organization_number.clone(),
        summary: step.summary.clone(),
    }
}

pub(super) fn step_from_row(row: &step::Model) -> Result<StepRecord, ApiError> {
    Ok(StepRecord {
        sequence: row.sequence,
        kind: StepKind::from_code(row.kind).ok_or_else(|| ApiError::internal(Corrupt("step kind")))?,
        occur_time: row.occur_time,
        record_time: row.record_time,
        actor: ActorRecord {
            role: row.actor_role,
            subject: row.actor_subject.clone(),
            organization_number: row.actor_organization.clone(),
        },
        summary: row.summary.clone(),
    })
}

pub(super) fn notice_row(
    application_id: &str,
    ordinal: i32,
    notice: &DelayNoticeRecord,
    now: DateTime<Utc>,
) -> delay_notice::Model {
    delay_notice::Model {
        application_id: application_id.to_owned(),
        ordinal,
        notice_date: notice.notice_date,
        expected_date: notice.expected_date,
        reason: notice.reason.code(),
        reason_text: notice.reason_text.clone(),
        created_at: now,
    }
}

pub(super) fn notice_from_row(row: &delay_notice::Model) -> Result<DelayNoticeRecord, ApiError> {
    Ok(DelayNoticeRecord {
        notice_date: row.notice_date,
        expected_date: row.expected_date,
        reason: DelayReason::from_code(row.reason).ok_or_else(|| ApiError::internal(Corrupt("delay reason")))?,
        reason_text: row.reason_text.clone(),
    })
}
