//! Bearer tokens: verification at the gateway, and the dev signing key of `kaigo dev`.
//!
//! Every key is pinned to one algorithm (EdDSA, ES256 or RS256, from the key's type); the
//! token header's `alg` must match it, so `alg: none` and HS256 signed with a public key are
//! refused. `iss`, `aud`, `exp` and `nbf` are required and checked with a small leeway.

use std::path::{Path, PathBuf};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};
use serde::{Deserialize, Serialize};

use crate::config::AuthConfig;

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
    /// The signature, algorithm, issuer, audience or times do not verify.
    #[error("token rejected: {0}")]
    Invalid(String),
    /// The claims do not describe a valid caller.
    #[error("token claims invalid: {0}")]
    Claims(&'static str),
}

struct PinnedKey {
    key: DecodingKey,
    algorithm: Algorithm,
}

/// Verifies tokens against configured public keys.
pub struct TokenVerifier {
    keys: Vec<PinnedKey>,
    issuer: String,
    audience: String,
    leeway: u64,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").field("keys", &self.keys.len()).field("issuer", &self.issuer).finish()
    }
}

impl TokenVerifier {
    /// Loads the configured public keys.
    pub fn from_config(config: &AuthConfig) -> Result<Self, String> {
        let mut keys = Vec::new();
        for file in &config.public_key_files {
            let pem = std::fs::read(file).map_err(|e| format!("auth.public_key_files: cannot read {file}: {e}"))?;
            keys.push(pinned_from_pem(&pem).map_err(|e| format!("auth.public_key_files: {file}: {e}"))?);
        }
        if keys.is_empty() {
            return Err("auth.public_key_files: no public key configured; the gateway would accept no token".to_owned());
        }
        Ok(Self { keys, issuer: config.issuer.clone(), audience: config.audience.clone(), leeway: config.leeway_secs })
    }

    /// Verifies `token` and returns its caller.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let mut last = TokenError::Invalid("no key matches the token's algorithm".to_owned());
        for pinned in self.keys.iter().filter(|k| k.algorithm == header.alg) {
            let mut validation = Validation::new(pinned.algorithm);
            validation.set_issuer(&[&self.issuer]);
            validation.set_audience(&[&self.audience]);
            validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
            validation.validate_nbf = true;
            validation.leeway = self.leeway;
            match jsonwebtoken::decode::<Claims>(token, &pinned.key, &validation) {
                Ok(data) => return caller_from_claims(data.claims),
                Err(err) => last = TokenError::Invalid(err.to_string()),
            }
        }
        Err(last)
    }
}

fn pinned_from_pem(pem: &[u8]) -> Result<PinnedKey, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "not a PEM file".to_owned())?;
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return Ok(PinnedKey { key, algorithm: Algorithm::EdDSA });
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return Ok(PinnedKey { key, algorithm: Algorithm::ES256 });
    }
    if text.contains("PUBLIC KEY")
        && let Ok(key) = DecodingKey::from_rsa_pem(pem)
    {
        return Ok(PinnedKey { key, algorithm: Algorithm::RS256 });
    }
    Err("not an Ed25519, P-256 or RSA public key".to_owned())
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

/// The Ed25519 key `kaigo dev` signs tokens with, kept in its data directory.
pub struct DevKey {
    private_pem: Vec<u8>,
    public_path: PathBuf,
}

impl DevKey {
    /// The private and public key files in `data_dir`.
    pub fn paths(data_dir: &Path) -> (PathBuf, PathBuf) {
        (data_dir.join("dev-signing-key.pem"), data_dir.join("dev-signing-key.pub.pem"))
    }

    /// Loads the key from `data_dir`, generating it on first use.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let (private_path, public_path) = Self::paths(data_dir);
        if std::fs::metadata(&private_path).is_err() {
            std::fs::create_dir_all(data_dir)?;
            let (private_pem, public_pem) = generate_ed25519()?;
            std::fs::write(&public_path, public_pem)?;
            write_private(&private_path, private_pem.as_bytes())?;
        }
        Ok(Self { private_pem: std::fs::read(&private_path)?, public_path })
    }

    /// Loads an existing key (for `kaigo token`).
    pub fn load(data_dir: &Path) -> std::io::Result<Self> {
        let (private_path, public_path) = Self::paths(data_dir);
        Ok(Self { private_pem: std::fs::read(private_path)?, public_path })
    }

    /// The public key file, for `auth.public_key_files`.
    pub fn public_key_file(&self) -> &Path {
        &self.public_path
    }

    /// Signs `claims` with EdDSA.
    pub fn mint(&self, claims: &Claims) -> Result<String, String> {
        let key = EncodingKey::from_ed_pem(&self.private_pem).map_err(|e| e.to_string())?;
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &key).map_err(|e| e.to_string())
    }
}

fn generate_ed25519() -> std::io::Result<(String, String)> {
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let private = signing.to_pkcs8_pem(LineEnding::LF).map_err(std::io::Error::other)?;
    let public = signing.verifying_key().to_public_key_pem(LineEnding::LF).map_err(std::io::Error::other)?;
    Ok((private.to_string(), public))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}
