//! Who sees what of a check (docs/domain/access.md#in-kaigo). Whether a caller may see a
//! person's certificate facts and cost share at all is the one access decision of kaigo
//! (`kaigo_platform::access::Gate`, from the registry's facts); this module says which parts
//! of an answer each category covers, and who writes.

use kaigo_platform::auth::{Caller, Role};

/// What a caller sees of one person's check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visibility {
    /// Names, birth date and sex (printed on the 被保険者証: `INSURANCE_CERTIFICATES`).
    pub personal_details: bool,
    /// Certificate facts: level, validity, limits, board opinion, care-management office
    /// (`INSURANCE_CERTIFICATES`).
    pub certificate: bool,
    /// 負担割合 (`COST_SHARE`).
    pub copayment: bool,
    /// 負担限度額 (`COST_SHARE`).
    pub cost_limit: bool,
}

impl Visibility {
    /// The sections of an answer, given that the caller may see the certificate facts (an
    /// answer at all) and whether it may see the cost share.
    pub fn of(cost_share: bool) -> Self {
        Self { personal_details: true, certificate: true, copayment: cost_share, cost_limit: cost_share }
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

/// True when the decision for `role` depends on the person's facts: an organisation's on the
/// registrations and consents, a person's on the identity links that bind them to the record
/// (docs/domain/access.md#own-view); insurers and operators are decided before any lookup.
pub fn needs_facts(role: Role) -> bool {
    matches!(role, Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution | Role::InsuredPerson)
}

#[cfg(test)]
mod tests {
    use kaigo_platform::ids::{CareOfficeNumber, InsurerNumber};

    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            subject: "s".into(),
            role,
            insurer: (role == Role::Insurer).then(|| InsurerNumber::parse("435073").unwrap()),
            office: matches!(role, Role::CareOffice | Role::ServiceProvider)
                .then(|| CareOfficeNumber::parse("0300000106").unwrap()),
            institution: None,
            scopes: vec![],
            consents: vec![],
        }
    }

    #[test]
    fn only_the_own_insurer_writes_and_reads_the_history() {
        assert!(may_write(&caller(Role::Insurer), "435073"));
        assert!(!may_write(&caller(Role::Insurer), "122192"));
        assert!(!may_write(&caller(Role::CareOffice), "435073"));
        assert!(!may_read_history(&caller(Role::CareOffice), "435073"));
    }

    #[test]
    fn cost_share_covers_ratio_and_cost_limit_together() {
        let without = Visibility::of(false);
        assert!(without.certificate && without.personal_details && !without.copayment && !without.cost_limit);
        let with = Visibility::of(true);
        assert!(with.copayment && with.cost_limit);
    }

    #[test]
    fn organisations_are_decided_on_the_persons_facts() {
        assert!(needs_facts(Role::CareOffice) && needs_facts(Role::MedicalInstitution));
        assert!(!needs_facts(Role::Insurer) && !needs_facts(Role::Operator));
        assert!(needs_facts(Role::InsuredPerson));
    }
}
