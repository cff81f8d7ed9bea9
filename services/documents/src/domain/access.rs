//! Who may see an opinion and its request (docs/domain/access.md#in-kaigo): the insurer that
//! asked and the institution asked (which also sees the past opinions it wrote), by the request
//! itself; any other organisation (the person's registered care office, a registered provider)
//! only as the registry's facts decide for the category `CERTIFICATION` — decided by the
//! platform's access gate, not here. Nobody else: not other insurers, not operators (support
//! works with ids, never with the content), and the person through their own view only.

use kaigo_platform::auth::{Caller, Role};

/// The parties of one opinion request.
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    /// 保険者番号 that asked.
    pub insurer_number: &'a str,
    /// 被保険者番号 of the person.
    pub insured_number: &'a str,
    /// 医療機関コード asked (and the only writer).
    pub institution_code: &'a str,
}

/// In which capacity a caller reads an opinion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The insurer that asked.
    Insurer,
    /// The institution asked: granted by the request itself, whatever the registry says.
    Institution,
    /// Another organisation: as the registry's facts decide (`CERTIFICATION` of the person).
    ByFacts,
    /// Nobody: refused before any facts are looked at.
    Nobody,
}

/// Why a read is refused here (the registry's refusals come from the access gate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The caller is neither a party of the request nor an organisation the facts could admit.
    NotAParty,
}

impl Denied {
    /// The stable ErrorInfo reason.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::NotAParty => "NOT_A_PARTY",
        }
    }
}

/// How `caller` may read the opinions of a request of `parties`.
pub fn opinion_reader(caller: &Caller, parties: &Parties<'_>) -> Reader {
    if is_insurer(caller, parties) {
        return Reader::Insurer;
    }
    if is_institution(caller, parties) {
        return Reader::Institution;
    }
    match caller.role {
        Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution => Reader::ByFacts,
        Role::Insurer | Role::Operator | Role::InsuredPerson => Reader::Nobody,
    }
}

/// True when `caller` acts for the insurer of `parties`.
pub fn is_insurer(caller: &Caller, parties: &Parties<'_>) -> bool {
    caller.role == Role::Insurer && caller.insurer.as_ref().is_some_and(|i| i.as_str() == parties.insurer_number)
}

/// True when `caller` acts for the institution asked.
pub fn is_institution(caller: &Caller, parties: &Parties<'_>) -> bool {
    caller.role == Role::MedicalInstitution
        && caller.institution.as_ref().is_some_and(|i| i.as_str() == parties.institution_code)
}

/// May `caller` read the request itself (it carries the applicant's details, which only the
/// insurer and the institution asked need)?
pub fn may_read_request(caller: &Caller, parties: &Parties<'_>) -> Result<Reader, Denied> {
    if is_insurer(caller, parties) {
        Ok(Reader::Insurer)
    } else if is_institution(caller, parties) {
        Ok(Reader::Institution)
    } else {
        Err(Denied::NotAParty)
    }
}

#[cfg(test)]
mod tests {
    use kaigo_platform::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};

    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            subject: "s".into(),
            role,
            insurer: None,
            office: None,
            institution: None,
            scopes: vec![],
            consents: vec![],
        }
    }

    fn parties() -> Parties<'static> {
        Parties { insurer_number: "435073", insured_number: "0000000001", institution_code: "1311234569" }
    }

    #[test]
    fn the_insurer_and_the_institution_asked_read_by_the_request() {
        let mut insurer = caller(Role::Insurer);
        insurer.insurer = Some(InsurerNumber::parse("435073").unwrap());
        assert_eq!(opinion_reader(&insurer, &parties()), Reader::Insurer);
        insurer.insurer = Some(InsurerNumber::parse("122192").unwrap());
        assert_eq!(opinion_reader(&insurer, &parties()), Reader::Nobody);
        assert_eq!(may_read_request(&insurer, &parties()), Err(Denied::NotAParty));

        let mut inst = caller(Role::MedicalInstitution);
        inst.institution = Some(MedicalInstitutionCode::parse("1311234569").unwrap());
        assert_eq!(opinion_reader(&inst, &parties()), Reader::Institution);
        assert_eq!(may_read_request(&inst, &parties()), Ok(Reader::Institution));
        // Another institution is decided by the registry's facts like any organisation.
        inst.institution = Some(MedicalInstitutionCode::parse("0110113719").unwrap());
        assert_eq!(opinion_reader(&inst, &parties()), Reader::ByFacts);
        assert_eq!(may_read_request(&inst, &parties()), Err(Denied::NotAParty));
    }

    #[test]
    fn offices_are_decided_by_the_facts_and_never_read_the_request() {
        let mut office = caller(Role::CareOffice);
        office.office = Some(CareOfficeNumber::parse("1370000018").unwrap());
        // The caller's own consent references change nothing.
        office.consents = vec!["435073:0000000001".into()];
        assert_eq!(opinion_reader(&office, &parties()), Reader::ByFacts);
        assert_eq!(may_read_request(&office, &parties()), Err(Denied::NotAParty));
        assert_eq!(opinion_reader(&caller(Role::ServiceProvider), &parties()), Reader::ByFacts);
    }

    #[test]
    fn operators_and_persons_never_read_content() {
        for role in [Role::Operator, Role::InsuredPerson] {
            let mut c = caller(role);
            c.consents = vec!["435073:0000000001".into()];
            assert_eq!(opinion_reader(&c, &parties()), Reader::Nobody);
            assert_eq!(may_read_request(&c, &parties()), Err(Denied::NotAParty));
        }
    }
}
