//! Who may see an opinion and its request (docs/domain/access.md#who-sees-what): the insurer that asked, the
//! institution asked (which also sees the past opinions it wrote), and the person's registered
//! care office while it presents the person's consent. Nobody else: not other institutions,
//! not service providers, not operators (support works with ids, never with the content).

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
    /// The person's registered care office, when the insurer named it.
    pub care_office_number: Option<&'a str>,
}

/// In which capacity a caller reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The insurer that asked.
    Insurer,
    /// The institution asked.
    Institution,
    /// The registered care office, with the person's consent.
    CareOffice,
}

/// Why a read is refused (reason codes for PERMISSION_DENIED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The caller's organisation is not a party.
    NotAParty,
    /// The care office is the registered one but presented no consent.
    ConsentRequired,
}

impl Denied {
    /// The stable ErrorInfo reason.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::NotAParty => "NOT_A_PARTY",
            Denied::ConsentRequired => "CONSENT_REQUIRED",
        }
    }
}

/// The consent reference that covers a person: `<insurer_number>:<insured_number>`.
pub fn consent_reference(insurer_number: &str, insured_number: &str) -> String {
    format!("{insurer_number}:{insured_number}")
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

/// May `caller` read the opinions of this request?
pub fn may_read_opinion(caller: &Caller, parties: &Parties<'_>) -> Result<Reader, Denied> {
    if is_insurer(caller, parties) {
        return Ok(Reader::Insurer);
    }
    if is_institution(caller, parties) {
        return Ok(Reader::Institution);
    }
    let registered = caller.role == Role::CareOffice
        && parties
            .care_office_number
            .is_some_and(|office| caller.office.as_ref().is_some_and(|o| o.as_str() == office));
    if registered {
        let wanted = consent_reference(parties.insurer_number, parties.insured_number);
        return if caller.consents.contains(&wanted) { Ok(Reader::CareOffice) } else { Err(Denied::ConsentRequired) };
    }
    Err(Denied::NotAParty)
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
        Parties {
            insurer_number: "435073",
            insured_number: "0000000001",
            institution_code: "1311234569",
            care_office_number: Some("1370000018"),
        }
    }

    #[test]
    fn the_insurer_and_the_institution_asked_read() {
        let mut insurer = caller(Role::Insurer);
        insurer.insurer = Some(InsurerNumber::parse("435073").unwrap());
        assert_eq!(may_read_opinion(&insurer, &parties()), Ok(Reader::Insurer));
        insurer.insurer = Some(InsurerNumber::parse("122192").unwrap());
        assert_eq!(may_read_opinion(&insurer, &parties()), Err(Denied::NotAParty));

        let mut inst = caller(Role::MedicalInstitution);
        inst.institution = Some(MedicalInstitutionCode::parse("1311234569").unwrap());
        assert_eq!(may_read_request(&inst, &parties()), Ok(Reader::Institution));
        inst.institution = Some(MedicalInstitutionCode::parse("0110113719").unwrap());
        assert_eq!(may_read_opinion(&inst, &parties()), Err(Denied::NotAParty));
    }

    #[test]
    fn the_registered_care_office_reads_with_consent_only() {
        let mut office = caller(Role::CareOffice);
        office.office = Some(CareOfficeNumber::parse("1370000018").unwrap());
        assert_eq!(may_read_opinion(&office, &parties()), Err(Denied::ConsentRequired));
        office.consents = vec!["435073:0000000001".into()];
        assert_eq!(may_read_opinion(&office, &parties()), Ok(Reader::CareOffice));
        assert_eq!(may_read_request(&office, &parties()), Err(Denied::NotAParty));
        let unregistered = Parties { care_office_number: None, ..parties() };
        assert_eq!(may_read_opinion(&office, &unregistered), Err(Denied::NotAParty));
    }

    #[test]
    fn operators_and_providers_never_read_content() {
        for role in [Role::Operator, Role::ServiceProvider, Role::InsuredPerson] {
            let mut c = caller(role);
            c.consents = vec!["435073:0000000001".into()];
            assert_eq!(may_read_opinion(&c, &parties()), Err(Denied::NotAParty));
        }
    }
}
