//! Who may read or watch an application, and who may write which step.
//!
//! Readers (issue 5, "nobody else"): the insurer deciding it, the care office named on it as
//! acting for the person, and the person. Everyone else — other insurers and offices, medical
//! institutions, service providers, operators — is refused.
//!
//! **The person.** The verified caller carries no 被保険者番号 (the token's subject is an opaque
//! account id, never a person's number). So an insured-person caller is recognised as the
//! person of an application when it is the account that filed the application itself
//! (applicant 本人 on-line): its subject is stored with the application (`person_subject`)
//! and compared. Applications filed for the person by the insurer or an office carry no person
//! account until the identity provider supplies a person binding; until then the person follows
//! those through the acting office or the insurer. See the crate docs.

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
    /// The acting care office.
    ActingOffice,
    /// The person.
    Person,
    /// Anyone else.
    Stranger,
}

/// The caller's relation to the application.
pub fn relation(caller: &Caller, parties: &Parties<'_>) -> Relation {
    match caller.role {
        Role::Insurer if caller.insurer.as_ref().is_some_and(|i| i.as_str() == parties.insurer_number) => {
            Relation::Insurer
        }
        Role::CareOffice
            if caller.office.as_ref().zip(parties.acting_office_number).is_some_and(|(o, a)| o.as_str() == a) =>
        {
            Relation::ActingOffice
        }
        Role::InsuredPerson if parties.person_subject.is_some_and(|s| s == caller.subject) => Relation::Person,
        _ => Relation::Stranger,
    }
}

/// True when the caller may read and watch the application.
pub fn may_read(caller: &Caller, parties: &Parties<'_>) -> bool {
    relation(caller, parties) != Relation::Stranger
}

/// True when the caller may withdraw it (取下げ at the applicant's request: the insurer records
/// it, or the person or acting office asks on-line).
pub fn may_withdraw(caller: &Caller, parties: &Parties<'_>) -> bool {
    may_read(caller, parties)
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

/// Roles that may read applications at all (checked before the application is read).
pub fn role_may_read(role: Role) -> bool {
    matches!(role, Role::Insurer | Role::CareOffice | Role::InsuredPerson)
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
    fn the_insurer_the_acting_office_and_the_person_may_read() {
        let office = office();
        let p = Parties { acting_office_number: Some(office.as_str()), ..parties() };
        let insurer = Caller { insurer: Some(InsurerNumber::parse("435073").unwrap()), ..caller(Role::Insurer) };
        assert_eq!(relation(&insurer, &p), Relation::Insurer);
        let acting = Caller { office: Some(office.clone()), ..caller(Role::CareOffice) };
        assert_eq!(relation(&acting, &p), Relation::ActingOffice);
        assert_eq!(relation(&caller(Role::InsuredPerson), &p), Relation::Person);
        assert!(may_record_steps(&insurer, &p));
        assert!(!may_record_steps(&acting, &p));
        assert!(may_withdraw(&acting, &p));
    }

    #[test]
    fn everyone_else_is_a_stranger() {
        let office = office();
        let p = Parties { acting_office_number: Some(office.as_str()), ..parties() };
        let other_insurer = Caller { insurer: Some(InsurerNumber::parse("122192").unwrap()), ..caller(Role::Insurer) };
        assert_eq!(relation(&other_insurer, &p), Relation::Stranger);
        let provider = Caller { office: Some(office.clone()), ..caller(Role::ServiceProvider) };
        assert_eq!(
            relation(&provider, &p),
            Relation::Stranger,
            "a provider with the same number is not the care office"
        );
        let other_person = Caller { subject: "acct-2".to_owned(), ..caller(Role::InsuredPerson) };
        assert_eq!(relation(&other_person, &p), Relation::Stranger);
        assert_eq!(relation(&caller(Role::Operator), &p), Relation::Stranger);
        let doctor = Caller {
            institution: Some(MedicalInstitutionCode::parse("0110113719").unwrap()),
            ..caller(Role::MedicalInstitution)
        };
        assert!(!may_read(&doctor, &p));
        let no_office = Parties { acting_office_number: None, person_subject: None, ..p };
        let acting = Caller { office: Some(office.clone()), ..caller(Role::CareOffice) };
        assert!(!may_read(&acting, &no_office));
        assert!(!may_read(&caller(Role::InsuredPerson), &no_office));
    }
}
