//! The registry's rules as plain functions (no I/O, no async).

pub mod access_log;
pub mod card;

use chrono::{Months, NaiveDate};
use kaigo_access::{Category, OrganizationKind};
use kaigo_platform::auth::Caller;

/// Why a registration ended (the stored words; the contract's `EndReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// By the organisation itself.
    ByOrganization,
    /// By the person.
    ByPerson,
    /// By the person's insurer.
    ByInsurer,
    /// No service evidence for the configured months.
    NoService,
}

impl EndReason {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::ByOrganization => "by_organization",
            EndReason::ByPerson => "by_person",
            EndReason::ByInsurer => "by_insurer",
            EndReason::NoService => "no_service",
        }
    }

    /// From the stored word.
    pub fn parse(s: &str) -> Option<Self> {
        [EndReason::ByOrganization, EndReason::ByPerson, EndReason::ByInsurer, EndReason::NoService]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// What a registration rests on (the stored words; the contract's `Evidence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A card confirmation by the organisation.
    CardConfirmation,
    /// The insurer accepted the office's 作成依頼届出.
    InsurerAcceptedNotification,
    /// Entered by the insurer.
    InsurerManual,
    /// Migrated from eligibility's care-management office.
    MigratedFromEligibility,
}

impl Evidence {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::CardConfirmation => "card_confirmation",
            Evidence::InsurerAcceptedNotification => "insurer_accepted_notification",
            Evidence::InsurerManual => "insurer_manual",
            Evidence::MigratedFromEligibility => "migrated_from_eligibility",
        }
    }

    /// From the stored word.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Evidence::CardConfirmation,
            Evidence::InsurerAcceptedNotification,
            Evidence::InsurerManual,
            Evidence::MigratedFromEligibility,
        ]
        .into_iter()
        .find(|e| e.as_str() == s)
    }
}

/// Where a consent was given (the stored words; the contract's `ConsentSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentSource {
    /// At the organisation's card reader.
    CardReader,
    /// At the municipality, with the application.
    MunicipalityAtApplication,
    /// On paper, recorded by the insurer.
    PaperRecordedByInsurer,
}

impl ConsentSource {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSource::CardReader => "card_reader",
            ConsentSource::MunicipalityAtApplication => "municipality_at_application",
            ConsentSource::PaperRecordedByInsurer => "paper_recorded_by_insurer",
        }
    }

    /// From the stored word.
    pub fn parse(s: &str) -> Option<Self> {
        [ConsentSource::CardReader, ConsentSource::MunicipalityAtApplication, ConsentSource::PaperRecordedByInsurer]
            .into_iter()
            .find(|e| e.as_str() == s)
    }
}

/// The organisation a caller acts for as a possible 担当 (kind and number); `None` for
/// insurers, persons and operators.
pub fn own_organization(caller: &Caller) -> Option<(OrganizationKind, String)> {
    let kind = OrganizationKind::of_role(caller.role)?;
    Some((kind, caller.organization()?.to_owned()))
}

/// Whether a registration that started on `start` and last saw service on `last_service` has
/// gone `months` without service by `today` (docs/domain/access.md#registrations): the period
/// counts from the later of the two, and ends the registration on the day it completes.
pub fn without_service(start: NaiveDate, last_service: Option<NaiveDate>, today: NaiveDate, months: u32) -> bool {
    let since = last_service.map_or(start, |last| last.max(start));
    since.checked_add_months(Months::new(months)).is_some_and(|due| due <= today)
}

/// Who may end a registration of `organization` for a person insured by `insurer`, and with
/// which reason: the organisation itself, or the insurer. (The person ends theirs through
/// their own view.)
pub fn end_reason_for(caller: &Caller, organization: &str, insurer: &str) -> Option<EndReason> {
    use kaigo_platform::auth::Role as P;
    match caller.role {
        P::Insurer if caller.organization() == Some(insurer) => Some(EndReason::ByInsurer),
        P::CareOffice | P::ServiceProvider | P::MedicalInstitution if caller.organization() == Some(organization) => {
            Some(EndReason::ByOrganization)
        }
        _ => None,
    }
}

/// Categories of a consent as stored: the names joined by commas, in a stable order.
pub fn categories_to_text(categories: &std::collections::BTreeSet<Category>) -> String {
    categories.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
}

/// Categories from their stored text (unknown names are skipped: a stored consent never
/// grants more than the names it holds).
pub fn categories_from_text(text: &str) -> std::collections::BTreeSet<Category> {
    text.split(',').filter_map(|s| s.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use kaigo_platform::auth::Role as P;
    use kaigo_platform::testkit::{caller, orgs};

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_registration_ends_when_the_months_without_service_are_complete() {
        let start = d(2026, 1, 31);
        assert!(!without_service(start, None, d(2026, 7, 30), 6));
        assert!(without_service(start, None, d(2026, 7, 31), 6));
        // Service evidence restarts the period; evidence before the start does not.
        assert!(!without_service(start, Some(d(2026, 5, 1)), d(2026, 7, 31), 6));
        assert!(without_service(start, Some(d(2026, 5, 1)), d(2026, 11, 1), 6));
        assert!(without_service(start, Some(d(2025, 1, 1)), d(2026, 7, 31), 6));
    }

    #[test]
    fn only_the_organisation_and_the_insurer_end_a_registration() {
        let office = caller(P::CareOffice);
        assert_eq!(end_reason_for(&office, orgs::CARE_OFFICE, orgs::INSURER), Some(EndReason::ByOrganization));
        assert_eq!(end_reason_for(&office, orgs::PROVIDER, orgs::INSURER), None);
        assert_eq!(end_reason_for(&caller(P::Insurer), orgs::CARE_OFFICE, orgs::INSURER), Some(EndReason::ByInsurer));
        assert_eq!(end_reason_for(&caller(P::Insurer), orgs::CARE_OFFICE, "122192"), None);
        assert_eq!(end_reason_for(&caller(P::Operator), orgs::CARE_OFFICE, orgs::INSURER), None);
        assert_eq!(end_reason_for(&caller(P::InsuredPerson), orgs::CARE_OFFICE, orgs::INSURER), None);
    }

    #[test]
    fn stored_words_round_trip() {
        for r in [EndReason::ByOrganization, EndReason::ByPerson, EndReason::ByInsurer, EndReason::NoService] {
            assert_eq!(EndReason::parse(r.as_str()), Some(r));
        }
        for e in [
            Evidence::CardConfirmation,
            Evidence::InsurerAcceptedNotification,
            Evidence::InsurerManual,
            Evidence::MigratedFromEligibility,
        ] {
            assert_eq!(Evidence::parse(e.as_str()), Some(e));
        }
        let all: std::collections::BTreeSet<Category> = Category::ALL.into_iter().collect();
        assert_eq!(categories_from_text(&categories_to_text(&all)), all);
        assert!(categories_from_text("").is_empty());
        assert_eq!(
            own_organization(&caller(P::CareOffice)),
            Some((OrganizationKind::CareOffice, orgs::CARE_OFFICE.into()))
        );
        assert_eq!(own_organization(&caller(P::Insurer)), None);
    }
}
