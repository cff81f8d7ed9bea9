//! Sealing small values that leave the process for a shared cache: AES-256-GCM under keys
//! derived from the internal secret every service already holds.
//!
//! Redis is shared infrastructure: its dumps, replicas, backups and `MONITOR` output are read
//! by more people and tools than the service's own database. What a service caches there that
//! names a person (a name, a birth date) is sealed, so whoever reads Redis sees only opaque
//! bytes, and bound to the cache key it was stored under (the associated data), so a value
//! moved to another key does not open there.
//!
//! The keys come from `internal_auth.secret` (and `previous_secret` during a rotation): one
//! HMAC-SHA256 per purpose label, so the sealing key is never the signing key and two purposes
//! never share a key. A value sealed under a key that was rotated away no longer opens; the
//! caller treats it as absent and reads the database, as on any cache miss.
//! README.md's "How the gateway vouches for callers" describes the secret; the eligibility
//! cache (services/eligibility/src/cache) is what seals with it.

use aes_gcm::aead::{AeadCore, AeadInPlace, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// The format byte in front of every sealed value (a later format can be told apart).
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The secrets sealing keys are derived from: the current internal secret and, during a
/// rotation, the previous one.
#[derive(Clone, Default)]
pub struct SealSecrets {
    current: Option<Vec<u8>>,
    previous: Option<Vec<u8>>,
}

impl std::fmt::Debug for SealSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealSecrets")
            .field("current", &self.current.as_ref().map(|_| "[redacted]"))
            .field("previous", &self.previous.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl SealSecrets {
    /// From the internal secret and the previous one (either may be empty: not configured).
    pub fn new(current: &Secret, previous: &Secret) -> Self {
        let bytes = |s: &Secret| (!s.is_empty()).then(|| s.expose().as_bytes().to_vec());
        Self { current: bytes(current), previous: bytes(previous) }
    }

    /// No secret: nothing can be sealed (`kaigo dev` without one, tests that do not care).
    pub fn none() -> Self {
        Self::default()
    }

    /// The sealer for `purpose` (a fixed label such as `eligibility.l2.details`), or `None`
    /// when no secret is configured.
    pub fn sealer(&self, purpose: &str) -> Option<Sealer> {
        let current = self.current.as_deref().and_then(|s| cipher(s, purpose))?;
        let previous = self.previous.as_deref().and_then(|s| cipher(s, purpose));
        Some(Sealer { current, previous })
    }
}

/// The cipher for `purpose` under `secret` (`None` never happens: HMAC takes keys of any length).
fn cipher(secret: &[u8], purpose: &str) -> Option<Aes256Gcm> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(b"kaigo/seal/v1/");
    mac.update(purpose.as_bytes());
    let key = mac.finalize().into_bytes();
    Some(Aes256Gcm::new(&key))
}

/// Seals and opens values for one purpose.
#[derive(Clone)]
pub struct Sealer {
    current: Aes256Gcm,
    previous: Option<Aes256Gcm>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// `plaintext` sealed and bound to `bound_to` (the key it is stored under): the format
    /// byte, a random nonce, the ciphertext and the tag.
    pub fn seal(&self, bound_to: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(FORMAT);
        out.extend_from_slice(&nonce);
        let start = out.len();
        out.extend_from_slice(plaintext);
        // Encryption fails only beyond GCM's 64 GiB limit; these values are bytes long.
        let tag = self.current.encrypt_in_place_detached(&nonce, bound_to, &mut out[start..]).unwrap_or_default();
        out.extend_from_slice(&tag);
        out
    }

    /// The plaintext of `sealed` if it was sealed for `bound_to` under the current or the
    /// previous key and is unaltered; `None` otherwise.
    pub fn open(&self, bound_to: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let (&format, rest) = sealed.split_first()?;
        if format != FORMAT || rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let try_open = |cipher: &Aes256Gcm| {
            let mut buf = ciphertext.to_vec();
            cipher
                .decrypt_in_place_detached(Nonce::from_slice(nonce), bound_to, &mut buf, Tag::from_slice(tag))
                .ok()
                .map(|()| buf)
        };
        try_open(&self.current).or_else(|| self.previous.as_ref().and_then(try_open))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(current: &str, previous: &str) -> SealSecrets {
        SealSecrets::new(&Secret::new(current), &Secret::new(previous))
    }

    #[test]
    fn a_sealed_value_opens_only_under_its_own_key_and_binding() {
        let sealer = secrets("a-secret-of-at-least-thirty-two-bytes", "").sealer("test.purpose").unwrap();
        let sealed = sealer.seal(b"435073:0000000001", "山田 太郎".as_bytes());
        assert!(!sealed.windows("山田".len()).any(|w| w == "山田".as_bytes()), "no plaintext in the sealed bytes");
        assert_eq!(sealer.open(b"435073:0000000001", &sealed).unwrap(), "山田 太郎".as_bytes());
        assert_eq!(sealer.open(b"435073:0000000002", &sealed), None, "moved to another key");
        let other_purpose = secrets("a-secret-of-at-least-thirty-two-bytes", "").sealer("other").unwrap();
        assert_eq!(other_purpose.open(b"435073:0000000001", &sealed), None);
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(sealer.open(b"435073:0000000001", &altered), None);
        assert_eq!(sealer.open(b"435073:0000000001", &sealed[..10]), None, "cut short");
        assert_eq!(sealer.open(b"435073:0000000001", &[]), None);
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let sealer = secrets("a-secret-of-at-least-thirty-two-bytes", "").sealer("p").unwrap();
        assert_ne!(sealer.seal(b"k", b"v"), sealer.seal(b"k", b"v"));
    }

    #[test]
    fn during_a_rotation_values_sealed_under_the_previous_secret_still_open() {
        let old = secrets("the-old-secret-of-at-least-32-bytes", "").sealer("p").unwrap();
        let sealed = old.seal(b"k", b"v");
        let rotated = secrets("the-new-secret-of-at-least-32-bytes", "the-old-secret-of-at-least-32-bytes");
        assert_eq!(rotated.sealer("p").unwrap().open(b"k", &sealed).unwrap(), b"v");
        let after = secrets("the-new-secret-of-at-least-32-bytes", "");
        assert_eq!(after.sealer("p").unwrap().open(b"k", &sealed), None, "rotated away");
    }

    #[test]
    fn without_a_secret_nothing_is_sealed_and_debug_shows_no_secret() {
        assert!(SealSecrets::none().sealer("p").is_none());
        let shown = format!("{:?}", secrets("a-secret-of-at-least-thirty-two-bytes", ""));
        assert!(!shown.contains("thirty-two"), "{shown}");
    }
}
