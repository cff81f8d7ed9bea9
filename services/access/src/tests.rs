#![allow(clippy::unwrap_used)]

use super::*;

const INSURER: &str = "435073";
const OFFICE: &str = "4371000128";
const PROVIDER: &str = "4371000201";
const INSTITUTION: &str = "1311234569";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
}

fn viewer(role: Role, org: &str) -> Viewer {
    Viewer { role, organization: (!org.is_empty()).then(|| org.to_owned()) }
}

fn registered(org: &str, kind: OrganizationKind) -> Registration {
    Registration { organization: org.to_owned(), kind, start: day(1), end: None }
}

fn consent(grantee: Grantee, categories: &[Category]) -> Consent {
    Consent {
        grantee,
        categories: categories.iter().copied().collect(),
        valid_from: day(1),
        valid_until: None,
        withdrawn_on: None,
    }
}

fn decide(v: &Viewer, regs: &[Registration], consents: &[Consent], category: Category) -> Decision {
    let rules = RuleTable::builtin();
    let rel = relationship(v, INSURER, regs, day(10));
    rules.decide(v, &rel, consents, category, day(10))
}

#[test]
fn the_builtin_table_loads_with_every_row() {
    let rules = RuleTable::from_toml(DEFAULT_RULES).unwrap();
    assert_eq!(rules.rows().count(), 6);
    assert_eq!(rules, RuleTable::builtin());
}

#[test]
fn insurers_see_their_own_insured_only() {
    for category in Category::ALL {
        assert_eq!(decide(&viewer(Role::Insurer, INSURER), &[], &[], category), Decision::Allowed);
        assert_eq!(
            decide(&viewer(Role::Insurer, "122192"), &[], &[], category),
            Decision::Denied(Denial::NotPermitted)
        );
    }
}

#[test]
fn offices_see_nothing_without_a_registration_even_with_a_consent() {
    let v = viewer(Role::CareOffice, OFFICE);
    let c = consent(Grantee::Organization(OFFICE.into()), &Category::ALL);
    for category in Category::ALL {
        assert_eq!(decide(&v, &[], std::slice::from_ref(&c), category), Decision::Denied(Denial::NotRegistered));
    }
}

#[test]
fn a_registered_office_sees_what_the_consent_covers() {
    let v = viewer(Role::CareOffice, OFFICE);
    let regs = [registered(OFFICE, OrganizationKind::CareOffice)];
    let c = consent(Grantee::Organization(OFFICE.into()), &[Category::InsuranceCertificates, Category::CarePlan]);
    let consents = [c];
    assert_eq!(decide(&v, &regs, &consents, Category::InsuranceCertificates), Decision::Allowed);
    assert_eq!(decide(&v, &regs, &consents, Category::CarePlan), Decision::Allowed);
    assert_eq!(
        decide(&v, &regs, &consents, Category::CostShare),
        Decision::Denied(Denial::ConsentRequired(Category::CostShare))
    );
    // Another office's registration and consent do not count for this one.
    let other = viewer(Role::CareOffice, "4371000136");
    assert_eq!(decide(&other, &regs, &consents, Category::CarePlan), Decision::Denied(Denial::NotRegistered));
}

#[test]
fn a_consent_to_a_kind_covers_every_organisation_of_that_kind() {
    let v = viewer(Role::ServiceProvider, PROVIDER);
    let regs = [registered(PROVIDER, OrganizationKind::ServiceProvider)];
    let consents = [consent(Grantee::Kind(OrganizationKind::ServiceProvider), &[Category::CostShare])];
    assert_eq!(decide(&v, &regs, &consents, Category::CostShare), Decision::Allowed);
    let consents = [consent(Grantee::Kind(OrganizationKind::CareOffice), &[Category::CostShare])];
    assert_eq!(
        decide(&v, &regs, &consents, Category::CostShare),
        Decision::Denied(Denial::ConsentRequired(Category::CostShare))
    );
}

#[test]
fn medical_institutions_never_see_cost_share_unless_registered_as_a_provider() {
    let v = viewer(Role::MedicalInstitution, INSTITUTION);
    let all = [consent(Grantee::Organization(INSTITUTION.into()), &Category::ALL)];
    let as_institution = [registered(INSTITUTION, OrganizationKind::MedicalInstitution)];
    assert_eq!(decide(&v, &as_institution, &all, Category::InsuranceCertificates), Decision::Allowed);
    assert_eq!(decide(&v, &as_institution, &all, Category::CostShare), Decision::Denied(Denial::NotPermitted));
    assert_eq!(
        decide(&v, &as_institution, &[], Category::InsuranceCertificates),
        Decision::Denied(Denial::ConsentRequired(Category::InsuranceCertificates))
    );
    let as_provider = [registered(INSTITUTION, OrganizationKind::ServiceProvider)];
    assert_eq!(decide(&v, &as_provider, &all, Category::CostShare), Decision::Allowed);
}

#[test]
fn medical_institutions_read_the_care_plan_with_consent_but_never_certification() {
    let v = viewer(Role::MedicalInstitution, INSTITUTION);
    let as_institution = [registered(INSTITUTION, OrganizationKind::MedicalInstitution)];
    let care_plan = [consent(Grantee::Organization(INSTITUTION.into()), &[Category::CarePlan])];
    assert_eq!(decide(&v, &as_institution, &care_plan, Category::CarePlan), Decision::Allowed);
    let certificates = [consent(Grantee::Organization(INSTITUTION.into()), &[Category::InsuranceCertificates])];
    assert_eq!(
        decide(&v, &as_institution, &certificates, Category::CarePlan),
        Decision::Denied(Denial::ConsentRequired(Category::CarePlan))
    );
    // A consent to every medical institution covers it too; an unregistered one sees nothing.
    let kind = [consent(Grantee::Kind(OrganizationKind::MedicalInstitution), &[Category::CarePlan])];
    assert_eq!(decide(&v, &as_institution, &kind, Category::CarePlan), Decision::Allowed);
    assert_eq!(decide(&v, &[], &care_plan, Category::CarePlan), Decision::Denied(Denial::NotRegistered));
    let all = [consent(Grantee::Organization(INSTITUTION.into()), &Category::ALL)];
    assert_eq!(decide(&v, &as_institution, &all, Category::Certification), Decision::Denied(Denial::NotPermitted));
}

#[test]
fn dates_bound_registrations_and_consents() {
    let v = viewer(Role::CareOffice, OFFICE);
    let mut reg = registered(OFFICE, OrganizationKind::CareOffice);
    let mut c = consent(Grantee::Organization(OFFICE.into()), &[Category::CarePlan]);
    let rules = RuleTable::builtin();
    let at = |reg: &Registration, c: &Consent, d: u32| {
        let rel = relationship(&v, INSURER, std::slice::from_ref(reg), day(d));
        rules.decide(&v, &rel, std::slice::from_ref(c), Category::CarePlan, day(d))
    };
    assert_eq!(at(&reg, &c, 10), Decision::Allowed);
    c.withdrawn_on = Some(day(10));
    assert_eq!(at(&reg, &c, 9), Decision::Allowed);
    assert_eq!(at(&reg, &c, 10), Decision::Denied(Denial::ConsentRequired(Category::CarePlan)));
    c.withdrawn_on = None;
    c.valid_until = Some(day(11));
    assert_eq!(at(&reg, &c, 11), Decision::Allowed);
    assert_eq!(at(&reg, &c, 12), Decision::Denied(Denial::ConsentRequired(Category::CarePlan)));
    reg.end = Some(day(11));
    assert_eq!(at(&reg, &c, 11), Decision::Denied(Denial::NotRegistered));
    assert_eq!(at(&reg, &c, 10), Decision::Allowed);
}

#[test]
fn persons_see_their_own_record_and_operators_nothing() {
    for category in Category::ALL {
        assert_eq!(decide(&viewer(Role::InsuredPerson, ""), &[], &[], category), Decision::Allowed);
        assert_eq!(decide(&viewer(Role::Operator, ""), &[], &[], category), Decision::Denied(Denial::NotPermitted));
    }
}

#[test]
fn a_deployment_can_adjust_the_table() {
    let text = r#"
        [[rule]]
        role = "care_office"
        relationship = "registered_care_office"
        without_consent = ["insurance_certificates"]
        with_consent = ["care_plan"]
    "#;
    let rules = RuleTable::from_toml(text).unwrap();
    let v = viewer(Role::CareOffice, OFFICE);
    let rel = [Relationship::Registered(OrganizationKind::CareOffice)];
    assert_eq!(rules.decide(&v, &rel, &[], Category::InsuranceCertificates, day(1)), Decision::Allowed);
    assert_eq!(rules.decide(&v, &rel, &[], Category::CostShare, day(1)), Decision::Denied(Denial::NotPermitted));
    // Insurers have no row in this table: nothing.
    let insurer = viewer(Role::Insurer, INSURER);
    assert_eq!(
        rules.decide(&insurer, &[Relationship::OwnInsured], &[], Category::CostShare, day(1)),
        Decision::Denied(Denial::NotPermitted)
    );
}

#[test]
fn bad_tables_are_refused_naming_the_row() {
    let cases = [
        ("[[rule]]\nrole = \"office\"\nrelationship = \"none\"", "rule[0].role"),
        ("[[rule]]\nrole = \"care_office\"\nrelationship = \"friend\"", "rule[0].relationship"),
        ("[[rule]]\nrole = \"care_office\"\nrelationship = \"none\"", "rule[0].relationship"),
        ("[[rule]]\nrole = \"operator\"\nrelationship = \"self\"", "rule[0].relationship"),
        (
            "[[rule]]\nrole = \"care_office\"\nrelationship = \"registered_care_office\"\nwith_consent = [\"diagnoses\"]",
            "rule[0].with_consent",
        ),
        (
            "[[rule]]\nrole = \"care_office\"\nrelationship = \"registered_care_office\"\nwith_consent = [\"care_plan\"]\nwithout_consent = [\"care_plan\"]",
            "rule[0].with_consent",
        ),
        (
            "[[rule]]\nrole = \"insurer\"\nrelationship = \"own_insured\"\n[[rule]]\nrole = \"insurer\"\nrelationship = \"own_insured\"",
            "rule[1].relationship",
        ),
        ("[[rule]]\nrole = \"insurer\"\nrelationship = \"own_insured\"\ncolour = 1", "unknown field"),
    ];
    for (text, expected) in cases {
        let err = RuleTable::from_toml(text).unwrap_err();
        assert!(err.0.contains(expected), "{text:?}: {err}");
    }
}

#[test]
fn names_round_trip() {
    for c in Category::ALL {
        assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
    }
    for r in Role::ALL {
        assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
    }
    for r in Relationship::ALL {
        assert_eq!(r.as_str().parse::<Relationship>().unwrap(), r);
    }
    assert_eq!(Denial::ConsentRequired(Category::CarePlan).reason(), "CONSENT_REQUIRED");
}
