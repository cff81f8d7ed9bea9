//! Who sees what (docs/domain/access.md#who-sees-what): the rules as a function of the caller and
//! the record.

use kaigo_platform::auth::{Caller, Role};

/// What a caller may see of one person's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visibility {
    /// Names, birth date and sex.
    pub personal_details: bool,
    /// Certificate facts: level, validity, limits, board opinion, care-management office.
    pub certificate: bool,
    /// 負担割合.
    pub copayment: bool,
    /// 負担限度額.
    pub cost_limit: bool,
}

/// Why a caller may not check this person at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// An insurer asking about another insurer's insured.
    OtherInsurer,
    /// A role that does not check eligibility (operators; insured persons use マイナポータル).
    Role,
}

/// Decides before any lookup whether the caller may check persons of `insurer_number`
/// (permission is checked before existence).
pub fn may_check(caller: &Caller, insurer_number: &str) -> Result<(), Denied> {
    match caller.role {
        Role::Insurer => match &caller.insurer {
            Some(own) if own.as_str() == insurer_number => Ok(()),
            _ => Err(Denied::OtherInsurer),
        },
        Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution => Ok(()),
        Role::InsuredPerson | Role::Operator => Err(Denied::Role),
    }
}

/// What the caller sees, given the office registered for the person on the date (if any) and
/// whether the call carries a consent reference.
pub fn visibility(caller: &Caller, registered_office: Option<&str>, has_consent: bool) -> Visibility {
    match caller.role {
        Role::Insurer => Visibility { personal_details: true, certificate: true, copayment: true, cost_limit: true },
        Role::CareOffice | Role::ServiceProvider => {
            let registered =
                matches!((registered_office, &caller.office), (Some(reg), Some(own)) if reg == own.as_str());
            Visibility {
                personal_details: registered || has_consent,
                certificate: true,
                copayment: true,
                cost_limit: true,
            }
        }
        // Certificate facts only with the person's consent; never 負担割合 or 負担限度額
        // (an institution that also provides care services calls as a service provider).
        Role::MedicalInstitution => {
            Visibility { personal_details: has_consent, certificate: has_consent, copayment: false, cost_limit: false }
        }
        Role::InsuredPerson | Role::Operator => {
            Visibility { personal_details: false, certificate: false, copayment: false, cost_limit: false }
        }
    }
}

/// Only insurers read the full history, and only of their own insured.
pub fn may_read_history(caller: &Caller, insurer_number: &str) -> bool {
    caller.role == Role::Insurer && caller.insurer.as_ref().is_some_and(|own| own.as_str() == insurer_number)
}

/// Only insurers write, and only their own insured.
pub fn may_write(caller: &Caller, insurer_number: &str) -> bool {
    may_read_history(caller, insurer_number)
}

#[cfg(test)]
mod tests {
    use kaigo_platform::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};

    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            subject: "s".into(),
            role,
            insurer: (role == Role::Insurer).then(|| InsurerNumber::parse("435073").unwrap()),
            office: matches!(role, Role::CareOffice | Role::ServiceProvider)
                .then(|| CareOfficeNumber::parse("0300000106").unwrap()),
            institution: (role == Role::MedicalInstitution)
                .then(|| MedicalInstitutionCode::parse("0110113719").unwrap()),
            scopes: vec![],
            consents: vec![],
        }
    }

    #[test]
    fn insurers_check_only_their_own_insured() {
        assert!(may_check(&caller(Role::Insurer), "435073").is_ok());
        assert_eq!(may_check(&caller(Role::Insurer), "122192"), Err(Denied::OtherInsurer));
        assert!(may_write(&caller(Role::Insurer), "435073"));
        assert!(!may_write(&caller(Role::Insurer), "122192"));
        assert!(!may_write(&caller(Role::CareOffice), "435073"));
    }

    #[test]
    fn offices_see_names_only_when_registered_or_with_consent() {
        let office = caller(Role::CareOffice);
        assert!(!visibility(&office, None, false).personal_details);
        assert!(!visibility(&office, Some("0300000007"), false).personal_details);
        assert!(visibility(&office, Some("0300000106"), false).personal_details);
        assert!(visibility(&office, None, true).personal_details);
        assert!(visibility(&office, None, false).copayment);
    }

    #[test]
    fn medical_institutions_never_see_ratio_or_cost_limit() {
        let clinic = caller(Role::MedicalInstitution);
        let without = visibility(&clinic, None, false);
        assert!(!without.certificate && !without.personal_details);
        let with = visibility(&clinic, None, true);
        assert!(with.certificate && !with.copayment && !with.cost_limit);
    }

    #[test]
    fn operators_and_persons_do_not_check() {
        assert_eq!(may_check(&caller(Role::Operator), "435073"), Err(Denied::Role));
        assert_eq!(may_check(&caller(Role::InsuredPerson), "435073"), Err(Denied::Role));
    }
}
