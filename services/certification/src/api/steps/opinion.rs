//! 主治医意見書: RecordOpinionRequested and RecordOpinionReceived (documents' opinion.received
//! event records the receipt too, through the same step rules).

use chrono::{DateTime, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::ids::MedicalInstitutionCode;
use kaigo_proto::kaigo::certification::v1 as pb;

use super::{Call, Who, append, check_call, occur_time, role_may_call};
use crate::api::{Inner, actor};
use crate::domain::steps;

/// A valid RecordOpinionRequested.
struct Requested {
    institution: MedicalInstitutionCode,
    occur: DateTime<Utc>,
}

fn requested(r: &pb::RecordOpinionRequestedRequest, now: DateTime<Utc>) -> Result<Requested, ApiError> {
    let mut v = Violations::new();
    let institution = v.check("institution_code", MedicalInstitutionCode::parse(&r.institution_code));
    if !r.opinion_request_id.is_empty() && !super::super::is_uuid(&r.opinion_request_id) {
        v.add("opinion_request_id", "must be a UUID (36 characters with hyphens)");
    }
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let Some(institution) = institution else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    Ok(Requested { institution, occur })
}

/// A valid RecordOpinionReceived: when it arrived.
fn received(r: &pb::RecordOpinionReceivedRequest, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let mut v = Violations::new();
    if r.opinion_id.is_empty() {
        v.add("opinion_id", "required");
    } else if r.opinion_id.chars().count() > 64 {
        v.add("opinion_id", "at most 64 characters");
    }
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    v.into_result()?;
    Ok(occur)
}

impl Inner {
    pub(crate) async fn opinion_requested(
        &self,
        caller: &Caller,
        r: &pb::RecordOpinionRequestedRequest,
    ) -> Result<pb::RecordOpinionRequestedResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let valid = requested(r, self.clock.now())?;
        let call = Call {
            rpc: "RecordOpinionRequested",
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
                let institution = valid.institution.as_str().to_owned();
                let step =
                    steps::request_opinion(&mut a.record, institution, r.opinion_request_id.clone(), valid.occur)?;
                Ok(append(step, valid.occur, who))
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
        role_may_call(caller, Who::Insurer)?;
        let occur = received(r, self.clock.now())?;
        let call = Call {
            rpc: "RecordOpinionReceived",
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
            |a| Ok(append(steps::receive_opinion(&mut a.record, r.opinion_id.clone(), occur)?, occur, who)),
            |application| pb::RecordOpinionReceivedResponse { application: Some(application) },
        )
        .await
    }
}
