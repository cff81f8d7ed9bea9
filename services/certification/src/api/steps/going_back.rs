//! Going back without cancelling (docs/domain/certification.md#going-back): RequestResurvey
//! (再調査), RequestSecondOpinion (再意見書) and DeferReview (継続審査). The rules are
//! [`steps::request_resurvey`], [`steps::request_second_opinion`] and [`steps::defer_review`];
//! this file validates and wires them.

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::ids::MedicalInstitutionCode;
use kaigo_proto::kaigo::certification::v1 as pb;

use super::{Call, Who, append, check_call, occur_time, required_date, role_may_call, text};
use crate::api::{Inner, actor};
use crate::domain::steps;

/// A reason is required and at most [`super::MAX_TEXT`] characters.
fn reason(v: &mut Violations, s: &str) {
    if s.trim().is_empty() {
        v.add("reason", "required");
    }
    text(v, "reason", s);
}

fn resurvey(r: &pb::RequestResurveyRequest, now: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    let mut v = Violations::new();
    reason(&mut v, &r.reason);
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    v.into_result()?;
    Ok(occur)
}

fn second_opinion(
    r: &pb::RequestSecondOpinionRequest,
    now: DateTime<Utc>,
) -> Result<(MedicalInstitutionCode, DateTime<Utc>), ApiError> {
    let mut v = Violations::new();
    let institution = v.check("institution_code", MedicalInstitutionCode::parse(&r.institution_code));
    if !r.opinion_request_id.is_empty() && !super::super::is_uuid(&r.opinion_request_id) {
        v.add("opinion_request_id", "must be a UUID (36 characters with hyphens)");
    }
    reason(&mut v, &r.reason);
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let Some(institution) = institution else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    Ok((institution, occur))
}

fn deferral(r: &pb::DeferReviewRequest, now: DateTime<Utc>) -> Result<(NaiveDate, DateTime<Utc>), ApiError> {
    let mut v = Violations::new();
    let date = required_date(&mut v, "board_date", r.board_date.as_ref());
    reason(&mut v, &r.reason);
    let occur = occur_time(&mut v, r.occur_time.as_ref(), now);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let Some(date) = date else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    Ok((date, occur))
}

impl Inner {
    pub(crate) async fn resurvey(
        &self,
        caller: &Caller,
        r: &pb::RequestResurveyRequest,
    ) -> Result<pb::RequestResurveyResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let occur = resurvey(r, self.clock.now())?;
        let call = Call {
            rpc: "RequestResurvey",
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
            |a| Ok(append(steps::request_resurvey(&mut a.record, &r.reason)?, occur, who)),
            |application| pb::RequestResurveyResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn second_opinion(
        &self,
        caller: &Caller,
        r: &pb::RequestSecondOpinionRequest,
    ) -> Result<pb::RequestSecondOpinionResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let (institution, occur) = second_opinion(r, self.clock.now())?;
        let call = Call {
            rpc: "RequestSecondOpinion",
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
                let institution = institution.as_str().to_owned();
                let request_id = r.opinion_request_id.clone();
                let step = steps::request_second_opinion(&mut a.record, institution, request_id, &r.reason, occur)?;
                Ok(append(step, occur, who))
            },
            |application| pb::RequestSecondOpinionResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn defer_review(
        &self,
        caller: &Caller,
        r: &pb::DeferReviewRequest,
    ) -> Result<pb::DeferReviewResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let (date, occur) = deferral(r, self.clock.now())?;
        let call = Call {
            rpc: "DeferReview",
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
            |a| Ok(append(steps::defer_review(&mut a.record, date, &r.reason)?, occur, who)),
            |application| pb::DeferReviewResponse { application: Some(application) },
        )
        .await
    }
}
