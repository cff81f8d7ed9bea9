//! The conversions and small rules every handler shares: roles, actors and timestamps to and
//! from the wire, the purpose of a read, page sizes and tokens.

use chrono::{DateTime, Utc};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_proto::kaigo::common::v1::{Actor, Purpose, Role as ProtoRole};

/// Default page size and the most a page holds.
pub const PAGE_DEFAULT: u64 = 50;
/// Larger requested pages are coerced to this.
pub const PAGE_MAX: u64 = 500;

/// The proto role of a platform role.
pub fn proto_role(role: Role) -> ProtoRole {
    match role {
        Role::Insurer => ProtoRole::Insurer,
        Role::CareOffice => ProtoRole::CareOffice,
        Role::ServiceProvider => ProtoRole::ServiceProvider,
        Role::MedicalInstitution => ProtoRole::MedicalInstitution,
        Role::InsuredPerson => ProtoRole::InsuredPerson,
        Role::Operator => ProtoRole::Operator,
    }
}

/// An actor as recorded.
pub fn actor(role: ProtoRole, subject: &str, org: &str) -> Actor {
    Actor { role: role as i32, subject: subject.to_owned(), organization_number: org.to_owned() }
}

/// A wire timestamp.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0) }
}

/// The purpose recorded for a read (its `kaigo.common.v1.Purpose` name): as stated, or the
/// one the caller's role implies.
pub fn purpose(stated: i32, caller: &Caller) -> String {
    let purpose = match Purpose::try_from(stated) {
        Ok(stated) if stated != Purpose::Unspecified => stated,
        _ => match caller.role {
            Role::Insurer => Purpose::Certification,
            Role::MedicalInstitution => Purpose::OpinionWriting,
            Role::CareOffice => Purpose::CarePlanning,
            _ => Purpose::Unspecified,
        },
    };
    purpose.as_str_name().to_owned()
}

/// Fails unless the caller has role `role` and acts for an organisation.
pub fn require_role(caller: &Caller, role: Role, what: &str) -> Result<String, ApiError> {
    match caller.organization() {
        Some(org) if caller.role == role => Ok(org.to_owned()),
        _ => Err(ApiError::permission_denied("ROLE_NOT_ALLOWED", format!("only a {} may {what}", role.as_str()))),
    }
}

/// A page size from the request.
pub fn page_size(requested: i32) -> u64 {
    match u64::try_from(requested) {
        Ok(0) | Err(_) => PAGE_DEFAULT,
        Ok(n) => n.min(PAGE_MAX),
    }
}

/// The page token: the last id of the previous page (ids are time-ordered UUIDv7).
pub fn page_token(v: &mut Violations, token: &str) -> Option<String> {
    if token.is_empty() {
        return None;
    }
    if crate::domain::fields::is_uuid(token) {
        Some(token.to_owned())
    } else {
        v.add("page_token", "not a token from a previous response");
        None
    }
}

/// The next page's token: the last id when the page is full.
pub fn next_token(ids: &[&str], limit: u64) -> String {
    if ids.len() as u64 == limit { ids.last().map(|s| (*s).to_owned()).unwrap_or_default() } else { String::new() }
}
