//! Verification keys, each pinned to exactly one algorithm.
//!
//! A PEM key's algorithm follows from its type (Ed25519 → EdDSA, P-256 → ES256, RSA → RS256).
//! A JWK's follows from `kty`/`crv`, and its `alg`, when present, must agree; anything else
//! (P-384, RSA-PSS, symmetric `oct` keys) is skipped with a warning. A token is checked only
//! against keys of its header's `alg`, so `alg: none` and HS256 "signed" with a public key
//! match no key. HS256 exists only when `auth.hs256_secret` is configured.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

/// A key and the one algorithm it verifies.
#[derive(Clone)]
pub(crate) struct PinnedKey {
    /// The JWK `kid`; PEM keys have none and match tokens without a `kid`.
    pub kid: Option<String>,
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

impl std::fmt::Debug for PinnedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinnedKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish()
    }
}

/// Reads a PEM public key and pins it to the algorithm of its type.
pub(crate) fn pinned_from_pem(pem: &[u8]) -> Result<PinnedKey, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "not a PEM file".to_owned())?;
    let pinned = |key, algorithm| Ok(PinnedKey { kid: None, key, algorithm });
    if let Ok(key) = DecodingKey::from_ed_pem(pem) {
        return pinned(key, Algorithm::EdDSA);
    }
    if let Ok(key) = DecodingKey::from_ec_pem(pem) {
        return pinned(key, Algorithm::ES256);
    }
    if text.contains("PUBLIC KEY")
        && let Ok(key) = DecodingKey::from_rsa_pem(pem)
    {
        return pinned(key, Algorithm::RS256);
    }
    Err("not an Ed25519, P-256 or RSA public key".to_owned())
}

/// Pins one JWK, or says why it is not usable.
pub(crate) fn pinned_from_jwk(jwk: &Jwk) -> Result<PinnedKey, String> {
    let kid = jwk.common.key_id.clone().filter(|k| !k.is_empty()).ok_or("a JWK without kid")?;
    let (algorithm, expected) = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            (Algorithm::ES256, KeyAlgorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            (Algorithm::EdDSA, KeyAlgorithm::EdDSA)
        }
        AlgorithmParameters::OctetKey(_) => return Err(format!("key {kid}: symmetric keys are not taken from a JWKS")),
        _ => return Err(format!("key {kid}: only RSA, P-256 and Ed25519 keys are accepted")),
    };
    if let Some(alg) = jwk.common.key_algorithm
        && alg != expected
    {
        return Err(format!("key {kid}: alg {alg:?} does not fit its key type (expected {expected:?})"));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {kid}: {e}"))?;
    Ok(PinnedKey { kid: Some(kid), key, algorithm })
}

/// Parses a JWKS document; keys that cannot be used are skipped and reported, so one odd key
/// from the identity provider does not take the others down.
pub(crate) fn pinned_from_jwks(document: &[u8]) -> Result<(Vec<PinnedKey>, Vec<String>), String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        keys: Vec<serde_json::Value>,
    }
    let raw: Raw = serde_json::from_slice(document).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = Vec::new();
    let mut skipped = Vec::new();
    for value in raw.keys {
        match serde_json::from_value::<Jwk>(value).map_err(|e| format!("unreadable JWK: {e}")) {
            Ok(jwk) => match pinned_from_jwk(&jwk) {
                Ok(key) => keys.push(key),
                Err(why) => skipped.push(why),
            },
            Err(why) => skipped.push(why),
        }
    }
    Ok((keys, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwks(keys: &str) -> Vec<u8> {
        format!(r#"{{"keys":[{keys}]}}"#).into_bytes()
    }

    const ED: &str = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}"#;

    #[test]
    fn an_ed25519_jwk_is_pinned_to_eddsa() {
        let (keys, skipped) = pinned_from_jwks(&jwks(ED)).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(keys[0].algorithm, Algorithm::EdDSA);
        assert_eq!(keys[0].kid.as_deref(), Some("ed"));
    }

    #[test]
    fn symmetric_and_mismatched_keys_are_skipped_not_fatal() {
        let oct = r#"{"kty":"oct","k":"c2VjcmV0","kid":"hs","alg":"HS256"}"#;
        let wrong_alg = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"x","alg":"ES256"}"#;
        let no_kid = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        let weird = r#"{"kty":"XYZ","kid":"w"}"#;
        let (keys, skipped) = pinned_from_jwks(&jwks(&[ED, oct, wrong_alg, no_kid, weird].join(","))).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(skipped.len(), 4, "{skipped:?}");
    }

    #[test]
    fn a_document_that_is_not_a_jwks_is_an_error() {
        assert!(pinned_from_jwks(b"<html>").is_err());
    }
}
