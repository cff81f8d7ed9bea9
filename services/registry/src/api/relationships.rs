//! Registrations, consents and the access decision (docs/domain/access.md#registrations,
//! docs/domain/access.md#consents, docs/domain/access.md#rule-table).

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_access::{Decision, Denial, OrganizationKind, Viewer, relationship};
use kaigo_platform::audit;
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{self, ApiError, Violations};
use kaigo_platform::idempotency::write::{WriteError, replay};
use kaigo_platform::idempotency::{IdempotencyKey, check_request_id};
use kaigo_proto::kaigo::common::v1::Purpose;
use kaigo_proto::kaigo::registry::v1 as pb;
use sea_orm::ConnectionTrait;

use super::cards::usable_confirmation;
use super::convert::{self, Person};
use super::{Api, require_insurer, require_organization};
use crate::changes::{self, By};
use crate::domain::{ConsentSource, EndReason, Evidence, categories_to_text, end_reason_for};
use crate::store::{self, consent, registration};
use crate::wire;

const ALREADY_REGISTERED: (&str, &str) =
    ("ALREADY_REGISTERED", "the organisation is already registered for this person");
const RACE: (&str, &str) = ("CONCURRENT_CHANGE", "another request changed the same record at the same time; retry");

/// Registrations and consents read per person at most (for lists and decisions).
const PER_PERSON: u64 = 500;

/// A new registration row (version 1).
#[allow(clippy::too_many_arguments)]
pub(super) fn new_registration(
    kind: OrganizationKind,
    org: &str,
    person: &Person,
    start: NaiveDate,
    evidence: Evidence,
    card_confirmation_id: Option<String>,
    notification_id: Option<String>,
    by: By,
    at: DateTime<Utc>,
) -> registration::Model {
    registration::Model {
        id: uuid::Uuid::now_v7().to_string(),
        version: 1,
        org_kind: kind.as_str().to_owned(),
        org_number: org.to_owned(),
        insurer_number: person.insurer.clone(),
        insured_number: person.insured.clone(),
        start_date: start,
        evidence: evidence.as_str().to_owned(),
        card_confirmation_id,
        notification_id,
        registered_by_role: by.0,
        registered_by_subject: by.1,
        registered_by_org: by.2,
        created_at: at,
        last_service_on: None,
        ended_at: None,
        end_reason: None,
        ended_by_role: None,
        ended_by_subject: None,
        ended_by_org: None,
        end_note: None,
        active_key: Some(store::active_key(org, &person.insurer, &person.insured)),
    }
}

/// The organisation a request names, or the caller's own; PERMISSION_DENIED when an
/// organisation names another.
fn subject_organization(
    caller: &Caller,
    v: &mut Violations,
    field: &str,
    org: Option<&pb::Organization>,
) -> Result<Option<(OrganizationKind, String)>, ApiError> {
    let named = org.and_then(|o| convert::organization(v, field, o));
    if caller.role == Role::Insurer {
        if org.is_none() {
            v.add(field, "required for insurers: the organisation's kind and number");
        }
        return Ok(named);
    }
    let own = require_organization(caller)?;
    // Its own number, as the kind its role is: a medical institution may not register itself
    // as a provider (which would open 負担割合 to it); one that provides care calls as one.
    if let Some(named) = &named
        && *named != own
    {
        return Err(ApiError::permission_denied(
            "FOR_ANOTHER_ORGANIZATION",
            "an organisation acts only for itself; leave organization unset",
        ));
    }
    Ok(Some(named.unwrap_or(own)))
}

/// Loads what the decision needs about a person: registrations and consents as the access
/// crate sees them.
async fn decision_facts(
    conn: &impl ConnectionTrait,
    person: &Person,
) -> Result<(Vec<kaigo_access::Registration>, Vec<kaigo_access::Consent>), ApiError> {
    let registrations = store::registrations_of_person(conn, &person.insurer, &person.insured, true, PER_PERSON)
        .await
        .map_err(errors::db)?;
    let consents = store::consents_of_person(conn, &person.insurer, &person.insured, true, PER_PERSON)
        .await
        .map_err(errors::db)?;
    Ok((
        registrations.iter().filter_map(convert::access_registration).collect(),
        consents.iter().filter_map(convert::access_consent).collect(),
    ))
}

impl Api {
    pub(super) async fn register(
        &self,
        caller: &Caller,
        req: &pb::RegisterOrganizationRequest,
    ) -> Result<pb::RegisterOrganizationResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        let person = convert::person(&mut v, "person", req.person.as_ref());
        let start = convert::optional_date(&mut v, "start_date", req.start_date.as_ref());
        let evidence = match pb::Evidence::try_from(req.evidence) {
            Ok(pb::Evidence::CardConfirmation) => Some(Evidence::CardConfirmation),
            Ok(pb::Evidence::InsurerManual) => Some(Evidence::InsurerManual),
            Ok(pb::Evidence::MigratedFromEligibility) => Some(Evidence::MigratedFromEligibility),
            Ok(pb::Evidence::InsurerAcceptedNotification) => {
                v.add("evidence", "set only by AcceptCarePlanNotification");
                None
            }
            _ => {
                v.add("evidence", "required: CARD_CONFIRMATION, INSURER_MANUAL or MIGRATED_FROM_ELIGIBILITY");
                None
            }
        };
        match evidence {
            Some(Evidence::CardConfirmation) => convert::id(&mut v, "card_confirmation_id", &req.card_confirmation_id),
            _ if !req.card_confirmation_id.is_empty() => {
                v.add("card_confirmation_id", "only with evidence CARD_CONFIRMATION");
            }
            _ => {}
        }
        let org = subject_organization(caller, &mut v, "organization", req.organization.as_ref())?;
        if caller.role == Role::Insurer && evidence == Some(Evidence::CardConfirmation) {
            v.add("evidence", "an insurer registers with INSURER_MANUAL or MIGRATED_FROM_ELIGIBILITY");
        }
        // A part missing here has its violation recorded above.
        let (Some(person), Some(evidence), Some((kind, org))) = (person, evidence, org) else {
            return Err(ApiError::invalid_argument(v));
        };
        v.into_result()?;
        if caller.role == Role::Insurer {
            require_insurer(caller, &person.insurer)?;
        } else if evidence != Evidence::CardConfirmation {
            return Err(ApiError::permission_denied(
                "EVIDENCE_NOT_ALLOWED",
                "an organisation registers itself only with its card confirmation of the person",
            ));
        }
        let key = IdempotencyKey::new("RegisterOrganization", caller, &req.request_id, req);
        let now = self.clock.now();
        let start = start.unwrap_or_else(|| self.clock.today_jst());
        let by = convert::caller_words(caller);
        let (req, caller) = (req.clone(), caller.clone());
        self.write(&key, ALREADY_REGISTERED, move |txn, key| {
            Box::pin(async move {
                let (req, caller) = (&req, &caller);
                let confirmation = if evidence == Evidence::CardConfirmation {
                    Some(usable_confirmation(txn, caller, &req.card_confirmation_id, &person, now).await?.id)
                } else {
                    None
                };
                replay(txn, key).await?;
                if store::active_registration(txn, &org, &person.insurer, &person.insured).await?.is_some() {
                    return Err(ApiError::failed_precondition(ALREADY_REGISTERED.0, ALREADY_REGISTERED.1).into());
                }
                let row = new_registration(kind, &org, &person, start, evidence, confirmation, None, by, now);
                let row = changes::create_registration(txn, row, now).await?;
                Ok(pb::RegisterOrganizationResponse { registration: Some(wire::registration(&row)) })
            })
        })
        .await
    }

    pub(super) async fn end(
        &self,
        caller: &Caller,
        req: &pb::EndRegistrationRequest,
    ) -> Result<pb::EndRegistrationResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        convert::id(&mut v, "registration_id", &req.registration_id);
        convert::text(&mut v, "note", &req.note);
        v.into_result()?;
        if !matches!(caller.role, Role::Insurer | Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution) {
            return Err(ApiError::permission_denied(
                "ROLE_NOT_ALLOWED",
                "the organisation itself or the person's insurer ends a registration (the person: EndMyRegistration)",
            ));
        }
        let key = IdempotencyKey::new("EndRegistration", caller, &req.request_id, req);
        let now = self.clock.now();
        let (req, caller) = (req.clone(), caller.clone());
        self.write(&key, RACE, move |txn, key| {
            Box::pin(async move {
                let (req, caller) = (&req, &caller);
                let row = store::registration(txn, &req.registration_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("REGISTRATION_NOT_FOUND", "no registration with this id"))?;
                let reason = end_reason_for(caller, &row.org_number, &row.insurer_number).ok_or_else(|| {
                    ApiError::permission_denied(
                        "NOT_YOUR_REGISTRATION",
                        "only the registered organisation or the person's insurer ends this registration",
                    )
                })?;
                replay(txn, key).await?;
                let row =
                    end_active(txn, row, reason, convert::caller_words(caller), Some(req.note.clone()), now).await?;
                Ok(pb::EndRegistrationResponse { registration: Some(wire::registration(&row)) })
            })
        })
        .await
    }

    pub(super) async fn service_evidence(
        &self,
        caller: &Caller,
        req: &pb::RecordServiceEvidenceRequest,
    ) -> Result<pb::RecordServiceEvidenceResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        let person = convert::person(&mut v, "person", req.person.as_ref());
        let date = convert::optional_date(&mut v, "service_date", req.service_date.as_ref());
        let today = self.clock.today_jst();
        match date {
            None if req.service_date.is_none() => v.add("service_date", "required"),
            Some(d) if d > today => v.add("service_date", "must not be after today (JST)"),
            _ => {}
        }
        let org = subject_organization(caller, &mut v, "organization", req.organization.as_ref())?;
        // A part missing here has its violation recorded above.
        let (Some(person), Some(date), Some((_, org))) = (person, date, org) else {
            return Err(ApiError::invalid_argument(v));
        };
        v.into_result()?;
        if caller.role == Role::Insurer {
            require_insurer(caller, &person.insurer)?;
        }
        let key = IdempotencyKey::new("RecordServiceEvidence", caller, &req.request_id, req);
        let now = self.clock.now();
        let by = caller.party();

        self.write(&key, RACE, move |txn, key| {
            Box::pin(async move {
                replay(txn, key).await?;
                let Some(row) = store::active_registration(txn, &org, &person.insurer, &person.insured).await? else {
                    return Err(ApiError::failed_precondition(
                        "NOT_REGISTERED",
                        "the organisation is not registered for this person",
                    )
                    .into());
                };
                let row = changes::record_service(txn, row, date, &by, now).await?;
                Ok(pb::RecordServiceEvidenceResponse { registration: Some(wire::registration(&row)) })
            })
        })
        .await
    }

    pub(super) async fn list_registrations_of(
        &self,
        caller: &Caller,
        req: &pb::ListRegistrationsRequest,
    ) -> Result<pb::ListRegistrationsResponse, ApiError> {
        let mut v = Violations::new();
        let person = req.person.as_ref().and_then(|p| convert::person(&mut v, "person", Some(p)));
        let size = convert::page_size(&mut v, req.page_size);
        let offset = convert::page_token(&mut v, &req.page_token);
        if caller.role == Role::Insurer && req.person.is_none() {
            v.add("person", "required for insurers");
        }
        // An insurer asks about one person: when it is missing here, its violation is recorded
        // above.
        let insurers_person = match (caller.role, &person) {
            (Role::Insurer, None) => return Err(ApiError::invalid_argument(v)),
            (Role::Insurer, Some(person)) => Some(person),
            _ => None,
        };
        v.into_result()?;
        let rows = if let Some(person) = insurers_person {
            require_insurer(caller, &person.insurer)?;
            let mut rows = store::registrations_of_person(
                &self.db,
                &person.insurer,
                &person.insured,
                req.include_ended,
                offset + size + 1,
            )
            .await
            .map_err(errors::db)?;
            rows.drain(..usize::try_from(offset).unwrap_or(0).min(rows.len()));
            rows
        } else {
            let (_, org) = require_organization(caller)?;
            let filter = person.as_ref().map(|p| (p.insurer.as_str(), p.insured.as_str()));
            store::registrations_of_org(&self.db, &org, filter, req.include_ended, offset, size + 1)
                .await
                .map_err(errors::db)?
        };
        let more = rows.len() > usize::try_from(size).unwrap_or(usize::MAX);
        let rows: Vec<_> = rows.into_iter().take(usize::try_from(size).unwrap_or(usize::MAX)).collect();
        let mut persons: Vec<String> =
            rows.iter().map(|r| audit::person(&r.insurer_number, &r.insured_number)).collect();
        persons.sort();
        persons.dedup();
        match (&person, persons.is_empty()) {
            (_, false) => self.audit(caller, "ListRegistrations", "registrations", audit::ALLOWED, persons).await,
            // Asked about one person and found nothing: still a look at the person.
            (Some(p), true) => {
                self.audit(caller, "ListRegistrations", "registrations", audit::NOT_FOUND, vec![p.audit_key()]).await;
            }
            (None, true) => {}
        }
        Ok(pb::ListRegistrationsResponse {
            registrations: rows.iter().map(wire::registration).collect(),
            next_page_token: if more { (offset + size).to_string() } else { String::new() },
        })
    }

    pub(super) async fn consent(
        &self,
        caller: &Caller,
        req: &pb::RecordConsentRequest,
    ) -> Result<pb::RecordConsentResponse, ApiError> {
        use pb::grantee::Grantee as G;
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        let person = convert::person(&mut v, "person", req.person.as_ref());
        let grantee = match req.grantee.as_ref().and_then(|g| g.grantee.as_ref()) {
            Some(G::Organization(org)) => {
                convert::organization(&mut v, "grantee.organization", org).map(|(k, n)| (k, Some(n)))
            }
            Some(G::OrganizationKind(kind)) => {
                convert::kind(&mut v, "grantee.organization_kind", *kind).map(|k| (k, None))
            }
            None => {
                v.add("grantee", "required: an organization or an organization_kind");
                None
            }
        };
        let categories = convert::categories(&mut v, "categories", &req.categories);
        match Purpose::try_from(req.purpose) {
            Ok(Purpose::Unspecified) | Err(_) => v.add("purpose", "required: a kaigo.common.v1.Purpose"),
            Ok(_) => {}
        }
        let source = match pb::ConsentSource::try_from(req.source) {
            Ok(pb::ConsentSource::CardReader) => Some(ConsentSource::CardReader),
            Ok(pb::ConsentSource::MunicipalityAtApplication) => Some(ConsentSource::MunicipalityAtApplication),
            Ok(pb::ConsentSource::PaperRecordedByInsurer) => Some(ConsentSource::PaperRecordedByInsurer),
            _ => {
                v.add("source", "required: CARD_READER, MUNICIPALITY_AT_APPLICATION or PAPER_RECORDED_BY_INSURER");
                None
            }
        };
        if source == Some(ConsentSource::CardReader) {
            convert::id(&mut v, "card_confirmation_id", &req.card_confirmation_id);
        } else if !req.card_confirmation_id.is_empty() {
            v.add("card_confirmation_id", "only with source CARD_READER");
        }
        let today = self.clock.today_jst();
        let from = convert::optional_date(&mut v, "valid_from", req.valid_from.as_ref()).unwrap_or(today);
        let until = convert::optional_date(&mut v, "valid_until", req.valid_until.as_ref());
        if until.is_some_and(|u| u < from) {
            v.add("valid_until", "must not be before valid_from");
        }
        match (caller.role, source) {
            (Role::Insurer, Some(ConsentSource::CardReader)) => {
                v.add("source", "an insurer records MUNICIPALITY_AT_APPLICATION or PAPER_RECORDED_BY_INSURER");
            }
            (Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution, Some(s))
                if s != ConsentSource::CardReader =>
            {
                return Err(ApiError::permission_denied(
                    "CONSENT_SOURCE_NOT_ALLOWED",
                    "an organisation records only consents given at its card reader",
                ));
            }
            _ => {}
        }
        // A part missing here has its violation recorded above.
        let (Some(person), Some((kind, number)), Some(source)) = (person, grantee, source) else {
            return Err(ApiError::invalid_argument(v));
        };
        v.into_result()?;
        match caller.role {
            Role::Insurer => require_insurer(caller, &person.insurer)?,
            _ => {
                let (_, own) = require_organization(caller)?;
                if number.as_deref() != Some(own.as_str()) {
                    return Err(ApiError::permission_denied(
                        "FOR_ANOTHER_ORGANIZATION",
                        "at its card reader an organisation records consents to itself only",
                    ));
                }
            }
        }
        let key = IdempotencyKey::new("RecordConsent", caller, &req.request_id, req);
        let now = self.clock.now();
        let by = convert::caller_words(caller);
        let (req, caller) = (req.clone(), caller.clone());
        self.write(&key, RACE, move |txn, key| {
            Box::pin(async move {
                let (req, caller) = (&req, &caller);
                let confirmation = if source == ConsentSource::CardReader {
                    Some(usable_confirmation(txn, caller, &req.card_confirmation_id, &person, now).await?.id)
                } else {
                    None
                };
                replay(txn, key).await?;
                let row = consent::Model {
                    id: uuid::Uuid::now_v7().to_string(),
                    version: 1,
                    insurer_number: person.insurer.clone(),
                    insured_number: person.insured.clone(),
                    grantee_kind: kind.as_str().to_owned(),
                    grantee_number: number,
                    categories: categories_to_text(&categories),
                    purpose: req.purpose,
                    source: source.as_str().to_owned(),
                    card_confirmation_id: confirmation,
                    valid_from: from,
                    valid_until: until,
                    recorded_by_role: by.0,
                    recorded_by_subject: by.1,
                    recorded_by_org: by.2,
                    created_at: now,
                    withdrawn_at: None,
                    withdrawn_by_role: None,
                    withdrawn_by_subject: None,
                    withdrawn_by_org: None,
                };
                let row = changes::create_consent(txn, row, now).await?;
                Ok(pb::RecordConsentResponse { consent: Some(wire::consent(&row)) })
            })
        })
        .await
    }

    pub(super) async fn withdraw(
        &self,
        caller: &Caller,
        req: &pb::WithdrawConsentRequest,
    ) -> Result<pb::WithdrawConsentResponse, ApiError> {
        let mut v = Violations::new();
        check_request_id(&mut v, "request_id", &req.request_id);
        convert::id(&mut v, "consent_id", &req.consent_id);
        v.into_result()?;
        if caller.role != Role::Insurer {
            return Err(ApiError::permission_denied(
                "WITHDRAWAL_NOT_ALLOWED",
                "only the person (WithdrawMyConsent) or the person's insurer withdraws a consent",
            ));
        }
        let key = IdempotencyKey::new("WithdrawConsent", caller, &req.request_id, req);
        let now = self.clock.now();
        let (req, caller) = (req.clone(), caller.clone());
        self.write(&key, RACE, move |txn, key| {
            Box::pin(async move {
                let (req, caller) = (&req, &caller);
                let row = store::consent(txn, &req.consent_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("CONSENT_NOT_FOUND", "no consent with this id"))?;
                require_insurer(caller, &row.insurer_number)?;
                replay(txn, key).await?;
                let row = withdraw_active(txn, row, convert::caller_words(caller), now).await?;
                Ok(pb::WithdrawConsentResponse { consent: Some(wire::consent(&row)) })
            })
        })
        .await
    }

    pub(super) async fn list_consents_of(
        &self,
        caller: &Caller,
        req: &pb::ListConsentsRequest,
    ) -> Result<pb::ListConsentsResponse, ApiError> {
        let mut v = Violations::new();
        let person = convert::person(&mut v, "person", req.person.as_ref());
        // A person missing here has its violation recorded above.
        let Some(person) = person else { return Err(ApiError::invalid_argument(v)) };
        v.into_result()?;
        let today = self.clock.today_jst();
        let allowed = match caller.role {
            Role::Insurer => require_insurer(caller, &person.insurer),
            _ => {
                let (_, org) = require_organization(caller)?;
                let active = store::active_registration(&self.db, &org, &person.insurer, &person.insured)
                    .await
                    .map_err(errors::db)?;
                if active.is_some_and(|r| r.start_date <= today) {
                    Ok(())
                } else {
                    Err(ApiError::permission_denied(
                        Denial::NotRegistered.reason(),
                        "the organisation is not registered for this person",
                    ))
                }
            }
        };
        if let Err(err) = allowed {
            self.audit(caller, "ListConsents", "consents", audit::DENIED, vec![person.audit_key()]).await;
            return Err(err);
        }
        let rows = store::consents_of_person(&self.db, &person.insurer, &person.insured, true, PER_PERSON)
            .await
            .map_err(errors::db)?;
        // An organisation sees the consents that concern it (to it, or to its kind), not what
        // the person granted others.
        let own = crate::domain::own_organization(caller);
        let rows: Vec<_> = rows
            .into_iter()
            .filter(|c| req.include_inactive || (c.withdrawn_at.is_none() && c.valid_until.is_none_or(|u| today <= u)))
            .filter(|c| match &own {
                None => true,
                Some((kind, number)) => match &c.grantee_number {
                    Some(grantee) => grantee == number,
                    None => c.grantee_kind == kind.as_str(),
                },
            })
            .collect();
        self.audit(caller, "ListConsents", "consents", audit::ALLOWED, vec![person.audit_key()]).await;
        Ok(pb::ListConsentsResponse { consents: rows.iter().map(wire::consent).collect() })
    }

    pub(super) async fn check(
        &self,
        caller: &Caller,
        req: &pb::CheckAccessRequest,
    ) -> Result<pb::CheckAccessResponse, ApiError> {
        let mut v = Violations::new();
        let person = convert::person(&mut v, "person", req.person.as_ref());
        let category = convert::category(req.category);
        if category.is_none() {
            v.add("category", "required: INSURANCE_CERTIFICATES, COST_SHARE, CERTIFICATION or CARE_PLAN");
        }
        let date = convert::optional_date(&mut v, "date", req.date.as_ref()).unwrap_or_else(|| self.clock.today_jst());
        let named = req.organization.as_ref().and_then(|o| convert::organization(&mut v, "organization", o));
        // A part missing here has its violation recorded above.
        let (Some(person), Some(category)) = (person, category) else {
            return Err(ApiError::invalid_argument(v));
        };
        v.into_result()?;
        let viewer = match caller.role {
            Role::Insurer => {
                require_insurer(caller, &person.insurer)?;
                match named {
                    Some((kind, number)) => Viewer {
                        role: match kind {
                            OrganizationKind::CareOffice => kaigo_access::Role::CareOffice,
                            OrganizationKind::ServiceProvider => kaigo_access::Role::ServiceProvider,
                            OrganizationKind::MedicalInstitution => kaigo_access::Role::MedicalInstitution,
                        },
                        organization: Some(number),
                    },
                    None => Viewer { role: kaigo_access::Role::Insurer, organization: Some(person.insurer.clone()) },
                }
            }
            _ => {
                let (_, own) = require_organization(caller)?;
                if named.as_ref().is_some_and(|(_, n)| *n != own) {
                    return Err(ApiError::permission_denied(
                        "FOR_ANOTHER_ORGANIZATION",
                        "an organisation asks only about itself; leave organization unset",
                    ));
                }
                Viewer { role: caller.role, organization: Some(own) }
            }
        };
        let (registrations, consents) = decision_facts(&self.db, &person).await?;
        let relationships = relationship(&viewer, &person.insurer, &registrations, date);
        let decision = self.rules.decide(&viewer, &relationships, &consents, category, date);
        let outcome = if decision == Decision::Allowed { audit::ALLOWED } else { audit::DENIED };
        self.audit(caller, "CheckAccess", "access_decision", outcome, vec![person.audit_key()]).await;
        Ok(match decision {
            Decision::Allowed => pb::CheckAccessResponse {
                decision: pb::Decision::Allowed as i32,
                denial_reason: String::new(),
                consent_required: 0,
            },
            Decision::Denied(denial) => pb::CheckAccessResponse {
                decision: pb::Decision::Denied as i32,
                denial_reason: denial.reason().to_owned(),
                consent_required: match denial {
                    Denial::ConsentRequired(c) => wire::category_message(c) as i32,
                    _ => 0,
                },
            },
        })
    }
}

/// Ends `row` unless it already ended (FAILED_PRECONDITION `ALREADY_ENDED`).
pub(super) async fn end_active(
    conn: &impl ConnectionTrait,
    row: registration::Model,
    reason: EndReason,
    by: By,
    note: Option<String>,
    now: DateTime<Utc>,
) -> Result<registration::Model, WriteError> {
    if row.ended_at.is_some() {
        return Err(ApiError::failed_precondition("ALREADY_ENDED", "the registration has already ended").into());
    }
    Ok(changes::end_registration(conn, row, reason, by, note, now).await?)
}

/// Withdraws `row` unless it already was (FAILED_PRECONDITION `ALREADY_WITHDRAWN`).
pub(super) async fn withdraw_active(
    conn: &impl ConnectionTrait,
    row: consent::Model,
    by: By,
    now: DateTime<Utc>,
) -> Result<consent::Model, WriteError> {
    if row.withdrawn_at.is_some() {
        return Err(ApiError::failed_precondition("ALREADY_WITHDRAWN", "the consent has already been withdrawn").into());
    }
    Ok(changes::withdraw_consent(conn, row, by, now).await?)
}
