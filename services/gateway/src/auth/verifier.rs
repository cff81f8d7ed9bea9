//! Bearer token verification, with a cache of verified tokens.
//!
//! A token is checked only against keys pinned to its header's `alg` (and, with a `kid`, the
//! JWKS key of that id): `alg: none` does not parse, HS256 matches no key unless
//! `auth.hs256_secret` is set. `iss`, `aud`, `exp`, `nbf` and `sub` are required; `exp` and
//! `nbf` are checked with `auth.leeway_secs`. A verified token is cached under its SHA-256 until
//! its `exp` (never later, whatever the leeway), and forgotten when the JWKS changes, so a
//! repeated token costs a hash and a lookup instead of a signature check.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::Validation;
use kaigo_platform::auth::unix_now;
use moka::sync::Cache;
use sha2::{Digest, Sha256};

use super::authenticated::Authenticated;
use super::key_store::KeyStore;
use super::{Claims, TokenError, caller_from_claims};
use crate::config::AuthConfig;

/// A cached verification: the caller, and the key-set generation it was checked against.
#[derive(Clone)]
struct Verified {
    caller: Arc<Authenticated>,
    generation: u64,
    /// When the token's `exp` passes (monotonic clock).
    expires: Instant,
}

struct UntilExp;

impl moka::Expiry<[u8; 32], Verified> for UntilExp {
    fn expire_after_create(&self, _key: &[u8; 32], value: &Verified, created_at: Instant) -> Option<Duration> {
        Some(value.expires.saturating_duration_since(created_at))
    }
}

/// Verifies Bearer tokens against the configured keys.
pub struct TokenVerifier {
    keys: Arc<KeyStore>,
    issuer: String,
    audience: String,
    leeway: u64,
    cache: Cache<[u8; 32], Verified>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Loads the configured keys (and the first JWKS) and starts the background JWKS refresh.
    pub async fn from_config(config: &AuthConfig) -> Result<Self, String> {
        let keys = Arc::new(KeyStore::load(config).await?);
        keys.spawn_refresh(Duration::from_secs(config.jwks_refresh_secs));
        let cache = Cache::builder().max_capacity(config.token_cache_size).expire_after(UntilExp).build();
        Ok(Self {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway_secs,
            cache,
        })
    }

    /// Re-reads the JWKS now (tests, and an operator's rotation hook); returns whether it changed.
    pub async fn refresh_keys(&self) -> Result<bool, String> {
        self.keys.refresh().await
    }

    /// Verifies `token` and returns its caller.
    pub(crate) async fn verify(&self, token: &str) -> Result<Arc<Authenticated>, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let generation = self.keys.generation();
        if let Some(hit) = self.cache.get(&digest)
            && hit.generation == generation
            && hit.expires > Instant::now()
        {
            return Ok(hit.caller);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let kid = header.kid.as_deref().filter(|k| !k.is_empty());
        if let Some(kid) = kid
            && !self.keys.knows_kid(kid)
        {
            self.keys.refetch_for_unknown_kid().await;
            if !self.keys.knows_kid(kid) {
                return Err(TokenError::UnknownKey);
            }
        }
        let candidates = self.keys.candidates(kid, header.alg);
        if candidates.is_empty() {
            return Err(TokenError::Invalid(format!("no key accepts algorithm {:?}", header.alg)));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        let mut last = TokenError::Invalid("signature does not verify".to_owned());
        for pinned in candidates {
            match jsonwebtoken::decode::<Claims>(token, &pinned.key, &validation) {
                Ok(data) => {
                    let exp = data.claims.exp;
                    let caller = Arc::new(Authenticated::new(caller_from_claims(data.claims)?));
                    let left = u64::try_from(exp - unix_now()).unwrap_or(0);
                    if left > 0 {
                        let expires = Instant::now() + Duration::from_secs(left);
                        self.cache.insert(digest, Verified { caller: caller.clone(), generation, expires });
                    }
                    return Ok(caller);
                }
                Err(err) => last = TokenError::Invalid(err.to_string()),
            }
        }
        Err(last)
    }

    /// Verified tokens currently cached (for tests and metrics).
    pub fn cached_tokens(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}
