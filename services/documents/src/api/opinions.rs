//! Opinion versions: SubmitOpinion, GetOpinion, ListOpinions, ReceiveOpinion.

use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::db::is_unique_violation;
use kaigo_platform::errors::{ApiError, Violations, db};
use kaigo_platform::events::{NewEvent, enqueue};
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_proto::kaigo::common::v1::{InsuredCategory, Role as ProtoRole};
use kaigo_proto::kaigo::documents::v1::{
    ApplicantDetails, AttachmentPurpose, GetOpinionRequest, GetOpinionResponse, ListOpinionsRequest,
    ListOpinionsResponse, Opinion, OpinionCount, OpinionReceivedEvent, OpinionRequestStatus, OpinionSetting,
    OpinionStatus, PhysicianKind, ReceiveOpinionRequest, ReceiveOpinionResponse, SubmitOpinionRequest,
    SubmitOpinionResponse,
};
use prost::Message;
use sea_orm::ConnectionTrait;

use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};

use super::convert::{actor, next_token, page_size, page_token, purpose, require_role, timestamp};
use super::requests::parties as request_parties;
use super::{Inner, denied, flow_error, read_record};
use crate::domain::access::{self, Parties};
use crate::domain::flow::{self, FlowError, Latest};
use crate::domain::payment::{self, PaymentFacts};
use crate::domain::{fields, opinion as rules};
use crate::store::{self, ListFilter, entities::opinion};
use kaigo_platform::audit::{ALLOWED, DENIED, ReadRecord};

/// The topic certification consumes.
pub const OPINION_RECEIVED: &str = "opinion.received";

fn parties(m: &opinion::Model) -> Parties<'_> {
    Parties {
        insurer_number: &m.insurer_number,
        insured_number: &m.insured_number,
        institution_code: &m.institution_code,
    }
}

/// The wire form of a stored version.
pub fn to_proto(m: &opinion::Model) -> Opinion {
    let mut o = Opinion::decode(m.content.as_slice()).unwrap_or_default();
    o.opinion_id = m.id.clone();
    o.opinion_request_id = m.opinion_request_id.clone();
    o.application_id = m.application_id.clone();
    o.insurer_number = m.insurer_number.clone();
    o.insured_number = m.insured_number.clone();
    o.institution_code = m.institution_code.clone();
    o.previous_opinion_id = m.previous_opinion_id.clone().unwrap_or_default();
    o.revision = m.revision;
    o.status = m.status;
    o.form_edition = m.form_edition;
    o.submit_time = Some(timestamp(m.submitted_at));
    o.submitted_by = Some(actor(ProtoRole::MedicalInstitution, &m.submitted_by_subject, &m.institution_code));
    o.receive_time = m.received_at.map(timestamp);
    o.received_by =
        m.received_by_subject.as_deref().map(|subject| actor(ProtoRole::Insurer, subject, &m.insurer_number));
    o
}

fn audit_entry(rpc: &'static str, m: &opinion::Model, purpose: String, outcome: &'static str) -> ReadRecord {
    read_record(rpc, "opinion", purpose, outcome, [(&*m.insurer_number, &*m.insured_number)], [&*m.id])
}

/// Only the content sections, as stored (OUTPUT_ONLY fields are the row's columns).
fn content_of(o: &Opinion, edition: i32) -> Opinion {
    Opinion {
        form_edition: edition,
        basics: o.basics.clone(),
        disease: o.disease.clone(),
        special_medical_care: o.special_medical_care.clone(),
        mental_physical: o.mental_physical.clone(),
        function_services: o.function_services.clone(),
        remarks: o.remarks.clone(),
        attachment_ids: o.attachment_ids.clone(),
        ..Default::default()
    }
}

/// SubmitOpinion: the institution asked submits a version (first, or a linked correction).
pub async fn submit(
    api: &Inner,
    caller: &Caller,
    req: SubmitOpinionRequest,
) -> Result<SubmitOpinionResponse, ApiError> {
    let org = require_role(caller, Role::MedicalInstitution, "submit an opinion")?;
    let mut v = Violations::new();
    check_request_id(&mut v, "request_id", &req.request_id);
    let Some(wire) = req.opinion.as_ref() else {
        v.add("opinion", "required");
        return Err(ApiError::invalid_argument(v));
    };
    fields::id(&mut v, "opinion.opinion_request_id", &wire.opinion_request_id, true);
    fields::id(&mut v, "opinion.previous_opinion_id", &wire.previous_opinion_id, false);
    v.into_result()?;

    let txn = kaigo_platform::db::begin_write(&api.db).await.map_err(db)?;
    let Some(request) = store::lock_request(&txn, &wire.opinion_request_id).await.map_err(db)? else {
        return Err(ApiError::not_found("OPINION_REQUEST_NOT_FOUND", "no such opinion request"));
    };
    if !access::is_institution(caller, &request_parties(&request)) {
        return Err(ApiError::permission_denied(
            "NOT_REQUESTED_INSTITUTION",
            "only the medical institution the insurer asked may submit this opinion",
        ));
    }
    // Only now, with the caller authorised for this request, may a stored answer go out.
    let idem = IdempotencyKey::new("SubmitOpinion", caller, &req.request_id, &req);
    if let Some(stored) = idem.replay_as(&txn).await? {
        return Ok(stored);
    }
    let category = ApplicantDetails::decode(request.applicant.as_slice())
        .ok()
        .and_then(|a| InsuredCategory::try_from(a.insured_category).ok())
        .unwrap_or_default();
    let now = api.clock.now();
    let today = kaigo_platform::time::jst_date(now);
    let (edition, mut v) = rules::validate_opinion(
        wire,
        rules::OpinionContext { category, today, reiwa3_accepted_until: api.reiwa3_accepted_until },
    );
    // 在宅/施設, 主治医/指定医: the request's where the opinion is silent
    // (docs/domain/opinion.md#payment-facts).
    let requested = PaymentFacts {
        setting: OpinionSetting::try_from(request.setting).unwrap_or(OpinionSetting::Unspecified),
        physician_kind: PhysicianKind::try_from(request.physician_kind).unwrap_or(PhysicianKind::Unspecified),
        opinion_count: OpinionCount::try_from(request.opinion_count).unwrap_or(OpinionCount::Unspecified),
    };
    let mut stated = wire.clone();
    if let Some(basics) = stated.basics.as_mut() {
        let facts = payment::of_opinion(&mut v, basics, requested);
        payment::fill(basics, facts);
    }
    let wire = &stated;
    check_attachments(&txn, &mut v, wire, &org).await?;
    v.into_result()?;

    let status = OpinionRequestStatus::try_from(request.status).unwrap_or_default();
    let latest = match &request.latest_opinion_id {
        Some(id) => {
            store::get_opinion(&txn, id).await.map_err(db)?.map(|m| Latest { opinion_id: m.id, revision: m.revision })
        }
        None => None,
    };
    let previous = (!wire.previous_opinion_id.is_empty()).then_some(wire.previous_opinion_id.as_str());
    let revision = flow::check_submission(status, latest.as_ref(), previous).map_err(flow_error)?;

    let model = opinion::Model {
        id: uuid::Uuid::now_v7().to_string(),
        opinion_request_id: request.id.clone(),
        application_id: request.application_id.clone(),
        insurer_number: request.insurer_number.clone(),
        insured_number: request.insured_number.clone(),
        institution_code: request.institution_code.clone(),
        care_office_number: request.care_office_number.clone(),
        previous_opinion_id: previous.map(str::to_owned),
        revision,
        status: OpinionStatus::Submitted as i32,
        form_edition: edition as i32,
        content: content_of(wire, edition as i32).encode_to_vec(),
        submitted_by_subject: caller.subject.clone(),
        submitted_at: now,
        received_by_subject: None,
        received_at: None,
    };
    let response = SubmitOpinionResponse { opinion: Some(to_proto(&model)) };
    let new_id = model.id.clone();
    let written = async {
        if let Some(previous) = previous {
            store::supersede_opinion(&txn, previous).await?;
        }
        store::insert_opinion(&txn, model).await?;
        store::update_request(&txn, &request.id, OpinionRequestStatus::Submitted as i32, Some(&new_id), now).await?;
        idem.remember_message(&txn, now, &response).await?;
        txn.commit().await
    }
    .await;
    match written {
        Ok(()) => Ok(response),
        // A concurrent submission took this revision (or this request id) first.
        Err(err) if is_unique_violation(&err) => match idem.replay_as(&api.db).await? {
            Some(stored) => Ok(stored),
            None => Err(flow_error(if previous.is_some() {
                FlowError::PreviousNotLatest
            } else {
                FlowError::CorrectionLinkRequired
            })),
        },
        Err(err) => Err(db(err)),
    }
}

/// Each attachment must be one this institution uploaded for this request.
async fn check_attachments(
    conn: &impl ConnectionTrait,
    v: &mut Violations,
    wire: &Opinion,
    org: &str,
) -> Result<(), ApiError> {
    for (i, id) in wire.attachment_ids.iter().enumerate() {
        if !fields::is_uuid(id) {
            continue; // already reported by the content rules
        }
        let found = store::get_attachment(conn, id).await.map_err(db)?;
        let ok = found.is_some_and(|a| {
            a.purpose == AttachmentPurpose::Opinion as i32
                && a.subject_id == wire.opinion_request_id
                && a.uploaded_by_org == org
        });
        if !ok {
            v.add(format!("attachment_ids[{i}]"), "no attachment uploaded by this institution for this request");
        }
    }
    Ok(())
}

/// GetOpinion: the parties of its request, and organisations the registry's facts admit (see
/// `domain::access`).
pub async fn get(api: &Inner, caller: &Caller, req: GetOpinionRequest) -> Result<GetOpinionResponse, ApiError> {
    let mut v = Violations::new();
    fields::id(&mut v, "opinion_id", &req.opinion_id, true);
    v.into_result()?;
    if !matches!(caller.role, Role::Insurer | Role::MedicalInstitution | Role::CareOffice | Role::ServiceProvider) {
        // Refused before the record is looked up; the attempt is still in the trail.
        api.auditor
            .record(caller, super::attempt("GetOpinion", "opinion", &req.opinion_id, purpose(req.purpose, caller)))
            .await;
        return Err(denied(access::Denied::NotAParty));
    }
    // A replica, unless the caller has a write it has not replayed; a replica without the
    // opinion is not the last word (one just submitted, or listed by another replica).
    let reads = api.reads_for(caller);
    let found = match store::get_opinion(&reads, &req.opinion_id).await.map_err(db)? {
        None if reads.on_replica() => store::get_opinion(&reads.primary(), &req.opinion_id).await.map_err(db)?,
        found => found,
    };
    let Some(model) = found else {
        return Err(ApiError::not_found("OPINION_NOT_FOUND", "no such opinion"));
    };
    let why = purpose(req.purpose, caller);
    match api.may_read_opinion(caller, &parties(&model)).await {
        Ok(()) => {
            api.auditor.record(caller, audit_entry("GetOpinion", &model, why, ALLOWED)).await;
            Ok(GetOpinionResponse { opinion: Some(to_proto(&model)) })
        }
        Err(err) => {
            if err.code() == tonic::Code::PermissionDenied {
                api.auditor.record(caller, audit_entry("GetOpinion", &model, why, DENIED)).await;
            }
            Err(err)
        }
    }
}

/// ListOpinions: an institution its own; an insurer those for it; a care office or provider
/// one person's, as the registry's facts decide (`CERTIFICATION`).
pub async fn list(api: &Inner, caller: &Caller, req: ListOpinionsRequest) -> Result<ListOpinionsResponse, ApiError> {
    let mut v = Violations::new();
    let before_id = page_token(&mut v, &req.page_token);
    // A filter: duplicates folded, at most 16 values (as documented).
    let statuses = kaigo_platform::validate::enum_filter(&mut v, "statuses", &req.statuses, 16, |s| {
        OpinionStatus::try_from(s).ok().filter(|s| *s != OpinionStatus::Unspecified)
    });
    if !req.insurer_number.is_empty() {
        v.check("insurer_number", InsurerNumber::parse(&req.insurer_number));
    }
    if !req.insured_number.is_empty() {
        v.check("insured_number", InsuredNumber::parse(&req.insured_number));
        if req.insurer_number.is_empty() {
            v.add("insurer_number", "required with insured_number");
        }
    }
    if !req.application_id.is_empty() && !crate::domain::request::valid_application_id(&req.application_id) {
        v.add("application_id", "1–64 letters, digits, '-' or '_'");
    }
    v.into_result()?;
    let mut filter = ListFilter {
        insured_number: (!req.insured_number.is_empty()).then(|| req.insured_number.clone()),
        application_id: (!req.application_id.is_empty()).then(|| req.application_id.clone()),
        statuses: if statuses.is_empty() {
            vec![OpinionStatus::Submitted as i32, OpinionStatus::Received as i32]
        } else {
            statuses.into_iter().map(|s| s as i32).collect()
        },
        before_id,
        limit: page_size(req.page_size),
        ..Default::default()
    };
    if matches!(caller.role, Role::CareOffice | Role::ServiceProvider) {
        // An office reads one person's opinions, registered as that person's 担当 with a
        // consent covering CERTIFICATION (docs/domain/access.md#in-kaigo).
        if req.insured_number.is_empty() {
            let mut v = Violations::new();
            v.add(
                "insured_number",
                "required for a care office or provider (with insurer_number): one person's opinions",
            );
            v.into_result()?;
        }
        if let Err(err) = api.decide_certification(caller, &req.insurer_number, &req.insured_number).await {
            let persons = [(req.insurer_number.as_str(), req.insured_number.as_str())];
            let read = read_record("ListOpinions", "opinion", purpose(req.purpose, caller), DENIED, persons, []);
            api.auditor.record(caller, read).await;
            return Err(err);
        }
        filter.insurer_number = Some(req.insurer_number.clone());
    } else {
        super::requests::scope_to_caller(caller, &mut filter, &req.institution_code, &req.insurer_number)?;
    }
    let rows = store::list_opinions(&api.reads_for(caller), &filter).await.map_err(db)?;
    if !rows.is_empty() {
        // One record for the page: every person and opinion on it.
        let persons = rows.iter().map(|r| (&*r.insurer_number, &*r.insured_number));
        let ids = rows.iter().map(|r| &*r.id);
        let read = read_record("ListOpinions", "opinion", purpose(req.purpose, caller), ALLOWED, persons, ids);
        api.auditor.record(caller, read).await;
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    Ok(ListOpinionsResponse {
        next_page_token: next_token(&ids, filter.limit),
        opinions: rows.iter().map(to_proto).collect(),
    })
}

/// ReceiveOpinion: the insurer takes in the latest version; `opinion.received` goes out
/// through the outbox in the same transaction.
pub async fn receive(
    api: &Inner,
    caller: &Caller,
    req: ReceiveOpinionRequest,
) -> Result<ReceiveOpinionResponse, ApiError> {
    require_role(caller, Role::Insurer, "receive an opinion")?;
    let mut v = Violations::new();
    check_request_id(&mut v, "request_id", &req.request_id);
    fields::id(&mut v, "opinion_id", &req.opinion_id, true);
    v.into_result()?;
    let txn = kaigo_platform::db::begin_write(&api.db).await.map_err(db)?;
    let Some(found) = store::get_opinion(&txn, &req.opinion_id).await.map_err(db)? else {
        return Err(ApiError::not_found("OPINION_NOT_FOUND", "no such opinion"));
    };
    if !access::is_insurer(caller, &parties(&found)) {
        return Err(denied(access::Denied::NotAParty));
    }
    // Only now, with the caller authorised for this opinion, may a stored answer go out.
    let idem = IdempotencyKey::new("ReceiveOpinion", caller, &req.request_id, &req);
    if let Some(stored) = idem.replay_as(&txn).await? {
        return Ok(stored);
    }
    // Lock the request so that a correction and a receipt cannot interleave.
    let request = store::lock_request(&txn, &found.opinion_request_id).await.map_err(db)?;
    let current = store::get_opinion(&txn, &req.opinion_id).await.map_err(db)?.unwrap_or(found);
    let is_latest = request.as_ref().and_then(|r| r.latest_opinion_id.as_deref()) == Some(current.id.as_str());
    let status = OpinionStatus::try_from(current.status).unwrap_or_default();
    if !is_latest && status != OpinionStatus::Received {
        return Err(flow_error(FlowError::OpinionSuperseded));
    }
    flow::check_receive(status).map_err(flow_error)?;

    let now = api.clock.now();
    let written = async {
        let received = store::receive_opinion(&txn, &current.id, &caller.subject, now).await?;
        store::update_request(&txn, &received.opinion_request_id, OpinionRequestStatus::Received as i32, None, now)
            .await?;
        let event = OpinionReceivedEvent {
            application_id: received.application_id.clone(),
            opinion_id: received.id.clone(),
            opinion_request_id: received.opinion_request_id.clone(),
            insurer_number: received.insurer_number.clone(),
            institution_code: received.institution_code.clone(),
            revision: received.revision,
            receive_time: Some(timestamp(now)),
        };
        enqueue(
            &txn,
            NewEvent {
                topic: OPINION_RECEIVED.to_owned(),
                key: received.application_id.clone(),
                payload: event.encode_to_vec(),
            },
        )
        .await?;
        let response = ReceiveOpinionResponse { opinion: Some(to_proto(&received)) };
        idem.remember_message(&txn, now, &response).await?;
        txn.commit().await?;
        Ok::<_, sea_orm::DbErr>(response)
    }
    .await;
    match written {
        Ok(response) => {
            api.relay_waker.notify_one();
            Ok(response)
        }
        Err(err) if is_unique_violation(&err) => idem.after_conflict_as(&api.db, err).await,
        Err(err) => Err(db(err)),
    }
}
