//! The operator's side: review, approval or rejection, payment, and the report.

use kaigo_platform::audit::{self, ReadRecord};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_proto::kaigo::subsidies::v1 as pb;
use tonic::Request;

use kaigo_platform::errors;
use kaigo_platform::idempotency::IdempotencyKey;

use super::applications::{Change, Step, changed, load_for_write, save, status_of, transition};
use super::reads::check_prefecture;
use super::{Api, access, convert};
use crate::domain::application::Action;
use crate::store;

/// Longest rejection or return reason.
const MAX_REASON_CHARS: usize = 1_000;
/// Most reasons of one return.
const MAX_RETURN_REASONS: usize = 20;
/// Longest payment reference.
const MAX_REFERENCE_CHARS: usize = 64;

/// The checks every operator step shares.
fn common(v: &mut Violations, request_id: &str, application_id: &str, expected_version: i64) -> Step {
    Step::check(v, request_id, "application_id", application_id, expected_version)
}

impl Api {
    pub(super) async fn review(
        &self,
        request: Request<pb::ReviewApplicationRequest>,
    ) -> Result<pb::ReviewApplicationResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        access::require_operator(&caller)?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let step = common(&mut v, &req.request_id, &req.application_id, req.expected_version);
        v.into_result()?;
        let (now, lang) = (self.clock.now(), convert::Lang::from_metadata(request.metadata()));
        let key = IdempotencyKey::new("ReviewApplication", &caller, &req.request_id, req);
        self.write(&key, move |txn, key| {
            Box::pin(async move {
                let row = load_for_write(txn, key, &caller, &step).await?.application;
                let from = status_of(&row)?;
                let status = transition(&row, Action::Review)?;
                let mut next = changed(row, &caller, now);
                next.status = status.as_str().to_owned();
                let application =
                    save(txn, next, step.expected_version, Change::plain(Action::Review, from), lang).await?;
                Ok(pb::ReviewApplicationResponse { application: Some(application) })
            })
        })
        .await
    }

    pub(super) async fn approve(
        &self,
        request: Request<pb::ApproveApplicationRequest>,
    ) -> Result<pb::ApproveApplicationResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        access::require_operator(&caller)?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let step = common(&mut v, &req.request_id, &req.application_id, req.expected_version);
        if req.approved_amount_yen <= 0 {
            v.add("approved_amount_yen", "required: the amount approved, 1 yen up to the calculated eligible amount");
        }
        v.into_result()?;
        let (now, amount, lang) =
            (self.clock.now(), req.approved_amount_yen, convert::Lang::from_metadata(request.metadata()));
        let key = IdempotencyKey::new("ApproveApplication", &caller, &req.request_id, req);
        self.write(&key, move |txn, key| {
            Box::pin(async move {
                let row = load_for_write(txn, key, &caller, &step).await?.application;
                let from = status_of(&row)?;
                let status = transition(&row, Action::Approve)?;
                if amount > row.eligible_amount_yen {
                    let mut v = Violations::new();
                    v.add(
                        "approved_amount_yen",
                        format!("must not exceed the calculated eligible amount ({} yen)", row.eligible_amount_yen),
                    );
                    return Err(ApiError::invalid_argument(v).into());
                }
                let mut next = changed(row, &caller, now);
                next.status = status.as_str().to_owned();
                next.approved_amount_yen = Some(amount);
                let change = Change { action: Action::Approve, from, amount: Some(amount), reasons: Vec::new() };
                let application = save(txn, next, step.expected_version, change, lang).await?;
                Ok(pb::ApproveApplicationResponse { application: Some(application) })
            })
        })
        .await
    }

    pub(super) async fn reject(
        &self,
        request: Request<pb::RejectApplicationRequest>,
    ) -> Result<pb::RejectApplicationResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        access::require_operator(&caller)?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let step = common(&mut v, &req.request_id, &req.application_id, req.expected_version);
        if req.reason.trim().is_empty() {
            v.add("reason", "required: the applicant is told why");
        } else if req.reason.chars().count() > MAX_REASON_CHARS {
            v.add("reason", format!("at most {MAX_REASON_CHARS} characters"));
        }
        v.into_result()?;
        let (now, reason, lang) =
            (self.clock.now(), req.reason.trim().to_owned(), convert::Lang::from_metadata(request.metadata()));
        let key = IdempotencyKey::new("RejectApplication", &caller, &req.request_id, req);
        self.write(&key, move |txn, key| {
            Box::pin(async move {
                let row = load_for_write(txn, key, &caller, &step).await?.application;
                let from = status_of(&row)?;
                let status = transition(&row, Action::Reject)?;
                let mut next = changed(row, &caller, now);
                next.status = status.as_str().to_owned();
                next.rejection_reason = Some(reason.clone());
                let change = Change { action: Action::Reject, from, amount: None, reasons: vec![reason] };
                let application = save(txn, next, step.expected_version, change, lang).await?;
                Ok(pb::RejectApplicationResponse { application: Some(application) })
            })
        })
        .await
    }

    pub(super) async fn return_for_correction(
        &self,
        request: Request<pb::ReturnApplicationRequest>,
    ) -> Result<pb::ReturnApplicationResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        access::require_operator(&caller)?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let step = common(&mut v, &req.request_id, &req.application_id, req.expected_version);
        if req.reasons.is_empty() {
            v.add("reasons", "required: what the applicant must correct");
        } else if kaigo_platform::validate::at_most(&mut v, "reasons", &req.reasons, MAX_RETURN_REASONS) {
            for (i, reason) in req.reasons.iter().enumerate() {
                if reason.trim().is_empty() {
                    v.add(format!("reasons[{i}]"), "must not be empty");
                } else {
                    kaigo_platform::validate::max_chars(&mut v, &format!("reasons[{i}]"), reason, MAX_REASON_CHARS);
                }
            }
        }
        v.into_result()?;
        let reasons: Vec<String> = req.reasons.iter().map(|r| r.trim().to_owned()).collect();
        let (now, lang) = (self.clock.now(), convert::Lang::from_metadata(request.metadata()));
        let key = IdempotencyKey::new("ReturnApplication", &caller, &req.request_id, req);
        self.write(&key, move |txn, key| {
            Box::pin(async move {
                let row = load_for_write(txn, key, &caller, &step).await?.application;
                let from = status_of(&row)?;
                let status = transition(&row, Action::Return)?;
                let mut next = changed(row, &caller, now);
                next.status = status.as_str().to_owned();
                next.return_reasons = Some(
                    serde_json::to_string(&reasons)
                        .map_err(|e| kaigo_platform::idempotency::write::WriteError::Api(ApiError::internal(e)))?,
                );
                let change = Change { action: Action::Return, from, amount: None, reasons };
                let application = save(txn, next, step.expected_version, change, lang).await?;
                Ok(pb::ReturnApplicationResponse { application: Some(application) })
            })
        })
        .await
    }

    pub(super) async fn pay(
        &self,
        request: Request<pb::RecordPaymentRequest>,
    ) -> Result<pb::RecordPaymentResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        access::require_operator(&caller)?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let step = common(&mut v, &req.request_id, &req.application_id, req.expected_version);
        if req.paid_amount_yen <= 0 {
            v.add("paid_amount_yen", "required: the amount paid, > 0");
        }
        let today = self.clock.today_jst();
        let paid_date = match &req.paid_date {
            None => {
                v.add("paid_date", "required");
                None
            }
            Some(d) => v.check("paid_date", kaigo_proto::to_naive_date(d)),
        };
        if paid_date.is_some_and(|d| d > today) {
            v.add("paid_date", "must not be in the future (JST)");
        }
        if req.payment_reference.chars().count() > MAX_REFERENCE_CHARS {
            v.add("payment_reference", format!("at most {MAX_REFERENCE_CHARS} characters"));
        }
        let paid_date = match paid_date {
            Some(date) if v.is_empty() => date,
            _ => return Err(ApiError::invalid_argument(v)),
        };
        let (now, amount, reference) = (self.clock.now(), req.paid_amount_yen, req.payment_reference.clone());
        let lang = convert::Lang::from_metadata(request.metadata());
        let key = IdempotencyKey::new("RecordPayment", &caller, &req.request_id, req);
        self.write(&key, move |txn, key| {
            Box::pin(async move {
                let row = load_for_write(txn, key, &caller, &step).await?.application;
                let from = status_of(&row)?;
                let status = transition(&row, Action::Pay)?;
                let approved = row.approved_amount_yen.unwrap_or_default();
                if amount > approved {
                    let mut v = Violations::new();
                    v.add("paid_amount_yen", format!("must not exceed the approved amount ({approved} yen)"));
                    return Err(ApiError::invalid_argument(v).into());
                }
                let mut next = changed(row, &caller, now);
                next.status = status.as_str().to_owned();
                next.paid_amount_yen = Some(amount);
                next.paid_date = Some(paid_date);
                next.payment_reference = (!reference.is_empty()).then_some(reference);
                let change = Change { action: Action::Pay, from, amount: Some(amount), reasons: Vec::new() };
                let application = save(txn, next, step.expected_version, change, lang).await?;
                Ok(pb::RecordPaymentResponse { application: Some(application) })
            })
        })
        .await
    }

    pub(super) async fn report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<pb::GetReportResponse, ApiError> {
        let caller = Caller::from_request(&request)?;
        access::require_operator(caller)?;
        let req = request.get_ref();
        let mut v = Violations::new();
        let programme = self.programme(&mut v, "programme_id", &req.programme_id);
        check_prefecture(&mut v, &req.prefecture_code);
        let programme = match programme {
            Some(programme) if v.is_empty() => programme,
            _ => return Err(ApiError::invalid_argument(v)),
        };
        let prefecture = (!req.prefecture_code.is_empty()).then_some(req.prefecture_code.as_str());
        let now = self.clock.now();
        let rows = store::report(&self.db, &programme.programme_id, prefecture).await.map_err(errors::db)?;
        let read = ReadRecord {
            rpc: "GetReport",
            category: "subsidy_report",
            purpose: "subsidy_report".to_owned(),
            outcome: audit::ALLOWED,
            persons: Vec::new(),
            resources: Vec::new(),
        };
        self.auditor.record(caller, read).await;
        let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
        let mut total = pb::ReportRow::default();
        let rows: Vec<pb::ReportRow> = rows
            .into_iter()
            .map(|r| {
                let row = pb::ReportRow {
                    prefecture_code: r.prefecture_code,
                    applicant_kind: convert::applicant_kind(&r.applicant_kind) as i32,
                    category_key: r.category_key,
                    submitted_count: count(r.submitted_count),
                    approved_count: count(r.approved_count),
                    approved_amount_yen: r.approved_amount_yen,
                    paid_count: count(r.paid_count),
                    paid_amount_yen: r.paid_amount_yen,
                    rejected_count: count(r.rejected_count),
                };
                total.submitted_count = total.submitted_count.saturating_add(row.submitted_count);
                total.approved_count = total.approved_count.saturating_add(row.approved_count);
                total.approved_amount_yen = total.approved_amount_yen.saturating_add(row.approved_amount_yen);
                total.paid_count = total.paid_count.saturating_add(row.paid_count);
                total.paid_amount_yen = total.paid_amount_yen.saturating_add(row.paid_amount_yen);
                total.rejected_count = total.rejected_count.saturating_add(row.rejected_count);
                row
            })
            .collect();
        Ok(pb::GetReportResponse { rows, total: Some(total), compute_time: Some(convert::timestamp(now)) })
    }
}
