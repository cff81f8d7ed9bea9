//! To and from the contract's messages.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use kaigo_access::{Category, OrganizationKind};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::Violations;
use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber, MedicalInstitutionCode};
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::registry::v1 as pb;

use crate::domain::{ConsentSource, EndReason, Evidence, categories_from_text};
use crate::store;

/// At most this many characters of free text.
pub const MAX_TEXT: usize = 400;

/// A validated person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub insurer: String,
    pub insured: String,
}

impl Person {
    /// The audit trail's key for the person.
    pub fn audit_key(&self) -> String {
        kaigo_platform::audit::person(&self.insurer, &self.insured)
    }

    pub fn message(&self) -> pb::PersonRef {
        pb::PersonRef { insurer_number: self.insurer.clone(), insured_number: self.insured.clone() }
    }
}

/// Reads a required person at `field`.
pub fn person(v: &mut Violations, field: &str, person: Option<&pb::PersonRef>) -> Option<Person> {
    let Some(p) = person else {
        v.add(field, "required: insurer_number and insured_number");
        return None;
    };
    let insurer = v.check(&format!("{field}.insurer_number"), InsurerNumber::parse(&p.insurer_number));
    let insured = v.check(&format!("{field}.insured_number"), InsuredNumber::parse(&p.insured_number));
    Some(Person { insurer: insurer?.as_str().to_owned(), insured: insured?.as_str().to_owned() })
}

/// Reads an organisation kind (not UNSPECIFIED).
pub fn kind(v: &mut Violations, field: &str, value: i32) -> Option<OrganizationKind> {
    match pb::OrganizationKind::try_from(value) {
        Ok(pb::OrganizationKind::CareOffice) => Some(OrganizationKind::CareOffice),
        Ok(pb::OrganizationKind::ServiceProvider) => Some(OrganizationKind::ServiceProvider),
        Ok(pb::OrganizationKind::MedicalInstitution) => Some(OrganizationKind::MedicalInstitution),
        _ => {
            v.add(field, "required: CARE_OFFICE, SERVICE_PROVIDER or MEDICAL_INSTITUTION");
            None
        }
    }
}

/// Reads an organisation: its kind and a number of the kind's form.
pub fn organization(v: &mut Violations, field: &str, org: &pb::Organization) -> Option<(OrganizationKind, String)> {
    let kind = kind(v, &format!("{field}.kind"), org.kind)?;
    let number_field = format!("{field}.number");
    let number = match kind {
        OrganizationKind::CareOffice | OrganizationKind::ServiceProvider => {
            v.check(&number_field, CareOfficeNumber::parse(&org.number)).map(|n| n.as_str().to_owned())
        }
        OrganizationKind::MedicalInstitution => {
            v.check(&number_field, MedicalInstitutionCode::parse(&org.number)).map(|n| n.as_str().to_owned())
        }
    }?;
    Some((kind, number))
}

/// The contract's kind.
pub fn kind_message(kind: OrganizationKind) -> pb::OrganizationKind {
    match kind {
        OrganizationKind::CareOffice => pb::OrganizationKind::CareOffice,
        OrganizationKind::ServiceProvider => pb::OrganizationKind::ServiceProvider,
        OrganizationKind::MedicalInstitution => pb::OrganizationKind::MedicalInstitution,
    }
}

/// A category (not UNSPECIFIED).
pub fn category(value: i32) -> Option<Category> {
    match pb::Category::try_from(value) {
        Ok(pb::Category::InsuranceCertificates) => Some(Category::InsuranceCertificates),
        Ok(pb::Category::CostShare) => Some(Category::CostShare),
        Ok(pb::Category::Certification) => Some(Category::Certification),
        Ok(pb::Category::CarePlan) => Some(Category::CarePlan),
        _ => None,
    }
}

/// The contract's category.
pub fn category_message(category: Category) -> pb::Category {
    match category {
        Category::InsuranceCertificates => pb::Category::InsuranceCertificates,
        Category::CostShare => pb::Category::CostShare,
        Category::Certification => pb::Category::Certification,
        Category::CarePlan => pb::Category::CarePlan,
    }
}

/// 1–4 categories, each known, none repeated.
pub fn categories(v: &mut Violations, field: &str, values: &[i32]) -> BTreeSet<Category> {
    let mut out = BTreeSet::new();
    if values.is_empty() {
        v.add(field, "required: 1–4 categories");
    }
    if !kaigo_platform::validate::at_most(v, field, values, 4) {
        return out;
    }
    for (i, value) in values.iter().enumerate() {
        match category(*value) {
            Some(c) if !out.insert(c) => v.add(format!("{field}[{i}]"), "repeated category"),
            Some(_) => {}
            None => v.add(
                format!("{field}[{i}]"),
                "unknown category; INSURANCE_CERTIFICATES, COST_SHARE, CERTIFICATION or CARE_PLAN",
            ),
        }
    }
    out
}

/// An optional date.
pub fn optional_date(
    v: &mut Violations,
    field: &str,
    date: Option<&kaigo_proto::google::r#type::Date>,
) -> Option<NaiveDate> {
    let date = date?;
    v.check(field, kaigo_proto::to_naive_date(date))
}

pub fn date(d: NaiveDate) -> kaigo_proto::google::r#type::Date {
    kaigo_proto::from_naive_date(d)
}

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
}

/// Free text of at most [`MAX_TEXT`] characters.
pub fn text(v: &mut Violations, field: &str, value: &str) {
    kaigo_platform::validate::max_chars(v, field, value, MAX_TEXT);
}

/// A UUID id field (required).
pub fn id(v: &mut Violations, field: &str, value: &str) {
    if value.is_empty() {
        v.add(field, "required");
    } else if value.len() != 36 || uuid::Uuid::try_parse(value).is_err() {
        v.add(field, "must be a UUID (36 characters)");
    }
}

/// Page size: 0 → 50; above 500 → 500; negative refused.
pub fn page_size(v: &mut Violations, size: i32) -> u64 {
    match size {
        0 => 50,
        n if n < 0 => {
            v.add("page_size", "must not be negative");
            50
        }
        n => u64::try_from(n.min(500)).unwrap_or(500),
    }
}

/// An offset page token (at most 16 characters, as the contract documents: a number up to
/// 1,000,000 with any leading zeros beyond that refused).
pub fn page_token(v: &mut Violations, token: &str) -> u64 {
    if token.is_empty() {
        return 0;
    }
    if token.len() > 16 {
        v.add("page_token", "not a token from this RPC (at most 16 characters)");
        return 0;
    }
    match token.parse::<u64>() {
        Ok(n) if n <= 1_000_000 => n,
        _ => {
            v.add("page_token", "not a token from this RPC");
            0
        }
    }
}

fn role_message(role: &str) -> common::Role {
    match role {
        "insurer" => common::Role::Insurer,
        "care_office" => common::Role::CareOffice,
        "service_provider" => common::Role::ServiceProvider,
        "medical_institution" => common::Role::MedicalInstitution,
        "insured_person" => common::Role::InsuredPerson,
        "operator" => common::Role::Operator,
        "system" => common::Role::System,
        _ => common::Role::Unspecified,
    }
}

/// An actor from stored words.
pub fn actor(role: &str, subject: &str, org: &str) -> common::Actor {
    common::Actor { role: role_message(role) as i32, subject: subject.to_owned(), organization_number: org.to_owned() }
}

/// The caller as stored words (role, subject, organisation).
pub fn caller_words(caller: &Caller) -> (String, String, String) {
    (caller.role.as_str().to_owned(), caller.subject.clone(), caller.organization().unwrap_or_default().to_owned())
}

pub fn evidence_message(e: Evidence) -> pb::Evidence {
    match e {
        Evidence::CardConfirmation => pb::Evidence::CardConfirmation,
        Evidence::InsurerAcceptedNotification => pb::Evidence::InsurerAcceptedNotification,
        Evidence::InsurerManual => pb::Evidence::InsurerManual,
        Evidence::MigratedFromEligibility => pb::Evidence::MigratedFromEligibility,
    }
}

pub fn end_reason_message(r: EndReason) -> pb::EndReason {
    match r {
        EndReason::ByOrganization => pb::EndReason::ByOrganization,
        EndReason::ByPerson => pb::EndReason::ByPerson,
        EndReason::ByInsurer => pb::EndReason::ByInsurer,
        EndReason::NoService => pb::EndReason::NoService,
    }
}

pub fn source_message(s: ConsentSource) -> pb::ConsentSource {
    match s {
        ConsentSource::CardReader => pb::ConsentSource::CardReader,
        ConsentSource::MunicipalityAtApplication => pb::ConsentSource::MunicipalityAtApplication,
        ConsentSource::PaperRecordedByInsurer => pb::ConsentSource::PaperRecordedByInsurer,
    }
}

/// The stored kind word of an organisation kind.
pub fn kind_of_word(word: &str) -> Option<OrganizationKind> {
    word.parse().ok()
}

/// A registration as the contract's message.
pub fn registration(r: &store::registration::Model) -> pb::Registration {
    pb::Registration {
        registration_id: r.id.clone(),
        version: r.version,
        organization: Some(pb::Organization {
            kind: kind_of_word(&r.org_kind).map_or(0, |k| kind_message(k) as i32),
            number: r.org_number.clone(),
        }),
        person: Some(pb::PersonRef {
            insurer_number: r.insurer_number.clone(),
            insured_number: r.insured_number.clone(),
        }),
        start_date: Some(date(r.start_date)),
        evidence: Evidence::parse(&r.evidence).map_or(0, |e| evidence_message(e) as i32),
        card_confirmation_id: r.card_confirmation_id.clone().unwrap_or_default(),
        notification_id: r.notification_id.clone().unwrap_or_default(),
        registered_by: Some(actor(&r.registered_by_role, &r.registered_by_subject, &r.registered_by_org)),
        create_time: Some(timestamp(r.created_at)),
        last_service_date: r.last_service_on.map(date),
        end_time: r.ended_at.map(timestamp),
        end_reason: r.end_reason.as_deref().and_then(EndReason::parse).map_or(0, |e| end_reason_message(e) as i32),
        ended_by: r.ended_by_role.as_ref().map(|role| {
            actor(
                role,
                r.ended_by_subject.as_deref().unwrap_or_default(),
                r.ended_by_org.as_deref().unwrap_or_default(),
            )
        }),
        end_note: r.end_note.clone().unwrap_or_default(),
    }
}

/// A consent as the contract's message.
pub fn consent(c: &store::consent::Model) -> pb::Consent {
    use pb::grantee::Grantee as G;
    let grantee = match (&c.grantee_number, kind_of_word(&c.grantee_kind)) {
        (Some(number), Some(kind)) => {
            G::Organization(pb::Organization { kind: kind_message(kind) as i32, number: number.clone() })
        }
        (None, Some(kind)) => G::OrganizationKind(kind_message(kind) as i32),
        (_, None) => G::OrganizationKind(0),
    };
    pb::Consent {
        consent_id: c.id.clone(),
        version: c.version,
        person: Some(pb::PersonRef {
            insurer_number: c.insurer_number.clone(),
            insured_number: c.insured_number.clone(),
        }),
        grantee: Some(pb::Grantee { grantee: Some(grantee) }),
        categories: categories_from_text(&c.categories).into_iter().map(|c| category_message(c) as i32).collect(),
        purpose: c.purpose,
        source: ConsentSource::parse(&c.source).map_or(0, |s| source_message(s) as i32),
        card_confirmation_id: c.card_confirmation_id.clone().unwrap_or_default(),
        valid_from: Some(date(c.valid_from)),
        valid_until: c.valid_until.map(date),
        recorded_by: Some(actor(&c.recorded_by_role, &c.recorded_by_subject, &c.recorded_by_org)),
        create_time: Some(timestamp(c.created_at)),
        withdraw_time: c.withdrawn_at.map(timestamp),
        withdrawn_by: c.withdrawn_by_role.as_ref().map(|role| {
            actor(
                role,
                c.withdrawn_by_subject.as_deref().unwrap_or_default(),
                c.withdrawn_by_org.as_deref().unwrap_or_default(),
            )
        }),
    }
}

/// The access crate's registration of a stored one.
pub fn access_registration(r: &store::registration::Model) -> Option<kaigo_access::Registration> {
    Some(kaigo_access::Registration {
        organization: r.org_number.clone(),
        kind: kind_of_word(&r.org_kind)?,
        start: r.start_date,
        end: r.ended_at.map(kaigo_platform::time::jst_date),
    })
}

/// The access crate's consent of a stored one.
pub fn access_consent(c: &store::consent::Model) -> Option<kaigo_access::Consent> {
    let kind = kind_of_word(&c.grantee_kind)?;
    Some(kaigo_access::Consent {
        grantee: match &c.grantee_number {
            Some(number) => kaigo_access::Grantee::Organization(number.clone()),
            None => kaigo_access::Grantee::Kind(kind),
        },
        categories: categories_from_text(&c.categories),
        valid_from: c.valid_from,
        valid_until: c.valid_until,
        withdrawn_on: c.withdrawn_at.map(kaigo_platform::time::jst_date),
    })
}

pub fn notification_status(status: &str) -> pb::NotificationStatus {
    match status {
        "submitted" => pb::NotificationStatus::Submitted,
        "accepted" => pb::NotificationStatus::Accepted,
        "returned" => pb::NotificationStatus::Returned,
        _ => pb::NotificationStatus::Unspecified,
    }
}

/// A notification as the contract's message.
pub fn notification(n: &store::notification::Model) -> pb::CarePlanNotification {
    pb::CarePlanNotification {
        notification_id: n.id.clone(),
        person: Some(pb::PersonRef {
            insurer_number: n.insurer_number.clone(),
            insured_number: n.insured_number.clone(),
        }),
        office_number: n.office_number.clone(),
        start_date: Some(date(n.start_date)),
        status: notification_status(&n.status) as i32,
        submit_time: Some(timestamp(n.submitted_at)),
        decide_time: n.decided_at.map(timestamp),
        decided_by: n.decided_by_role.as_ref().map(|role| {
            actor(
                role,
                n.decided_by_subject.as_deref().unwrap_or_default(),
                n.decided_by_org.as_deref().unwrap_or_default(),
            )
        }),
        return_reason: n.return_reason.clone().unwrap_or_default(),
        version: n.version,
    }
}

#[cfg(test)]
mod tests {
    use kaigo_platform::Violations;

    #[test]
    fn a_page_token_is_a_short_number() {
        let mut v = Violations::new();
        assert_eq!(super::page_token(&mut v, "50"), 50);
        assert!(v.is_empty());
        // A number in range, padded past the documented 16 characters.
        let mut v = Violations::new();
        assert_eq!(super::page_token(&mut v, &format!("{}50", "0".repeat(20))), 0);
        assert_eq!(v.as_slice().len(), 1);
    }
}
