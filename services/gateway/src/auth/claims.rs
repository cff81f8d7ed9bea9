//! The claims kaigo reads from a token, and how they become a [`Caller`].

use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};
use serde::{Deserialize, Serialize};

/// The claims kaigo reads from a token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Subject: the account id.
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// The kaigo role.
    pub role: String,
    /// 保険者番号, for insurers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurer_number: Option<String>,
    /// 介護保険事業所番号, for offices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_number: Option<String>,
    /// 医療機関コード, for medical institutions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_code: Option<String>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Consent references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consents: Vec<String>,
}

/// Why a token was refused. Messages never quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `authorization: Bearer …` header.
    #[error("missing bearer token")]
    Missing,
    /// More than one `authorization` header: which credential speaks is ambiguous.
    #[error("more than one authorization header; send exactly one bearer token")]
    Ambiguous,
    /// The signature, algorithm, issuer, audience or times do not verify.
    #[error("token rejected: {0}")]
    Invalid(String),
    /// The token names a key (`kid`) the gateway does not hold, even after a re-fetch.
    #[error("token signed with an unknown key")]
    UnknownKey,
    /// The claims do not describe a valid caller.
    #[error("token claims invalid: {0}")]
    Claims(&'static str),
    /// The client certificate does not belong to the token's organisation.
    #[error("client certificate refused: {0}")]
    Certificate(&'static str),
}

/// Turns verified claims into a caller, validating the organisation numbers.
pub fn caller_from_claims(claims: Claims) -> Result<Caller, TokenError> {
    let role: Role = claims.role.parse().map_err(|_| TokenError::Claims("unknown role"))?;
    let insurer = claims
        .insurer_number
        .as_deref()
        .map(InsurerNumber::parse)
        .transpose()
        .map_err(|_| TokenError::Claims("insurer_number is not a valid 保険者番号"))?;
    let office = claims
        .office_number
        .as_deref()
        .map(CareOfficeNumber::parse)
        .transpose()
        .map_err(|_| TokenError::Claims("office_number is not a valid 事業所番号"))?;
    let institution = claims
        .institution_code
        .as_deref()
        .map(MedicalInstitutionCode::parse)
        .transpose()
        .map_err(|_| TokenError::Claims("institution_code is not a valid 医療機関コード"))?;
    let required = match role {
        Role::Insurer => insurer.is_some(),
        Role::CareOffice | Role::ServiceProvider => office.is_some(),
        Role::MedicalInstitution => institution.is_some(),
        Role::InsuredPerson | Role::Operator => true,
    };
    if !required {
        return Err(TokenError::Claims("the role needs its organisation number"));
    }
    Ok(Caller {
        subject: claims.sub,
        role,
        insurer,
        office,
        institution,
        scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
        consents: claims.consents,
    })
}
