//! 二次判定・認定 and the result notice: RecordDecision (which publishes
//! `certification.decided`) and RecordNotified.

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::events::NewEvent;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;

use super::{Call, Who, append, check_call, occur_time, required_date, role_may_call, text};
use crate::api::{Inner, actor, convert};
use crate::domain::record::{ApplicationRecord, DecisionRecord};
use crate::domain::steps::{self, Decision};
use crate::domain::types::CareLevel;
use crate::store::DecidedCertification;

/// The topic of the decision event.
pub const DECIDED_TOPIC: &str = "certification.decided";

/// A valid RecordDecision.
struct Decided {
    decision: Decision,
    occur: DateTime<Utc>,
}

fn decided(r: &pb::RecordDecisionRequest, now: DateTime<Utc>) -> Result<Decided, ApiError> {
    let mut v = Violations::new();
    let level = CareLevel::from_wire(r.care_level);
    if level.is_none() {
        v.add("care_level", "required: 非該当, 要支援1–2 or 要介護1–5");
    }
    let date = required_date(&mut v, "decision_date", r.decision_date.as_ref());
    let mut requested_validity = None;
    if let Some(p) = &r.validity {
        let start = required_date(&mut v, "validity.start", p.start.as_ref());
        let end = required_date(&mut v, "validity.end", p.end.as_ref());
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                v.add("validity.end", "must not be before the start");
            }
            requested_validity = Some((s, e));
        }
    }
    text(&mut v, "board_opinion", &r.board_opinion);
    // At most 20 codes (as eligibility takes them), each a サービス種類コード listed once.
    if kaigo_platform::validate::at_most(&mut v, "designated_service_types", &r.designated_service_types, 20) {
        for (i, t) in r.designated_service_types.iter().enumerate() {
            if t.len() != 2 || !t.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
                v.add(format!("designated_service_types[{i}]"), "a 2-character サービス種類コード");
            } else if r.designated_service_types[..i].contains(t) {
                v.add(format!("designated_service_types[{i}]"), "listed once");
            }
        }
    }
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let (Some(level), Some(date)) = (level, date) else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    let decision = Decision {
        level,
        date,
        requested_validity,
        board_opinion: r.board_opinion.clone(),
        designated_service_types: r.designated_service_types.clone(),
    };
    Ok(Decided { decision, occur })
}

/// A valid RecordNotified.
struct Notified {
    date: NaiveDate,
    occur: DateTime<Utc>,
}

fn notified(r: &pb::RecordNotifiedRequest, now: DateTime<Utc>) -> Result<Notified, ApiError> {
    let mut v = Violations::new();
    let date = required_date(&mut v, "notified_date", r.notified_date.as_ref());
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let Some(date) = date else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    Ok(Notified { date, occur })
}

impl Inner {
    pub(crate) async fn decision(
        &self,
        caller: &Caller,
        r: &pb::RecordDecisionRequest,
    ) -> Result<pb::RecordDecisionResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let now = self.clock.now();
        let valid = decided(r, now)?;
        let policy = self.settings.validity;
        let call = Call {
            rpc: "RecordDecision",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        let who = actor(caller);
        self.step(
            caller,
            call,
            r,
            |a| {
                let (step, decision) = steps::decide(&mut a.record, valid.decision, &policy)?;
                let mut change = append(step, valid.occur, who);
                change.event = Some(NewEvent {
                    topic: DECIDED_TOPIC.to_owned(),
                    key: a.record.id.clone(),
                    payload: prost::Message::encode_to_vec(&decided_event(&a.record, &decision, now)),
                });
                change.certification = Some(DecidedCertification {
                    level: decision.level,
                    validity: decision.validity,
                    decision_date: decision.date,
                });
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
        role_may_call(caller, Who::Insurer)?;
        let valid = notified(r, self.clock.now())?;
        let call = Call {
            rpc: "RecordNotified",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Insurer,
        };
        let who = actor(caller);
        self.step(
            caller,
            call,
            r,
            |a| Ok(append(steps::record_notice(&mut a.record, valid.date)?, valid.occur, who)),
            |application| pb::RecordNotifiedResponse { application: Some(application) },
        )
        .await
    }
}

/// The `certification.decided` payload: everything eligibility needs to record the period.
fn decided_event(rec: &ApplicationRecord, d: &DecisionRecord, now: DateTime<Utc>) -> pb::CertificationDecidedEvent {
    let primary = rec.primary.as_ref().map(|p| p.level);
    pb::CertificationDecidedEvent {
        application_id: rec.id.clone(),
        insurer_number: rec.insurer_number.clone(),
        insured_number: rec.insured_number.clone(),
        application_type: convert::application_type(rec.kind) as i32,
        application_date: Some(convert::wire_date(rec.application_date)),
        care_level: convert::care_level(d.level) as i32,
        certified_date: Some(convert::wire_date(d.date)),
        // 非該当 has no validity period: an open period from the day it takes effect
        // (docs/domain/certification.md#no-validity), so eligibility records it as it is.
        validity: match (d.validity, d.effective_from) {
            (Some((s, e)), _) => {
                Some(common::Period { start: Some(convert::wire_date(s)), end: Some(convert::wire_date(e)) })
            }
            (None, from) => Some(common::Period {
                start: Some(convert::wire_date(from.unwrap_or(rec.application_date))),
                end: None,
            }),
        },
        limit_units_per_month: d.limit_units_per_month,
        board_opinion: d.board_opinion.clone(),
        designated_service_types: d.designated_service_types.clone(),
        acting_office_number: rec.acting_office_number.clone().unwrap_or_default(),
        previous_care_level: rec.previous.as_ref().map_or(0, |p| convert::care_level(p.level) as i32),
        primary_care_level: primary.map_or(0, |p| convert::care_level(p) as i32),
        decide_time: Some(convert::timestamp(now)),
    }
}
