//! Ending an application without a decision, or moving its deadline: WithdrawApplication (取下げ,
//! also by the acting office or the person), CancelApplication and IssueDelayNotice (延期通知).

use chrono::NaiveDate;
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_proto::kaigo::certification::v1 as pb;

use super::{Call, Who, append, check_call, required_date, role_may_call, text};
use crate::api::{Inner, actor, convert};
use crate::domain::record::DelayNoticeRecord;
use crate::domain::steps;
use crate::domain::types::DelayReason;

/// A valid WithdrawApplication: the 取下げ date.
fn withdrawal(r: &pb::WithdrawApplicationRequest) -> Result<NaiveDate, ApiError> {
    let mut v = Violations::new();
    let date = required_date(&mut v, "withdrawn_date", r.withdrawn_date.as_ref());
    text(&mut v, "reason", &r.reason);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let Some(date) = date else { return Err(ApiError::invalid_argument(v)) };
    v.into_result()?;
    Ok(date)
}

/// A valid CancelApplication: its reason.
fn cancellation(r: &pb::CancelApplicationRequest) -> Result<pb::CancelReason, ApiError> {
    let mut v = Violations::new();
    let reason = pb::CancelReason::try_from(r.reason).unwrap_or(pb::CancelReason::Unspecified);
    if reason == pb::CancelReason::Unspecified {
        v.add("reason", "required");
    }
    if reason == pb::CancelReason::Other && r.reason_text.trim().is_empty() {
        v.add("reason_text", "required for CANCEL_REASON_OTHER");
    }
    text(&mut v, "reason_text", &r.reason_text);
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    v.into_result()?;
    Ok(reason)
}

/// A valid IssueDelayNotice: the notice to add.
fn delay_notice(r: &pb::IssueDelayNoticeRequest) -> Result<DelayNoticeRecord, ApiError> {
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
    check_call(&mut v, &r.request_id, &r.application_id, r.expected_version);
    let (Some(notice_date), Some(expected_date), Some(reason)) = (notice_date, expected, reason) else {
        return Err(ApiError::invalid_argument(v));
    };
    v.into_result()?;
    Ok(DelayNoticeRecord { notice_date, expected_date, reason, reason_text: r.reason_text.clone() })
}

impl Inner {
    pub(crate) async fn withdraw(
        &self,
        caller: &Caller,
        r: &pb::WithdrawApplicationRequest,
    ) -> Result<pb::WithdrawApplicationResponse, ApiError> {
        role_may_call(caller, Who::Party)?;
        let date = withdrawal(r)?;
        let now = self.clock.now();
        let call = Call {
            rpc: "WithdrawApplication",
            request_id: &r.request_id,
            application_id: &r.application_id,
            expected_version: r.expected_version,
            who: Who::Party,
        };
        let who = actor(caller);
        self.step(
            caller,
            call,
            r,
            |a| Ok(append(steps::withdraw(&mut a.record, date, r.reason.clone())?, now, who)),
            |application| pb::WithdrawApplicationResponse { application: Some(application) },
        )
        .await
    }

    pub(crate) async fn cancel(
        &self,
        caller: &Caller,
        r: &pb::CancelApplicationRequest,
    ) -> Result<pb::CancelApplicationResponse, ApiError> {
        role_may_call(caller, Who::Insurer)?;
        let reason = cancellation(r)?;
        let now = self.clock.now();
        let call = Call {
            rpc: "CancelApplication",
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
                let step = steps::cancel(&mut a.record, reason as i32, reason.as_str_name(), r.reason_text.clone())?;
                Ok(append(step, now, who))
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
        role_may_call(caller, Who::Insurer)?;
        let notice = delay_notice(r)?;
        let now = self.clock.now();
        let call = Call {
            rpc: "IssueDelayNotice",
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
                let step = steps::issue_delay_notice(&mut a.record, &a.delay_notices, &notice)?;
                let mut change = append(step, now, who);
                change.delay_notice = Some(notice);
                Ok(change)
            },
            |application| pb::IssueDelayNoticeResponse { application: Some(application) },
        )
        .await
    }
}
