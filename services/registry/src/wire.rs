//! Stored rows as the contract's messages: what the API answers and what the change events
//! carry ([`crate::changes`]). Below both, so neither reaches into the other for them; the
//! API's decoding and validation stay in `api::convert`.

use chrono::NaiveDate;
use kaigo_access::OrganizationKind;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::registry::v1 as pb;

pub use kaigo_platform::access::wire::{category_message, kind_message};
pub use kaigo_platform::audit::trail::{role_message, timestamp};

use crate::domain::{ConsentSource, EndReason, Evidence, categories_from_text};
use crate::store;

/// A calendar date as the contract's message.
pub fn date(d: NaiveDate) -> kaigo_proto::google::r#type::Date {
    kaigo_proto::from_naive_date(d)
}

/// An actor from stored words.
pub fn actor(role: &str, subject: &str, org: &str) -> common::Actor {
    common::Actor { role: role_message(role) as i32, subject: subject.to_owned(), organization_number: org.to_owned() }
}

/// The contract's evidence.
pub fn evidence_message(e: Evidence) -> pb::Evidence {
    match e {
        Evidence::CardConfirmation => pb::Evidence::CardConfirmation,
        Evidence::InsurerAcceptedNotification => pb::Evidence::InsurerAcceptedNotification,
        Evidence::InsurerManual => pb::Evidence::InsurerManual,
        Evidence::MigratedFromEligibility => pb::Evidence::MigratedFromEligibility,
    }
}

/// The contract's end reason.
pub fn end_reason_message(r: EndReason) -> pb::EndReason {
    match r {
        EndReason::ByOrganization => pb::EndReason::ByOrganization,
        EndReason::ByPerson => pb::EndReason::ByPerson,
        EndReason::ByInsurer => pb::EndReason::ByInsurer,
        EndReason::NoService => pb::EndReason::NoService,
    }
}

/// The contract's consent source.
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
