use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use kaigo_access::{Category, Consent, Denial, Grantee, OrganizationKind, Registration};
use kaigo_proto::kaigo::registry::v1 as pb;

use super::*;
use crate::auth::{Caller, Role};
use crate::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};

const INSURER: &str = "435073";
const OFFICE: &str = "4371000128";
const OTHER_OFFICE: &str = "4371000201";

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn caller(role: Role, org: &str) -> Caller {
    Caller {
        subject: "s".into(),
        role,
        insurer: (role == Role::Insurer).then(|| InsurerNumber::parse(org).unwrap()),
        office: matches!(role, Role::CareOffice | Role::ServiceProvider).then(|| CareOfficeNumber::parse(org).unwrap()),
        institution: (role == Role::MedicalInstitution).then(|| MedicalInstitutionCode::parse(org).unwrap()),
        scopes: vec![],
        consents: vec![],
    }
}

fn person() -> PersonRef<'static> {
    PersonRef::new(INSURER, "0000000001")
}

fn registered(org: &str, kind: OrganizationKind, consented: &[Category]) -> Facts {
    Facts {
        registrations: vec![Registration { organization: org.into(), kind, start: d(2026, 1, 1), end: None }],
        consents: vec![Consent {
            grantee: Grantee::Organization(org.into()),
            categories: consented.iter().copied().collect::<BTreeSet<_>>(),
            valid_from: d(2026, 1, 1),
            valid_until: None,
            withdrawn_on: None,
        }],
        links: vec![],
        stamp: 2,
    }
}

fn gate() -> Gate {
    Gate::builtin("test", &AccessOptions { denied_alert_per_minute: 3 })
}

fn reason(err: &ApiError) -> &'static str {
    err.reason()
}

#[test]
fn an_office_without_a_registration_is_not_registered_whatever_it_presents() {
    let mut office = caller(Role::CareOffice, OFFICE);
    // The caller's own word grants nothing.
    office.consents = vec![format!("{INSURER}:0000000001")];
    let err = gate().decide(&office, person(), Category::InsuranceCertificates, d(2026, 6, 1), &Facts::default());
    assert_eq!(reason(&err.unwrap_err()), "NOT_REGISTERED");
    // Registered facts of another office do not help either.
    let other = registered(OTHER_OFFICE, OrganizationKind::CareOffice, &Category::ALL);
    let err = gate().decide(&office, person(), Category::InsuranceCertificates, d(2026, 6, 1), &other);
    assert_eq!(reason(&err.unwrap_err()), "NOT_REGISTERED");
}

#[test]
fn a_registered_office_sees_what_the_consent_covers_and_is_told_which_category_it_lacks() {
    let office = caller(Role::CareOffice, OFFICE);
    let facts = registered(OFFICE, OrganizationKind::CareOffice, &[Category::InsuranceCertificates]);
    let on = d(2026, 6, 1);
    assert!(gate().decide(&office, person(), Category::InsuranceCertificates, on, &facts).is_ok());
    let err = gate().decide(&office, person(), Category::CostShare, on, &facts).unwrap_err();
    assert_eq!(reason(&err), "CONSENT_REQUIRED");
    let status: tonic::Status = err.into();
    use tonic_types::StatusExt;
    let info = status.get_error_details().error_info().cloned().unwrap();
    assert_eq!(info.metadata.get("category").map(String::as_str), Some("cost_share"));
    // Before the registration began, nothing.
    let err = gate().decide(&office, person(), Category::InsuranceCertificates, d(2025, 12, 31), &facts);
    assert_eq!(reason(&err.unwrap_err()), "NOT_REGISTERED");
}

#[test]
fn insurers_see_their_own_insured_only_and_operators_nothing_and_persons_not_another_record() {
    let own = caller(Role::Insurer, INSURER);
    for category in Category::ALL {
        assert!(gate().decide(&own, person(), category, d(2026, 6, 1), &Facts::default()).is_ok());
    }
    let other = caller(Role::Insurer, "122192");
    let err = gate().decide(&other, person(), Category::InsuranceCertificates, d(2026, 6, 1), &Facts::default());
    assert_eq!(reason(&err.unwrap_err()), "NOT_PERMITTED");
    let operator = Caller { role: Role::Operator, insurer: None, ..own.clone() };
    let err = gate().decide(&operator, person(), Category::InsuranceCertificates, d(2026, 6, 1), &Facts::default());
    assert_eq!(reason(&err.unwrap_err()), "NOT_PERMITTED");
    // A person without a link to this record is refused as an unregistered office is.
    let person_caller = Caller { role: Role::InsuredPerson, insurer: None, ..own };
    let err =
        gate().decide(&person_caller, person(), Category::InsuranceCertificates, d(2026, 6, 1), &Facts::default());
    assert_eq!(reason(&err.unwrap_err()), "NOT_REGISTERED");
}

#[test]
fn a_person_sees_every_category_of_the_record_their_token_subject_is_linked_to() {
    let me = Caller { subject: "d000000001".into(), role: Role::InsuredPerson, ..caller(Role::Operator, "") };
    let mine = Facts { links: vec!["d000000001".into()], ..Facts::default() };
    for category in Category::ALL {
        assert!(gate().decide(&me, person(), category, d(2026, 6, 1), &mine).is_ok(), "{category}");
    }
    // Another person's record (linked to other identities), and an organisation's registration
    // facts, grant the person nothing.
    let theirs =
        Facts { links: vec!["d000000002".into()], ..registered(OFFICE, OrganizationKind::CareOffice, &Category::ALL) };
    let err = gate().decide(&me, person(), Category::InsuranceCertificates, d(2026, 6, 1), &theirs).unwrap_err();
    assert_eq!(reason(&err), "NOT_REGISTERED");
    // An office whose subject happens to equal a link is still decided as an office.
    let office = Caller { subject: "d000000001".into(), ..caller(Role::CareOffice, OFFICE) };
    let err = gate().decide(&office, person(), Category::InsuranceCertificates, d(2026, 6, 1), &mine).unwrap_err();
    assert_eq!(reason(&err), "NOT_REGISTERED");
}

#[test]
fn an_identity_link_event_becomes_a_row_only_when_its_facts_hold() {
    let link = pb::IdentityLinkChanged {
        link_id: "d000000001".into(),
        person: Some(pb::PersonRef { insurer_number: INSURER.into(), insured_number: "0000000001".into() }),
        revoked: true,
        version: 2,
        change_time: None,
    };
    let row = identity_link_row(&link).unwrap();
    assert_eq!((row.id.as_str(), row.version, row.revoked), ("d000000001", 2, true));
    assert_eq!(row.person, Person { insurer: INSURER.into(), insured: "0000000001".into() });
    for bad in [
        pb::IdentityLinkChanged { link_id: "D0".into(), ..link.clone() },
        pb::IdentityLinkChanged { link_id: String::new(), ..link.clone() },
        pb::IdentityLinkChanged { version: 0, ..link.clone() },
        pb::IdentityLinkChanged { person: None, ..link.clone() },
    ] {
        assert_eq!(identity_link_row(&bad), None);
    }
}

#[test]
fn a_medical_institution_never_sees_cost_share_even_with_consent() {
    let clinic = caller(Role::MedicalInstitution, "1311234569");
    let facts = registered("1311234569", OrganizationKind::MedicalInstitution, &Category::ALL);
    let on = d(2026, 6, 1);
    assert!(gate().decide(&clinic, person(), Category::InsuranceCertificates, on, &facts).is_ok());
    assert_eq!(
        reason(&gate().decide(&clinic, person(), Category::CostShare, on, &facts).unwrap_err()),
        "NOT_PERMITTED"
    );
}

#[test]
fn a_withdrawn_consent_stops_granting_on_the_day_of_withdrawal() {
    let office = caller(Role::CareOffice, OFFICE);
    let mut facts = registered(OFFICE, OrganizationKind::CareOffice, &Category::ALL);
    facts.consents[0].withdrawn_on = Some(d(2026, 6, 1));
    assert!(gate().decide(&office, person(), Category::CostShare, d(2026, 5, 31), &facts).is_ok());
    let err = gate().decide(&office, person(), Category::CostShare, d(2026, 6, 1), &facts);
    assert_eq!(reason(&err.unwrap_err()), "CONSENT_REQUIRED");
}

#[test]
fn an_organisation_passing_the_threshold_is_warned_about_once_per_crossing() {
    let gate = gate();
    let office = caller(Role::CareOffice, OFFICE);
    let start = Instant::now();
    let warned: Vec<bool> =
        (0..6).map(|i| gate.record_denial_at(&office, Denial::NotRegistered, start + Duration::from_secs(i))).collect();
    // Threshold 3: the fourth denial within the minute passes it, once.
    assert_eq!(warned, [false, false, false, true, false, false]);
    // Another organisation has its own count.
    let other = caller(Role::CareOffice, OTHER_OFFICE);
    assert!(!gate.record_denial_at(&other, Denial::NotRegistered, start + Duration::from_secs(7)));
    // Three minutes later the window has emptied: a new burst warns again.
    let later = start + Duration::from_secs(180);
    let again: Vec<bool> =
        (0..4).map(|i| gate.record_denial_at(&office, Denial::NotRegistered, later + Duration::from_secs(i))).collect();
    assert_eq!(again, [false, false, false, true]);
}

#[test]
fn the_window_slides_over_the_previous_minute() {
    let start = Instant::now();
    let mut w = Window::new(start);
    for _ in 0..10 {
        w.note(start);
    }
    // Halfway through the next minute, half of the previous minute still counts.
    let estimate = w.note(start + Duration::from_secs(90));
    assert_eq!(estimate, 1 + 5);
}

fn registration(version: i64, end: Option<i64>) -> pb::Registration {
    pb::Registration {
        registration_id: "0190d7a0-0000-7000-8000-000000000001".into(),
        version,
        organization: Some(pb::Organization { kind: pb::OrganizationKind::CareOffice as i32, number: OFFICE.into() }),
        person: Some(pb::PersonRef { insurer_number: INSURER.into(), insured_number: "0000000001".into() }),
        start_date: Some(kaigo_proto::from_naive_date(d(2026, 1, 1))),
        end_time: end.map(|seconds| {
            let mut t = pb::Registration::default().create_time.unwrap_or_default();
            t.seconds = seconds;
            t
        }),
        ..Default::default()
    }
}

#[test]
fn a_registration_version_becomes_a_row_with_its_end_as_a_jst_day() {
    // 2026-05-31T15:00:00Z is 2026-06-01 00:00 in Japan.
    let row = registration_row(&registration(2, Some(1_780_239_600))).unwrap();
    assert_eq!((row.version, row.kind, row.end), (2, OrganizationKind::CareOffice, Some(d(2026, 6, 1))));
    assert_eq!(row.person, Person { insurer: INSURER.into(), insured: "0000000001".into() });
    // Facts that do not hold are no row.
    let mut bad = registration(1, None);
    bad.person.as_mut().unwrap().insured_number = "x".into();
    assert_eq!(registration_row(&bad), None);
    let mut unspecified = registration(1, None);
    unspecified.organization.as_mut().unwrap().kind = 0;
    assert_eq!(registration_row(&unspecified), None);
}

#[test]
fn a_consent_version_keeps_known_categories_and_its_grantee() {
    let consent = pb::Consent {
        consent_id: "0190d7a0-0000-7000-8000-000000000002".into(),
        version: 1,
        person: Some(pb::PersonRef { insurer_number: INSURER.into(), insured_number: "0000000001".into() }),
        grantee: Some(pb::Grantee {
            grantee: Some(pb::grantee::Grantee::OrganizationKind(pb::OrganizationKind::MedicalInstitution as i32)),
        }),
        categories: vec![pb::Category::InsuranceCertificates as i32, 99],
        valid_from: Some(kaigo_proto::from_naive_date(d(2026, 1, 1))),
        ..Default::default()
    };
    let row = consent_row(&consent).unwrap();
    assert_eq!(row.grantee, Grantee::Kind(OrganizationKind::MedicalInstitution));
    assert_eq!(row.categories.into_iter().collect::<Vec<_>>(), vec![Category::InsuranceCertificates]);
    assert_eq!(row.withdrawn_on, None);
}

#[test]
fn a_persons_debug_never_shows_the_insured_number() {
    let person = Person { insurer: "435073".into(), insured: "0000000001".into() };
    let shown = format!("{person:?} {:?}", PersonRef::new("435073", "0000000001"));
    assert!(!shown.contains("0000000001"), "{shown}");
    assert!(shown.contains("435073"), "{shown}");
}
