//! To and from the contract's messages.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use kaigo_access::{Category, OrganizationKind};
use kaigo_platform::auth::Caller;
use kaigo_platform::errors::Violations;
use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber, MedicalInstitutionCode};
use kaigo_proto::kaigo::registry::v1 as pb;

use crate::domain::categories_from_text;
use crate::store;
use crate::wire::{actor, date, kind_of_word, timestamp};

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

/// The caller as stored words (role, subject, organisation).
pub fn caller_words(caller: &Caller) -> (String, String, String) {
    (caller.role.as_str().to_owned(), caller.subject.clone(), caller.organization().unwrap_or_default().to_owned())
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
