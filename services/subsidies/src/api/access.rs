//! Who may do what. Offices and medical institutions act for themselves only (Caller.office,
//! Caller.institution); operators (国保中央会 staff) review, approve, pay and report. Insurers
//! and insured persons have no part in these subsidies.

use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::ApiError;

use crate::domain::costs::Costs;

/// The office numbers and institution codes the caller acts for.
pub fn own_numbers(caller: &Caller) -> Vec<String> {
    match caller.role {
        Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution => caller
            .office
            .iter()
            .map(ToString::to_string)
            .chain(
                caller.institution.iter().filter(|_| caller.role == Role::MedicalInstitution).map(ToString::to_string),
            )
            .collect(),
        _ => Vec::new(),
    }
}

/// True for an applicant role (office, provider, medical institution).
pub fn is_applicant(caller: &Caller) -> bool {
    matches!(caller.role, Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution)
}

/// Refuses insurers and insured persons, who have no part in subsidies.
pub fn require_participant(caller: &Caller) -> Result<(), ApiError> {
    if is_applicant(caller) || caller.role == Role::Operator {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            "SUBSIDY_ROLE_NOT_ALLOWED",
            "subsidies are for care offices, medical institutions and platform operators",
        ))
    }
}

/// Refuses anyone but an operator.
pub fn require_operator(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Operator {
        Ok(())
    } else {
        Err(ApiError::permission_denied("OPERATOR_ONLY", "only a platform operator may do this"))
    }
}

/// Refuses a claim for an office or institution the caller does not act for.
pub fn require_own_claim(caller: &Caller, costs: &Costs) -> Result<(), ApiError> {
    let allowed = match costs {
        Costs::CareOffice(c) => {
            matches!(caller.role, Role::CareOffice | Role::ServiceProvider | Role::MedicalInstitution)
                && caller.office.as_ref() == Some(&c.office_number)
        }
        Costs::Medical(m) => {
            caller.role == Role::MedicalInstitution && caller.institution.as_ref() == Some(&m.institution_code)
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            "NOT_OWN_APPLICATION",
            "an office or medical institution applies only for itself",
        ))
    }
}

/// May the caller read an application of `applicant_number`?
pub fn may_read(caller: &Caller, applicant_number: &str) -> bool {
    caller.role == Role::Operator || own_numbers(caller).iter().any(|n| n == applicant_number)
}

/// The refusal for an application the caller may not see (also for one that does not exist,
/// so that applicants cannot probe ids; AIP-193).
pub fn not_yours() -> ApiError {
    ApiError::permission_denied("NOT_OWN_APPLICATION", "the application is not the caller's, or does not exist")
}
