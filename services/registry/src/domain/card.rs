//! Identity confirmation with the card (docs/domain/access.md#card-flow): the challenge's
//! state, the certificate chain against the trust anchors, the signature over the challenge,
//! and the link id the certificate stands for. Pure: no I/O, the clock is an argument.

use chrono::{DateTime, Utc};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

/// Largest certificate accepted (a JPKI certificate is about 1.5 KB).
pub const MAX_CERTIFICATE_BYTES: usize = 8192;
/// Largest signature accepted (RSA-4096 is 512 bytes).
pub const MAX_SIGNATURE_BYTES: usize = 1024;
/// Intermediate certificates accepted at most.
pub const MAX_INTERMEDIATES: usize = 4;
/// Bytes of a challenge.
pub const CHALLENGE_BYTES: usize = 32;

/// The signature algorithms a card may use: RSA PKCS#1 v1.5 (JPKI's) and ECDSA P-256.
static ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
];

/// The CA certificates card certificates must chain to.
#[derive(Debug, Default)]
pub struct TrustAnchors {
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustAnchors {
    /// No anchors: every card is refused.
    pub fn none() -> Self {
        Self::default()
    }

    /// The certificates of a PEM file (one or more `CERTIFICATE` blocks).
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let mut anchors = Vec::new();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("not a PEM certificate: {e}"))?;
            let anchor = webpki::anchor_from_trusted_cert(&cert)
                .map_err(|e| format!("a certificate is not usable as a trust anchor: {e}"))?;
            anchors.push(anchor.to_owned());
        }
        if anchors.is_empty() {
            return Err("holds no CERTIFICATE block".to_owned());
        }
        Ok(Self { anchors })
    }

    /// True when no anchor is configured.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

/// The state of a challenge as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The organisation it was issued to ([`kaigo_platform::auth::Caller::party`]).
    pub party: String,
    /// The bytes to sign.
    pub bytes: Vec<u8>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
    /// Whether a confirmation already used it.
    pub used: bool,
}

/// Why a card confirmation is refused. Messages name no person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The challenge was issued to another organisation.
    #[error("the challenge was issued to another organisation")]
    OtherOrganization,
    /// Past its lifetime.
    #[error("the challenge has expired; start a new confirmation")]
    Expired,
    /// Already used by a completed confirmation.
    #[error("the challenge was already used; start a new confirmation")]
    Used,
    /// The certificate does not parse.
    #[error("the certificate is not a DER X.509 certificate")]
    Malformed,
    /// The chain does not end at a configured trust anchor (or is otherwise invalid).
    #[error("the card certificate does not chain to a trusted issuer")]
    Untrusted,
    /// The certificate is outside its validity period.
    #[error("the card certificate has expired or is not yet valid")]
    CertificateExpired,
    /// The signature over the challenge does not verify with the certificate's key.
    #[error("the signature over the challenge does not verify with the card's certificate")]
    BadSignature,
    /// No trust anchor is configured at all.
    #[error("no trust anchor is configured for card confirmation")]
    NotConfigured,
}

impl Refusal {
    /// The ErrorInfo reason.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::OtherOrganization => "CONFIRMATION_OF_ANOTHER_ORGANIZATION",
            Refusal::Expired => "CHALLENGE_EXPIRED",
            Refusal::Used => "CHALLENGE_ALREADY_USED",
            Refusal::Malformed => "CARD_CERTIFICATE_MALFORMED",
            Refusal::Untrusted => "CARD_CERTIFICATE_UNTRUSTED",
            Refusal::CertificateExpired => "CARD_CERTIFICATE_EXPIRED",
            Refusal::BadSignature => "CARD_SIGNATURE_INVALID",
            Refusal::NotConfigured => "CARD_READER_NOT_CONFIGURED",
        }
    }
}

/// Checks the challenge for `party` at `now`: issued to it, unexpired, unused — in that order,
/// so another organisation learns nothing about the challenge's state.
pub fn check_challenge(challenge: &Challenge, party: &str, now: DateTime<Utc>) -> Result<(), Refusal> {
    if challenge.party != party {
        return Err(Refusal::OtherOrganization);
    }
    if challenge.used {
        return Err(Refusal::Used);
    }
    if now >= challenge.expires_at {
        return Err(Refusal::Expired);
    }
    Ok(())
}

/// Verifies the card's `certificate` (with `intermediates`) against `anchors` at `now`, then
/// `signature` over `challenge` with its key; returns the certificate's link id.
pub fn verify(
    anchors: &TrustAnchors,
    certificate: &[u8],
    intermediates: &[Vec<u8>],
    challenge: &[u8],
    signature: &[u8],
    now: DateTime<Utc>,
) -> Result<String, Refusal> {
    if anchors.is_empty() {
        return Err(Refusal::NotConfigured);
    }
    let link = link_id(certificate)?;
    let der = CertificateDer::from(certificate);
    let cert = EndEntityCert::try_from(&der).map_err(|_| Refusal::Malformed)?;
    let intermediates: Vec<CertificateDer<'_>> =
        intermediates.iter().map(|i| CertificateDer::from(i.as_slice())).collect();
    let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
    let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(seconds));
    cert.verify_for_usage(ALGORITHMS, &anchors.anchors, &intermediates, time, KeyUsage::client_auth(), None, None)
        .map_err(|e| match e {
            webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. } => Refusal::CertificateExpired,
            _ => Refusal::Untrusted,
        })?;
    let verified = ALGORITHMS.iter().any(|alg| cert.verify_signature(*alg, challenge, signature).is_ok());
    if !verified {
        return Err(Refusal::BadSignature);
    }
    Ok(link)
}

/// The link id of a certificate: its serial number in lower-case hex without separators or
/// leading zeros (docs/domain/access.md#card-flow).
pub fn link_id(certificate: &[u8]) -> Result<String, Refusal> {
    let (rest, cert) = x509_parser::parse_x509_certificate(certificate).map_err(|_| Refusal::Malformed)?;
    if !rest.is_empty() {
        return Err(Refusal::Malformed);
    }
    Ok(cert.tbs_certificate.serial.to_str_radix(16))
}

/// True when `link` has the shape of a link id: 1–64 lower-case hex digits.
pub fn is_link_id(link: &str) -> bool {
    !link.is_empty() && link.len() <= 64 && link.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;
    use crate::cards::{VirtualCa, VirtualCard};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 1, 0, 0).unwrap()
    }

    fn challenge(party: &str) -> Challenge {
        Challenge {
            party: party.into(),
            bytes: vec![7; 32],
            expires_at: now() + chrono::Duration::seconds(60),
            used: false,
        }
    }

    #[test]
    fn a_challenge_is_for_its_organisation_once_and_briefly() {
        let c = challenge("4371000128");
        assert_eq!(check_challenge(&c, "4371000128", now()), Ok(()));
        assert_eq!(check_challenge(&c, "4371000201", now()), Err(Refusal::OtherOrganization));
        assert_eq!(check_challenge(&c, "4371000128", c.expires_at), Err(Refusal::Expired));
        let used = Challenge { used: true, ..c.clone() };
        assert_eq!(check_challenge(&used, "4371000128", now()), Err(Refusal::Used));
        // Another organisation learns nothing about a used or expired challenge.
        assert_eq!(check_challenge(&used, "4371000201", c.expires_at), Err(Refusal::OtherOrganization));
    }

    #[test]
    fn a_virtual_card_verifies_and_names_its_serial() {
        let ca = VirtualCa::generate().unwrap();
        let anchors = TrustAnchors::from_pem(ca.certificate_pem().as_bytes()).unwrap();
        let card = VirtualCard::issue(&ca, "1a2b3c", false).unwrap();
        let c = challenge("x");
        let signature = card.sign(&c.bytes).unwrap();
        assert_eq!(verify(&anchors, card.certificate_der(), &[], &c.bytes, &signature, now()), Ok("1a2b3c".into()));
        // Another challenge, another card's signature, a stranger CA, no anchors.
        assert_eq!(
            verify(&anchors, card.certificate_der(), &[], &[8; 32], &signature, now()),
            Err(Refusal::BadSignature)
        );
        let other = VirtualCard::issue(&ca, "ff", false).unwrap();
        let forged = other.sign(&c.bytes).unwrap();
        assert_eq!(verify(&anchors, card.certificate_der(), &[], &c.bytes, &forged, now()), Err(Refusal::BadSignature));
        let stranger = VirtualCa::generate().unwrap();
        let foreign = VirtualCard::issue(&stranger, "1a2b3c", false).unwrap();
        let signature = foreign.sign(&c.bytes).unwrap();
        assert_eq!(
            verify(&anchors, foreign.certificate_der(), &[], &c.bytes, &signature, now()),
            Err(Refusal::Untrusted)
        );
        assert_eq!(
            verify(&TrustAnchors::none(), card.certificate_der(), &[], &c.bytes, &signature, now()),
            Err(Refusal::NotConfigured)
        );
        assert_eq!(verify(&anchors, b"not a certificate", &[], &c.bytes, &signature, now()), Err(Refusal::Malformed));
    }

    #[test]
    fn an_expired_card_certificate_is_refused() {
        let ca = VirtualCa::generate().unwrap();
        let anchors = TrustAnchors::from_pem(ca.certificate_pem().as_bytes()).unwrap();
        let card = VirtualCard::issue(&ca, "abc", true).unwrap();
        let signature = card.sign(&[1; 32]).unwrap();
        assert_eq!(
            verify(&anchors, card.certificate_der(), &[], &[1; 32], &signature, now()),
            Err(Refusal::CertificateExpired)
        );
    }

    #[test]
    fn link_ids_are_lower_case_hex() {
        assert!(is_link_id("0a1b"));
        assert!(!is_link_id(""));
        assert!(!is_link_id("0A1B"));
        assert!(!is_link_id("12:34"));
        assert!(!is_link_id(&"a".repeat(65)));
        assert!(TrustAnchors::from_pem(b"nothing").is_err());
    }
}
