//! 作成依頼: RequestOpinion, GetOpinionRequest, ListOpinionRequests, CancelOpinionRequest.

use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::db::{ReadConn, is_unique_violation};
use kaigo_platform::errors::{ApiError, Violations, db};
use kaigo_proto::kaigo::common::v1::Role as ProtoRole;
use kaigo_proto::kaigo::documents::v1::{
    ApplicantDetails, CancelOpinionRequestRequest, CancelOpinionRequestResponse, GetOpinionRequestRequest,
    GetOpinionRequestResponse, ListOpinionRequestsRequest, ListOpinionRequestsResponse, OpinionRequest,
    OpinionRequestStatus, RequestOpinionRequest, RequestOpinionResponse,
};
use prost::Message;
use sea_orm::DbErr;

use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};

use super::convert::{actor, next_token, page_size, page_token, purpose, require_role, timestamp};
use super::{Inner, denied, flow_error, read_record};
use crate::domain::access::{self, Parties};
use crate::domain::{flow, request};
use crate::store::{self, ListFilter, entities::opinion_request};
use kaigo_platform::audit::{ALLOWED, DENIED, ReadRecord};

/// The parties of a stored request.
pub fn parties(m: &opinion_request::Model) -> Parties<'_> {
    Parties {
        insurer_number: &m.insurer_number,
        insured_number: &m.insured_number,
        institution_code: &m.institution_code,
    }
}

/// One request by id through `reads`; a replica without it is not the last word: the primary
/// answers then (a request just made, or one another replica already listed).
pub(crate) async fn find_request(reads: &ReadConn, id: &str) -> Result<Option<opinion_request::Model>, DbErr> {
    match store::get_request(reads, id).await? {
        None if reads.on_replica() => store::get_request(&reads.primary(), id).await,
        found => Ok(found),
    }
}

/// The wire form of a stored request.
pub fn to_proto(m: &opinion_request::Model) -> OpinionRequest {
    OpinionRequest {
        opinion_request_id: m.id.clone(),
        application_id: m.application_id.clone(),
        insurer_number: m.insurer_number.clone(),
        insured_number: m.insured_number.clone(),
        institution_code: m.institution_code.clone(),
        physician_name: m.physician_name.clone(),
        kind: m.kind,
        due_date: m.due_date.map(kaigo_proto::from_naive_date),
        applicant: ApplicantDetails::decode(m.applicant.as_slice()).ok(),
        status: m.status,
        latest_opinion_id: m.latest_opinion_id.clone().unwrap_or_default(),
        create_time: Some(timestamp(m.created_at)),
        requested_by: Some(actor(ProtoRole::Insurer, &m.requested_by_subject, &m.insurer_number)),
        care_office_number: m.care_office_number.clone().unwrap_or_default(),
        setting: m.setting,
        physician_kind: m.physician_kind,
        opinion_count: m.opinion_count,
    }
}

fn audit_entry(rpc: &'static str, m: &opinion_request::Model, purpose: String, outcome: &'static str) -> ReadRecord {
    read_record(rpc, "opinion_request", purpose, outcome, [(&*m.insurer_number, &*m.insured_number)], [&*m.id])
}

/// A RequestOpinion's checks, all at once: the validated request and the wire form it came in
/// (for the fields kept as sent).
fn validate_request_opinion(
    req: &RequestOpinionRequest,
    today: chrono::NaiveDate,
) -> Result<(request::ValidRequest, &OpinionRequest), ApiError> {
    let mut v = Violations::new();
    check_request_id(&mut v, "request_id", &req.request_id);
    let Some(wire) = &req.opinion_request else {
        v.add("opinion_request", "required");
        return Err(ApiError::invalid_argument(v));
    };
    match request::validate_request(wire, today) {
        Ok(valid) if v.is_empty() => Ok((valid, wire)),
        Ok(_) => Err(ApiError::invalid_argument(v)),
        Err(problems) => {
            v.extend_prefixed("", problems);
            Err(ApiError::invalid_argument(v))
        }
    }
}

/// RequestOpinion: the insurer asks an institution for an opinion on an application.
pub async fn request_opinion(
    api: &Inner,
    caller: &Caller,
    req: RequestOpinionRequest,
) -> Result<RequestOpinionResponse, ApiError> {
    let org = require_role(caller, Role::Insurer, "request an opinion")?;
    let now = api.clock.now();
    let (valid, wire) = validate_request_opinion(&req, kaigo_platform::time::jst_date(now))?;
    // Authorised: only an insurer asks, for itself.
    let idem = IdempotencyKey::new("RequestOpinion", caller, &req.request_id, &req);
    let txn = kaigo_platform::db::begin_write(&api.db).await.map_err(db)?;
    if let Some(stored) = idem.replay_as(&txn).await? {
        return Ok(stored);
    }
    let open = [OpinionRequestStatus::Requested as i32, OpinionRequestStatus::Submitted as i32];
    if store::application_has_request_in(&txn, &valid.application_id, &open).await.map_err(db)? {
        return Err(flow_error(flow::FlowError::OpenRequestExists));
    }
    let model = opinion_request::Model {
        id: uuid::Uuid::now_v7().to_string(),
        application_id: valid.application_id.clone(),
        insurer_number: org.clone(),
        insured_number: valid.insured_number.as_str().to_owned(),
        institution_code: valid.institution_code.as_str().to_owned(),
        care_office_number: valid.care_office_number.as_ref().map(|o| o.as_str().to_owned()),
        physician_name: wire.physician_name.trim().to_owned(),
        kind: valid.kind as i32,
        due_date: valid.due_date,
        applicant: wire.applicant.clone().unwrap_or_default().encode_to_vec(),
        status: OpinionRequestStatus::Requested as i32,
        latest_opinion_id: None,
        requested_by_subject: caller.subject.clone(),
        created_at: now,
        updated_at: now,
        setting: valid.payment.setting as i32,
        physician_kind: valid.payment.physician_kind as i32,
        opinion_count: valid.payment.opinion_count as i32,
    };
    let response = RequestOpinionResponse { opinion_request: Some(to_proto(&model)) };
    let written = async {
        store::insert_request(&txn, model).await?;
        idem.remember_message(&txn, now, &response).await?;
        txn.commit().await
    }
    .await;
    match written {
        Ok(()) => Ok(response),
        Err(err) if is_unique_violation(&err) => idem.after_conflict_as(&api.db, err).await,
        Err(err) => Err(db(err)),
    }
}

/// GetOpinionRequest: the insurer that asked and the institution asked.
pub async fn get_request(
    api: &Inner,
    caller: &Caller,
    req: GetOpinionRequestRequest,
) -> Result<GetOpinionRequestResponse, ApiError> {
    let mut v = Violations::new();
    crate::domain::fields::id(&mut v, "opinion_request_id", &req.opinion_request_id, true);
    v.into_result()?;
    if !matches!(caller.role, Role::Insurer | Role::MedicalInstitution) {
        let entry = super::attempt("GetOpinionRequest", "opinion_request", &req.opinion_request_id, purpose(0, caller));
        api.auditor.record(caller, entry).await;
        return Err(denied(access::Denied::NotAParty));
    }
    let model = find_request(&api.reads_for(caller), &req.opinion_request_id).await.map_err(db)?;
    let Some(model) = model else {
        return Err(ApiError::not_found("OPINION_REQUEST_NOT_FOUND", "no such opinion request"));
    };
    let why = purpose(0, caller);
    match access::may_read_request(caller, &parties(&model)) {
        Ok(_) => {
            api.auditor.record(caller, audit_entry("GetOpinionRequest", &model, why, ALLOWED)).await;
            Ok(GetOpinionRequestResponse { opinion_request: Some(to_proto(&model)) })
        }
        Err(d) => {
            api.auditor.record(caller, audit_entry("GetOpinionRequest", &model, why, DENIED)).await;
            Err(denied(d))
        }
    }
}

/// ListOpinionRequests: an institution sees those addressed to it, an insurer those it sent.
pub async fn list_requests(
    api: &Inner,
    caller: &Caller,
    req: ListOpinionRequestsRequest,
) -> Result<ListOpinionRequestsResponse, ApiError> {
    let mut v = Violations::new();
    let before_id = page_token(&mut v, &req.page_token);
    if !req.application_id.is_empty() && !request::valid_application_id(&req.application_id) {
        v.add("application_id", "1–64 letters, digits, '-' or '_'");
    }
    // A filter: duplicates folded, at most 16 values (as documented).
    let statuses = kaigo_platform::validate::enum_filter(&mut v, "statuses", &req.statuses, 16, |s| {
        OpinionRequestStatus::try_from(s).ok().filter(|s| *s != OpinionRequestStatus::Unspecified)
    });
    v.into_result()?;
    let mut filter = ListFilter {
        application_id: (!req.application_id.is_empty()).then(|| req.application_id.clone()),
        statuses: statuses.into_iter().map(|s| s as i32).collect(),
        before_id,
        limit: page_size(req.page_size),
        ..Default::default()
    };
    scope_to_caller(caller, &mut filter, &req.institution_code, &req.insurer_number)?;
    let rows = store::list_requests(&api.reads_for(caller), &filter).await.map_err(db)?;
    if !rows.is_empty() {
        // One record for the page: every person and request on it.
        let persons = rows.iter().map(|r| (&*r.insurer_number, &*r.insured_number));
        let ids = rows.iter().map(|r| &*r.id);
        let read = read_record("ListOpinionRequests", "opinion_request", purpose(0, caller), ALLOWED, persons, ids);
        api.auditor.record(caller, read).await;
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    Ok(ListOpinionRequestsResponse {
        next_page_token: next_token(&ids, filter.limit),
        opinion_requests: rows.iter().map(to_proto).collect(),
    })
}

/// Narrows a listing to what the caller may see; a filter naming someone else is refused.
pub fn scope_to_caller(
    caller: &Caller,
    filter: &mut ListFilter,
    institution_code: &str,
    insurer_number: &str,
) -> Result<(), ApiError> {
    let org = caller.organization().unwrap_or_default().to_owned();
    let other = |asked: &str| !asked.is_empty() && asked != org;
    match caller.role {
        Role::MedicalInstitution if !org.is_empty() && !other(institution_code) => {
            filter.institution_code = Some(org);
            filter.insurer_number = (!insurer_number.is_empty()).then(|| insurer_number.to_owned());
            Ok(())
        }
        Role::Insurer if !org.is_empty() && !other(insurer_number) => {
            filter.insurer_number = Some(org);
            filter.institution_code = (!institution_code.is_empty()).then(|| institution_code.to_owned());
            Ok(())
        }
        _ => Err(denied(access::Denied::NotAParty)),
    }
}

/// CancelOpinionRequest: the insurer withdraws a request still awaiting its opinion.
pub async fn cancel_request(
    api: &Inner,
    caller: &Caller,
    req: CancelOpinionRequestRequest,
) -> Result<CancelOpinionRequestResponse, ApiError> {
    require_role(caller, Role::Insurer, "cancel an opinion request")?;
    let mut v = Violations::new();
    check_request_id(&mut v, "request_id", &req.request_id);
    crate::domain::fields::id(&mut v, "opinion_request_id", &req.opinion_request_id, true);
    crate::domain::fields::text(&mut v, "reason", &req.reason, false, crate::domain::fields::MAX_LINE);
    v.into_result()?;
    let txn = kaigo_platform::db::begin_write(&api.db).await.map_err(db)?;
    let Some(mut model) = store::lock_request(&txn, &req.opinion_request_id).await.map_err(db)? else {
        return Err(ApiError::not_found("OPINION_REQUEST_NOT_FOUND", "no such opinion request"));
    };
    if !access::is_insurer(caller, &parties(&model)) {
        return Err(denied(access::Denied::NotAParty));
    }
    // Only now, with the caller authorised for this request, may a stored answer go out.
    let idem = IdempotencyKey::new("CancelOpinionRequest", caller, &req.request_id, &req);
    if let Some(stored) = idem.replay_as(&txn).await? {
        return Ok(stored);
    }
    let status = OpinionRequestStatus::try_from(model.status).unwrap_or_default();
    flow::check_cancel(status).map_err(flow_error)?;
    let now = api.clock.now();
    model.status = OpinionRequestStatus::Cancelled as i32;
    model.updated_at = now;
    let response = CancelOpinionRequestResponse { opinion_request: Some(to_proto(&model)) };
    let written = async {
        store::update_request(&txn, &model.id, model.status, None, now).await?;
        idem.remember_message(&txn, now, &response).await?;
        txn.commit().await
    }
    .await;
    match written {
        Ok(()) => Ok(response),
        Err(err) if is_unique_violation(&err) => idem.after_conflict_as(&api.db, err).await,
        Err(err) => Err(db(err)),
    }
}
