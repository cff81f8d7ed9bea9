//! Virtual cards for `kaigo dev` and the tests (docs/domain/access.md#card-flow): a test CA
//! standing in for J-LIS, and per person a key pair with a user-authentication-style
//! certificate (serial and issuer only, no personal facts), RSA-2048 as on the real card.
//! Never used in production, where the operator configures its own trust anchor.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber, SigningKey,
};

/// An error while making or reading virtual cards.
pub type CardError = Box<dyn std::error::Error + Send + Sync>;

/// A test CA.
pub struct VirtualCa {
    certificate_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl VirtualCa {
    /// A fresh CA (ECDSA P-256: quick to make; the cards it issues are RSA).
    pub fn generate() -> Result<Self, CardError> {
        let key = KeyPair::generate()?;
        let params = Self::params();
        let certificate = params.self_signed(&key)?;
        Ok(Self { certificate_pem: certificate.pem(), issuer: Issuer::new(params, key) })
    }

    /// The CA certificate's parameters (the same every time, so a kept key issues again).
    fn params() -> CertificateParams {
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "kaigo virtual JPKI CA (test only)");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2045, 1, 1);
        params
    }

    /// The CA kept in `dir` (`ca.pem`, `ca-key.pem`), created there when missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, CardError> {
        let cert_path = dir.join("ca.pem");
        let key_path = dir.join("ca-key.pem");
        if cert_path.is_file() && key_path.is_file() {
            let certificate_pem = std::fs::read_to_string(&cert_path)?;
            let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?)?;
            let issuer = Issuer::new(Self::params(), key);
            return Ok(Self { certificate_pem, issuer });
        }
        std::fs::create_dir_all(dir)?;
        let ca = Self::generate()?;
        std::fs::write(&cert_path, &ca.certificate_pem)?;
        std::fs::write(&key_path, ca.issuer.key().serialize_pem())?;
        Ok(ca)
    }

    /// The CA certificate (the trust anchor), PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }
}

/// A virtual card: its key and its certificate.
pub struct VirtualCard {
    key: KeyPair,
    certificate_der: Vec<u8>,
    serial: String,
}

impl VirtualCard {
    /// Issues a card whose certificate has serial `serial_hex` (lower-case hex, the link id);
    /// `expired`: valid only in the past.
    pub fn issue(ca: &VirtualCa, serial_hex: &str, expired: bool) -> Result<Self, CardError> {
        let key = KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)?;
        Self::issue_with_key(ca, serial_hex, expired, key)
    }

    fn issue_with_key(ca: &VirtualCa, serial_hex: &str, expired: bool, key: KeyPair) -> Result<Self, CardError> {
        let serial =
            hex::decode(if serial_hex.len() % 2 == 1 { format!("0{serial_hex}") } else { serial_hex.to_owned() })?;
        let mut params = CertificateParams::default();
        // No personal facts: the user-authentication certificate carries none.
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "virtual card (user authentication)");
        params.distinguished_name = name;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        } else {
            params.not_before = rcgen::date_time_ymd(2021, 1, 1);
            params.not_after = rcgen::date_time_ymd(2045, 1, 1);
        }
        let certificate = params.signed_by(&key, &ca.issuer)?;
        Ok(Self {
            key,
            certificate_der: certificate.der().to_vec(),
            serial: serial_hex.trim_start_matches('0').to_owned(),
        })
    }

    /// The card kept in `dir` as `card-<serial>.pem` / `card-<serial>-key.pem`, issued by
    /// `ca` when missing.
    pub fn load_or_issue(ca: &VirtualCa, dir: &Path, serial_hex: &str) -> Result<Self, CardError> {
        let key_path = dir.join(format!("card-{serial_hex}-key.pem"));
        let cert_path = dir.join(format!("card-{serial_hex}.der"));
        if key_path.is_file() && cert_path.is_file() {
            let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?)?;
            let certificate_der = std::fs::read(&cert_path)?;
            return Ok(Self { key, certificate_der, serial: serial_hex.trim_start_matches('0').to_owned() });
        }
        let card = Self::issue(ca, serial_hex, false)?;
        std::fs::write(&key_path, card.key.serialize_pem())?;
        std::fs::write(&cert_path, &card.certificate_der)?;
        Ok(card)
    }

    /// The certificate, DER (what the reader sends).
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The link id (the serial, lower-case hex without leading zeros).
    pub fn link_id(&self) -> &str {
        &self.serial
    }

    /// Signs `challenge` with the card's key (RSA PKCS#1 v1.5, SHA-256), as the card does
    /// after the PIN.
    pub fn sign(&self, challenge: &[u8]) -> Result<Vec<u8>, CardError> {
        Ok(self.key.sign(challenge)?)
    }
}
