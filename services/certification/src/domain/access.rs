//! Who may read or watch an application, and who may write which step
//! (docs/domain/access.md#in-kaigo).
//!
//! Readers: the insurer deciding it (its own insured), the person who filed it on-line, and any
//! organisation — care office, service provider, medical institution — only as the registry's
//! facts decide for the category `CERTIFICATION` of the person (registered as the person's 担当
//! with a consent covering it). That decision is the platform's access gate on the service's
//! copy of the facts, taken in the api layer; this module only says who is decided how. The
//! office named on the application as acting for the person is no longer a reader by that
//! alone, and the person's registered care manager follows an application whoever filed it
//! (issue 16 item 7). Other insurers and operators are refused.
//!
//! **The person.** The verified caller carries no 被保険者番号 (the token's subject is an opaque
//! account id, never a person's number). So an insured-person caller is recognised as the
//! person of an application when it is the account that filed the application itself
//! (applicant 本人 on-line): its subject is stored with the application (`person_subject`)
//! and compared. See the crate docs.

use kaigo_platform::auth::{Caller, Role};

/// What an application says about who may see it.
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    /// 保険者番号 of the deciding insurer.
    pub insurer_number: &'a str,
    /// 事業所番号 of the care office acting for the person, if any.
    pub acting_office_number: Option<&'a str>,
    /// Account subject of the person, when the person filed it.
    pub person_subject: Option<&'a str>,
}

/// How a caller relates to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The deciding insurer.
    Insurer,
    /// The person, who filed it on-line.
    Person,
    /// An organisation, or a person who did not file it: reads as the registry's facts decide
    /// (`CERTIFICATION`; a person by their identity links, docs/domain/access.md#own-view).
    ByFacts,
    /// Anyone else.
    Stranger,
}

/// The caller's relation to the application.
pub fn relation(caller: &Caller, parties: &Parties<'_>) -> Relation {
    match caller.role {
        Role::Insurer if caller.insurer.as_ref().is_some_and(|i| i.as_str() == parties.insurer_number) => {
            Relation::Insurer
        }
        Role::InsuredPerson if parties.person_subject.is_some_and(|s| s == caller.subject) => Relation::Person,
        // Filed by the insurer, the family or an office: the person follows it when their
        // identity link binds them to the record (the shared decision, on the facts).
        Role::InsuredPerson => Relation::ByFacts,
        Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution if caller.organization().is_some() => {
            Relation::ByFacts
        }
        _ => Relation::Stranger,
    }
}

/// True when the caller is the acting care office named on the application.
pub fn is_acting_office(caller: &Caller, parties: &Parties<'_>) -> bool {
    caller.role == Role::CareOffice
        && caller.office.as_ref().zip(parties.acting_office_number).is_some_and(|(o, a)| o.as_str() == a)
}

/// True when the caller may withdraw it (取下げ at the applicant's request: the insurer records
/// it, or the person or the acting office asks on-line). A write, not a read: the acting office
/// withdraws what it filed for the person.
pub fn may_withdraw(caller: &Caller, parties: &Parties<'_>) -> bool {
    matches!(relation(caller, parties), Relation::Insurer | Relation::Person) || is_acting_office(caller, parties)
}

/// True when the caller may record workflow steps (survey, opinion, judgment, board, decision,
/// notice, delay notice, cancellation): the deciding insurer only.
pub fn may_record_steps(caller: &Caller, parties: &Parties<'_>) -> bool {
    relation(caller, parties) == Relation::Insurer
}

/// Roles that may call step RPCs at all (checked before the application is read).
pub fn role_may_record_steps(role: Role) -> bool {
    role == Role::Insurer
}

/// Roles that may read applications at all (checked before the application is read): every
/// role but operators; organisations are then decided on the registry's facts.
pub fn role_may_read(role: Role) -> bool {
    matches!(
        role,
        Role::Insurer | Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution | Role::InsuredPerson
    )
}

/// True for the roles whose reads are decided on the registry's facts of the person.
pub fn decided_by_facts(role: Role) -> bool {
    matches!(role, Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution)
}

#[cfg(test)]
mod tests {
    use kaigo_platform::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};

    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            subject: "acct-1".to_owned(),
            role,
            insurer: None,
            office: None,
            institution: None,
            scopes: vec![],
            consents: vec![],
        }
    }

    const OFFICE: &str = "1370000001";

    fn parties() -> Parties<'static> {
        Parties { insurer_number: "435073", acting_office_number: Some(OFFICE), person_subject: Some("acct-1") }
    }

    fn office() -> CareOfficeNumber {
        // A valid office number: find the check digit for the payload.
        let payload = "137000000";
        (0..10).find_map(|d| CareOfficeNumber::parse(&format!("{payload}{d}")).ok()).unwrap()
    }

    #[test]
    fn the_insurer_and_the_person_read_by_themselves_organisations_by_the_facts() {
        let office = office();
        let p = Parties { acting_office_number: Some(office.as_str()), ..parties() };
        let insurer = Caller { insurer: Some(InsurerNumber::parse("435073").unwrap()), ..caller(Role::Insurer) };
        assert_eq!(relation(&insurer, &p), Relation::Insurer);
        assert_eq!(relation(&caller(Role::InsuredPerson), &p), Relation::Person);
        // The acting office is an organisation like any other for reading.
        let acting = Caller { office: Some(office.clone()), ..caller(Role::CareOffice) };
        assert_eq!(relation(&acting, &p), Relation::ByFacts);
        let provider = Caller { office: Some(office.clone()), ..caller(Role::ServiceProvider) };
        assert_eq!(relation(&provider, &p), Relation::ByFacts);
        let doctor = Caller {
            institution: Some(MedicalInstitutionCode::parse("0110113719").unwrap()),
            ..caller(Role::MedicalInstitution)
        };
        assert_eq!(relation(&doctor, &p), Relation::ByFacts);
        assert!(decided_by_facts(Role::CareOffice) && decided_by_facts(Role::MedicalInstitution));
        assert!(!decided_by_facts(Role::Insurer) && !decided_by_facts(Role::InsuredPerson));
        assert!(may_record_steps(&insurer, &p));
        assert!(!may_record_steps(&acting, &p));
    }

    #[test]
    fn the_insurer_the_person_and_the_acting_office_withdraw() {
        let office = office();
        let p = Parties { acting_office_number: Some(office.as_str()), ..parties() };
        let insurer = Caller { insurer: Some(InsurerNumber::parse("435073").unwrap()), ..caller(Role::Insurer) };
        let acting = Caller { office: Some(office.clone()), ..caller(Role::CareOffice) };
        assert!(
            may_withdraw(&insurer, &p) && may_withdraw(&acting, &p) && may_withdraw(&caller(Role::InsuredPerson), &p)
        );
        let provider = Caller { office: Some(office.clone()), ..caller(Role::ServiceProvider) };
        assert!(!may_withdraw(&provider, &p), "a provider with the same number is not the acting office");
        let no_office = Parties { acting_office_number: None, person_subject: None, ..p };
        assert!(!may_withdraw(&acting, &no_office));
        assert!(!may_withdraw(&caller(Role::InsuredPerson), &no_office));
    }

    #[test]
    fn a_person_who_did_not_file_is_decided_on_their_identity_links() {
        let other_person = Caller { subject: "acct-2".to_owned(), ..caller(Role::InsuredPerson) };
        assert_eq!(relation(&other_person, &parties()), Relation::ByFacts);
        assert!(!may_withdraw(&other_person, &parties()));
    }

    #[test]
    fn everyone_else_is_a_stranger() {
        let p = parties();
        let other_insurer = Caller { insurer: Some(InsurerNumber::parse("122192").unwrap()), ..caller(Role::Insurer) };
        assert_eq!(relation(&other_insurer, &p), Relation::Stranger);
        assert_eq!(relation(&caller(Role::Operator), &p), Relation::Stranger);
        assert!(!role_may_read(Role::Operator));
        // An organisation role without an organisation is nobody.
        assert_eq!(relation(&caller(Role::CareOffice), &p), Relation::Stranger);
    }
}
