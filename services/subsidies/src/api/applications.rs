//! The applicant's side: drafts, their costs, submission and evidence.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_platform::idempotency::write::{WriteError, replay};
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_proto::kaigo::subsidies::v1 as pb;
use sea_orm::DatabaseTransaction;
use tonic::Request;

use super::{Api, access, convert};
use crate::domain::application::{
    Action, Status, category_key, check_drafting, check_new_application, check_submission, next_status,
};
use crate::domain::calculate::{Calculation, calculate};
use crate::domain::costs::Costs;
use crate::domain::programme::{ApplicantKind, Programme};
use crate::store::{self, Record, application, application_event, evidence};

/// Most evidence files on one application.
const MAX_EVIDENCE: usize = 50;

/// Where an application's cost fields are reported: `application.costs.care_office.readers[0].quantity`
/// (CalculateSubsidy reports the same fields under `costs.`).
const COSTS: &str = "application.costs.";

/// Decodes an application's costs under [`COSTS`].
fn decode_costs(v: &mut Violations, app: &pb::Application) -> Option<Costs> {
    match &app.costs {
        Some(pb::application::Costs::CareOffice(c)) => convert::decode_care_office(c, COSTS, v),
        Some(pb::application::Costs::MedicalInstitution(m)) => convert::decode_medical(m, COSTS, v),
        None => {
            v.add("application.costs", "set care_office or medical_institution");
            None
        }
    }
}

/// Calculates or reports the problems under [`COSTS`].
fn calculate_or_refuse(programme: &Programme, costs: &Costs) -> Result<Calculation, ApiError> {
    calculate(programme, costs).map_err(|problems| {
        let mut v = Violations::new();
        convert::add_problems(&mut v, COSTS, costs, problems);
        ApiError::invalid_argument(v)
    })
}

fn json(value: &impl serde::Serialize) -> Result<String, WriteError> {
    serde_json::to_string(value).map_err(|e| WriteError::Api(ApiError::internal(e)))
}

/// The organisation a change is recorded under ("" for operators).
pub(super) fn organization(caller: &Caller) -> String {
    caller.organization().unwrap_or_default().to_owned()
}

/// The row after a change by `caller` at `now`: version + 1.
pub(super) fn changed(mut row: application::Model, caller: &Caller, now: DateTime<Utc>) -> application::Model {
    row.version += 1;
    row.updated_at = now;
    row.updated_by_role = caller.role.as_str().to_owned();
    row.updated_by_subject = caller.subject.clone();
    row.updated_by_org = organization(caller);
    row
}

/// Loads an application for a write: the caller's own (applicant) or any (operator). Once the
/// caller is known to be allowed, an identical earlier request replays ([`replay`]); after
/// that a stale `expected_version` is refused with ABORTED (so a retry of a write that went
/// through gets its answer, not a version error).
pub(super) async fn load_for_write(
    txn: &DatabaseTransaction,
    key: &IdempotencyKey,
    caller: &Caller,
    step: &Step,
) -> Result<Record, WriteError> {
    let Some(record) = store::find(txn, &step.id).await? else {
        return Err(if caller.role == Role::Operator {
            ApiError::not_found("APPLICATION_NOT_FOUND", "no application with this id").into()
        } else {
            access::not_yours().into()
        });
    };
    if !access::may_read(caller, &record.application.applicant_number) {
        return Err(access::not_yours().into());
    }
    replay(txn, key).await?;
    if record.application.version != step.expected_version {
        return Err(ApiError::aborted(
            "VERSION_MISMATCH",
            "the application changed since it was read; read it again and retry",
        )
        .with_metadata("current_version", record.application.version.to_string())
        .into());
    }
    Ok(record)
}

/// What a change did, for the application's history.
pub(super) struct Change {
    /// The action.
    pub action: Action,
    /// The state before it.
    pub from: Status,
    /// The amount approved or paid, if any.
    pub amount: Option<i64>,
    /// The reasons given, if any.
    pub reasons: Vec<String>,
}

impl Change {
    /// A change with no amount and no reasons.
    pub fn plain(action: Action, from: Status) -> Self {
        Self { action, from, amount: None, reasons: Vec::new() }
    }
}

/// The history entry of the change that produced `row`.
pub(super) fn event_of(
    row: &application::Model,
    action: &str,
    from: Option<Status>,
    amount: Option<i64>,
    reasons: &[String],
) -> Result<application_event::Model, WriteError> {
    Ok(application_event::Model {
        application_id: row.id.clone(),
        version: row.version,
        action: action.to_owned(),
        from_status: from.map_or("", Status::as_str).to_owned(),
        to_status: row.status.clone(),
        at: row.updated_at,
        actor_role: row.updated_by_role.clone(),
        actor_subject: row.updated_by_subject.clone(),
        actor_org: row.updated_by_org.clone(),
        eligible_amount_yen: row.eligible_amount_yen,
        amount_yen: amount,
        reasons: json(&reasons)?,
        costs: row.costs.clone(),
    })
}

/// Writes `row` if its version still is `expected_version` and records `change` in its
/// history, then returns the stored record (explanations in `lang`).
pub(super) async fn save(
    txn: &DatabaseTransaction,
    row: application::Model,
    expected_version: i64,
    change: Change,
    lang: convert::Lang,
) -> Result<pb::Application, WriteError> {
    let id = row.id.clone();
    let event = event_of(&row, change.action.as_str(), Some(change.from), change.amount, &change.reasons)?;
    if !store::update_if_version(txn, row, expected_version).await? {
        return Err(ApiError::aborted("VERSION_MISMATCH", "the application changed concurrently; read it again").into());
    }
    store::insert_event(txn, event).await?;
    let record = store::find(txn, &id).await?.ok_or_else(|| ApiError::internal("application vanished"))?;
    Ok(convert::application(&record, lang)?)
}

/// The stored status of a row.
pub(super) fn status_of(row: &application::Model) -> Result<Status, WriteError> {
    Ok(Status::parse(&row.status).ok_or_else(|| ApiError::internal("unknown stored status"))?)
}

/// The applicant kind of a row.
pub(super) fn kind_of_row(row: &application::Model) -> ApplicantKind {
    if row.applicant_kind == convert::MEDICAL_INSTITUTION {
        ApplicantKind::MedicalInstitution
    } else {
        ApplicantKind::CareOffice
    }
}

/// Refuses an action the state does not allow.
pub(super) fn transition(row: &application::Model, action: Action) -> Result<Status, WriteError> {
    next_status(status_of(row)?, action).map_err(|e| ApiError::failed_precondition(e.reason, e.message).into())
}

/// Checks `expected_version` > 0.
pub(super) fn check_version(v: &mut Violations, expected_version: i64) {
    if expected_version <= 0 {
        v.add("expected_version", "required: the version last read (> 0)");
    }
}

/// Checks an application id is a UUID in the 36-character hyphenated form the service hands
/// out (the documented maximum).
pub(super) fn check_application_id(v: &mut Violations, field: &str, id: &str) {
    if id.len() != 36 || uuid::Uuid::try_parse(id).is_err() {
        v.add(field, "must be an application id (UUID)");
    }
}

/// A validated step on an existing application: which one, at which version.
pub(super) struct Step {
    /// The application id (a UUID).
    pub id: String,
    /// The version the caller last read (> 0).
    pub expected_version: i64,
}

impl Step {
    /// Checks the request id, the application id (under `id_field`) and the version.
    pub(super) fn check(
        v: &mut Violations,
        request_id: &str,
        id_field: &str,
        application_id: &str,
        expected_version: i64,
    ) -> Self {
        check_request_id(v, "request_id", request_id);
        check_application_id(v, id_field, application_id);
        check_version(v, expected_version);
        Self { id: application_id.to_owned(), expected_version }
    }
}

/// A validated CreateApplication.
struct NewApplication {
    programme: Arc<Programme>,
    costs: Costs,
}

/// A validated UpdateApplication.
struct Redraft {
    step: Step,
    /// The programme named in the request ("" = unchanged).
    programme_id: String,
    costs: Costs,
}

/// A validated AttachEvidence.
struct NewEvidence {
    step: Step,
    attachment_id: String,
    kind: &'static str,
    description: String,
}

fn kind_of(costs: &Costs) -> &'static str {
    applicant_kind(costs).as_str()
}

fn applicant_kind(costs: &Costs) -> ApplicantKind {
    match costs {
        Costs::CareOffice(_) => ApplicantKind::CareOffice,
        Costs::Medical(_) => ApplicantKind::MedicalInstitution,
    }
}

fn key_of(costs: &Costs, calculation: &Calculation) -> String {
    match costs {
        Costs::CareOffice(c) => category_key(&c.category_ids),
        Costs::Medical(_) => calculation.tier_id.clone().unwrap_or_default(),
    }
}

impl Api {
    fn validate_create(&self, req: &pb::CreateApplicationRequest) -> Result<NewApplication, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        let (programme, costs) = match &req.application {
            None => {
                v.add("application", "required");
                (None, None)
            }
            Some(app) => {
                (self.programme(&mut v, "application.programme_id", &app.programme_id), decode_costs(&mut v, app))
            }
        };
        match (programme, costs) {
            (Some(programme), Some(costs)) if v.is_empty() => Ok(NewApplication { programme, costs }),
            _ => Err(ApiError::invalid_argument(v)),
        }
    }

    fn validate_update(req: &pb::UpdateApplicationRequest) -> Result<Redraft, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        check_version(&mut v, req.expected_version);
        let Some(app) = &req.application else {
            v.add("application", "required");
            return Err(ApiError::invalid_argument(v));
        };
        check_application_id(&mut v, "application.application_id", &app.application_id);
        match decode_costs(&mut v, app) {
            Some(costs) if v.is_empty() => Ok(Redraft {
                step: Step { id: app.application_id.clone(), expected_version: req.expected_version },
                programme_id: app.programme_id.clone(),
                costs,
            }),
            _ => Err(ApiError::invalid_argument(v)),
        }
    }

    pub(super) async fn create(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Result<pb::CreateApplicationResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        if !access::is_applicant(&caller) {
            return Err(ApiError::permission_denied(
                "APPLICANT_ONLY",
                "applications are made by care offices and medical institutions",
            ));
        }
        let req = request.get_ref();
        let NewApplication { programme, costs } = self.validate_create(req)?;
        access::require_own_claim(&caller, &costs)?;
        let calculation = calculate_or_refuse(&programme, &costs)?;
        let (now, today, lang) =
            (self.clock.now(), self.clock.today_jst(), convert::Lang::from_metadata(request.metadata()));
        let key = IdempotencyKey::new("CreateApplication", &caller, &req.request_id, req);
        self.write(&key, move |txn, key| {
            Box::pin(async move {
                replay(txn, key).await?;
                check_drafting(&programme, applicant_kind(&costs), Status::Draft, today)
                    .map_err(|e| ApiError::failed_precondition(e.reason, e.message))?;
                let applicant = costs.applicant_number().to_owned();
                let latest = store::latest_by_applicant(txn, &programme.programme_id, &applicant).await?;
                let latest_status = latest.as_ref().map(status_of).transpose()?;
                if let Err(refused) = check_new_application(&programme, latest_status) {
                    let existing = latest.as_ref().map(|l| l.id.clone()).unwrap_or_default();
                    let err = if refused.reason == "APPLICATION_EXISTS" {
                        ApiError::already_exists(
                            refused.reason,
                            "this office or institution already has an application to this programme (one per programme)",
                        )
                    } else {
                        ApiError::failed_precondition(refused.reason, refused.message)
                    };
                    return Err(err.with_metadata("application_id", existing).into());
                }
                let attempt = latest.map_or(1, |l| l.attempt.saturating_add(1));
                let row = application::Model {
                    id: uuid::Uuid::now_v7().to_string(),
                    programme_id: programme.programme_id.clone(),
                    applicant_kind: kind_of(&costs).to_owned(),
                    applicant_number: applicant,
                    prefecture_code: costs.prefecture_code().to_owned(),
                    category_key: key_of(&costs, &calculation),
                    costs: json(&costs)?,
                    calculation: json(&calculation)?,
                    eligible_amount_yen: calculation.eligible_amount_yen,
                    status: Status::Draft.as_str().to_owned(),
                    approved_amount_yen: None,
                    rejection_reason: None,
                    paid_amount_yen: None,
                    paid_date: None,
                    payment_reference: None,
                    submitted_at: None,
                    created_at: now,
                    updated_at: now,
                    updated_by_role: caller.role.as_str().to_owned(),
                    updated_by_subject: caller.subject.clone(),
                    updated_by_org: organization(&caller),
                    version: 1,
                    return_reasons: None,
                    attempt,
                };
                let record = Record { application: row.clone(), evidence: Vec::new() };
                let event = event_of(&row, "create", None, None, &[])?;
                store::insert(txn, row).await?;
                store::insert_event(txn, event).await?;
                Ok(pb::CreateApplicationResponse { application: Some(convert::application(&record, lang)?) })
            })
        })
        .await
    }

    pub(super) async fn update(
        &self,
        request: Request<pb::UpdateApplicationRequest>,
    ) -> Result<pb::UpdateApplicationResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        if !access::is_applicant(&caller) {
            return Err(ApiError::permission_denied("APPLICANT_ONLY", "only the applicant changes its draft"));
        }
        let req = request.get_ref();
        let Redraft { step, programme_id: requested_programme, costs } = Self::validate_update(req)?;
        access::require_own_claim(&caller, &costs)?;
        let catalogue = self.catalogue.clone();
        let (now, today, lang) =
            (self.clock.now(), self.clock.today_jst(), convert::Lang::from_metadata(request.metadata()));
        let key = IdempotencyKey::new("UpdateApplication", &caller, &req.request_id, req);
        self.write(&key, move |txn, key| {
            Box::pin(async move {
                let record = load_for_write(txn, key, &caller, &step).await?;
                let row = record.application;
                if !requested_programme.is_empty() && requested_programme != row.programme_id {
                    let mut v = Violations::new();
                    v.add("application.programme_id", "is immutable; leave it empty or unchanged");
                    return Err(ApiError::invalid_argument(v).into());
                }
                if costs.applicant_number() != row.applicant_number || kind_of(&costs) != row.applicant_kind {
                    let mut v = Violations::new();
                    v.add("application.costs", "the applicant of an application cannot change");
                    return Err(ApiError::invalid_argument(v).into());
                }
                let from = status_of(&row)?;
                transition(&row, Action::Update)?;
                let programme = catalogue.get(&row.programme_id).ok_or_else(|| {
                    ApiError::failed_precondition("PROGRAMME_WITHDRAWN", "the programme is no longer offered")
                })?;
                check_drafting(&programme, kind_of_row(&row), from, today)
                    .map_err(|e| ApiError::failed_precondition(e.reason, e.message))?;
                let calculation = calculate_or_refuse(&programme, &costs)?;
                let mut next = changed(row, &caller, now);
                next.category_key = key_of(&costs, &calculation);
                next.costs = json(&costs)?;
                next.calculation = json(&calculation)?;
                next.eligible_amount_yen = calculation.eligible_amount_yen;
                let application =
                    save(txn, next, step.expected_version, Change::plain(Action::Update, from), lang).await?;
                Ok(pb::UpdateApplicationResponse { application: Some(application) })
            })
        })
        .await
    }

    pub(super) async fn submit(
        &self,
        request: Request<pb::SubmitApplicationRequest>,
    ) -> Result<pb::SubmitApplicationResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        if !access::is_applicant(&caller) {
            return Err(ApiError::permission_denied("APPLICANT_ONLY", "only the applicant submits its application"));
        }
        let req = request.get_ref();
        let mut v = Violations::new();
        let step = Step::check(&mut v, &req.request_id, "application_id", &req.application_id, req.expected_version);
        v.into_result()?;
        let catalogue = self.catalogue.clone();
        let (now, today, lang) =
            (self.clock.now(), self.clock.today_jst(), convert::Lang::from_metadata(request.metadata()));
        let key = IdempotencyKey::new("SubmitApplication", &caller, &req.request_id, req);
        self.write(&key, move |txn, key| {
            Box::pin(async move {
                let record = load_for_write(txn, key, &caller, &step).await?;
                let row = record.application;
                let from = status_of(&row)?;
                let status = transition(&row, Action::Submit)?;
                let programme = catalogue.get(&row.programme_id).ok_or_else(|| {
                    ApiError::failed_precondition("PROGRAMME_WITHDRAWN", "the programme is no longer offered")
                })?;
                check_submission(&programme, kind_of_row(&row), from, today)
                    .map_err(|e| ApiError::failed_precondition(e.reason, e.message))?;
                if row.eligible_amount_yen <= 0 {
                    return Err(ApiError::failed_precondition(
                        "NOTHING_ELIGIBLE",
                        "the calculated subsidy is 0 yen; see the calculation's lines for why",
                    )
                    .into());
                }
                let mut next = changed(row, &caller, now);
                next.status = status.as_str().to_owned();
                next.submitted_at = Some(now);
                let application =
                    save(txn, next, step.expected_version, Change::plain(Action::Submit, from), lang).await?;
                Ok(pb::SubmitApplicationResponse { application: Some(application) })
            })
        })
        .await
    }

    fn validate_attach(req: &pb::AttachEvidenceRequest) -> Result<NewEvidence, ApiError> {
        let mut v = Violations::new();
        let step = Step::check(&mut v, &req.request_id, "application_id", &req.application_id, req.expected_version);
        let Some(e) = &req.evidence else {
            v.add("evidence", "required");
            return Err(ApiError::invalid_argument(v));
        };
        if e.attachment_id.is_empty()
            || e.attachment_id.len() > 64
            || !e.attachment_id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            v.add("evidence.attachment_id", "must be a DocumentService attachment id (1–64 letters, digits, - or _)");
        }
        let kind = pb::EvidenceKind::try_from(e.kind).ok().and_then(convert::evidence_kind_str);
        if kind.is_none() {
            v.add("evidence.kind", "must be RECEIPT, INVOICE, QUOTATION, CONTRACT or OTHER");
        }
        if kind == Some("other") && e.description.trim().is_empty() {
            v.add("evidence.description", "required for OTHER");
        }
        if e.description.chars().count() > 500 {
            v.add("evidence.description", "at most 500 characters");
        }
        match kind {
            Some(kind) if v.is_empty() => Ok(NewEvidence {
                step,
                attachment_id: e.attachment_id.clone(),
                kind,
                description: e.description.clone(),
            }),
            _ => Err(ApiError::invalid_argument(v)),
        }
    }

    pub(super) async fn attach(
        &self,
        request: Request<pb::AttachEvidenceRequest>,
    ) -> Result<pb::AttachEvidenceResponse, ApiError> {
        let caller = Caller::from_request(&request)?.clone();
        if !access::is_applicant(&caller) {
            return Err(ApiError::permission_denied("APPLICANT_ONLY", "the applicant attaches its evidence"));
        }
        let req = request.get_ref();
        let NewEvidence { step, attachment_id, kind, description } = Self::validate_attach(req)?;
        let (now, lang) = (self.clock.now(), convert::Lang::from_metadata(request.metadata()));
        let key = IdempotencyKey::new("AttachEvidence", &caller, &req.request_id, req);
        self.write(&key, move |txn, key| {
            Box::pin(async move {
                let record = load_for_write(txn, key, &caller, &step).await?;
                transition(&record.application, Action::AttachEvidence)?;
                if record.evidence.iter().any(|x| x.attachment_id == attachment_id) {
                    return Err(
                        ApiError::already_exists("EVIDENCE_ALREADY_ATTACHED", "this file is already attached").into()
                    );
                }
                if record.evidence.len() >= MAX_EVIDENCE {
                    return Err(ApiError::failed_precondition(
                        "TOO_MANY_EVIDENCE_FILES",
                        format!("an application holds at most {MAX_EVIDENCE} evidence files"),
                    )
                    .into());
                }
                store::insert_evidence(
                    txn,
                    evidence::Model {
                        application_id: step.id.clone(),
                        attachment_id,
                        kind: kind.to_owned(),
                        description,
                        attached_at: now,
                        attached_by_subject: caller.subject.clone(),
                    },
                )
                .await?;
                let from = status_of(&record.application)?;
                let next = changed(record.application, &caller, now);
                let change = Change::plain(Action::AttachEvidence, from);
                let application = save(txn, next, step.expected_version, change, lang).await?;
                Ok(pb::AttachEvidenceResponse { application: Some(application) })
            })
        })
        .await
    }
}
