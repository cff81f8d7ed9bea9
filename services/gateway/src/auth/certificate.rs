//! The organisation a client certificate was issued to, and the rule that it must be the
//! token's.
//!
//! kaigo reads the organisation from the certificate's subjectAltName URIs:
//! `urn:kaigo:insurer:<保険者番号>`, `urn:kaigo:office:<介護保険事業所番号>` or
//! `urn:kaigo:institution:<医療機関コード>` (a certificate may carry several, e.g. a hospital
//! that is also a care office). With mutual TLS on, a token that names an organisation number
//! is accepted only over a connection whose certificate carries that same number; tokens of
//! roles without an organisation (insured person, operator) need only a valid certificate.

use kaigo_platform::auth::Caller;
use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use super::TokenError;

/// id-ce-subjectAltName.
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// The organisation numbers a client certificate carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// From `urn:kaigo:insurer:…`.
    pub insurers: Vec<String>,
    /// From `urn:kaigo:office:…`.
    pub offices: Vec<String>,
    /// From `urn:kaigo:institution:…`.
    pub institutions: Vec<String>,
}

impl CertificateIdentity {
    /// Reads the subjectAltName URIs of a DER certificate (already verified by TLS).
    pub fn from_der(der: &[u8]) -> Result<Self, TokenError> {
        let cert = Certificate::from_der(der).map_err(|_| TokenError::Certificate("unreadable client certificate"))?;
        let mut identity = Self::default();
        let extensions = cert.tbs_certificate.extensions.unwrap_or_default();
        for ext in extensions.iter().filter(|e| e.extn_id == SUBJECT_ALT_NAME) {
            let names = SubjectAltName::from_der(ext.extn_value.as_bytes())
                .map_err(|_| TokenError::Certificate("unreadable subjectAltName"))?;
            for name in names.0 {
                if let GeneralName::UniformResourceIdentifier(uri) = name {
                    identity.add_uri(uri.as_str());
                }
            }
        }
        Ok(identity)
    }

    fn add_uri(&mut self, uri: &str) {
        let Some(rest) = uri.strip_prefix("urn:kaigo:") else { return };
        let Some((kind, number)) = rest.split_once(':') else { return };
        let list = match kind {
            "insurer" => &mut self.insurers,
            "office" => &mut self.offices,
            "institution" => &mut self.institutions,
            _ => return,
        };
        list.push(number.to_owned());
    }

    /// Refuses a caller whose organisation numbers the certificate does not carry.
    pub fn check(&self, caller: &Caller) -> Result<(), TokenError> {
        let holds = |list: &[String], number: &str| list.iter().any(|n| n == number);
        if let Some(insurer) = &caller.insurer
            && !holds(&self.insurers, insurer.as_str())
        {
            return Err(TokenError::Certificate("the certificate is not the token's insurer's"));
        }
        if let Some(office) = &caller.office
            && !holds(&self.offices, office.as_str())
        {
            return Err(TokenError::Certificate("the certificate is not the token's office's"));
        }
        if let Some(institution) = &caller.institution
            && !holds(&self.institutions, institution.as_str())
        {
            return Err(TokenError::Certificate("the certificate is not the token's institution's"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use kaigo_platform::auth::Role;
    use kaigo_platform::ids::CareOfficeNumber;

    use super::*;

    fn office_caller(number: &str) -> Caller {
        Caller {
            subject: "s".to_owned(),
            role: Role::CareOffice,
            insurer: None,
            office: Some(CareOfficeNumber::parse(number).unwrap()),
            institution: None,
            scopes: Vec::new(),
            consents: Vec::new(),
        }
    }

    #[test]
    fn uris_are_sorted_by_kind_and_others_ignored() {
        let mut id = CertificateIdentity::default();
        for uri in ["urn:kaigo:office:0300000106", "urn:kaigo:institution:0110113719", "https://x", "urn:kaigo:pet:1"] {
            id.add_uri(uri);
        }
        assert_eq!(id.offices, ["0300000106"]);
        assert_eq!(id.institutions, ["0110113719"]);
        assert!(id.insurers.is_empty());
    }

    #[test]
    fn the_token_office_must_be_on_the_certificate() {
        let id = CertificateIdentity { offices: vec!["0300000106".to_owned()], ..Default::default() };
        assert!(id.check(&office_caller("0300000106")).is_ok());
        assert!(id.check(&office_caller("0300000007")).is_err());
        assert!(CertificateIdentity::default().check(&office_caller("0300000106")).is_err());
    }
}
