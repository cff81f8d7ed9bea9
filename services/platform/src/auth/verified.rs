//! Caller headers verified recently, so that a header seen again is not verified again.
//!
//! The gateway signs a caller once per token, path and second and reuses the two headers for
//! every call in that second; a service verifying them (an HMAC, two base64 decodings and a
//! JSON parse) spent about 7 % of an eligibility check's CPU on it (loadtest/README.md#span-cost).
//! A header pair is remembered with what it verified to; a later call is served from memory
//! only when its payload, signature and path are byte for byte the ones verified (the HMAC is
//! deterministic, so that is exactly the answer verifying again would give), and the issue and
//! expiry times are checked on every call, so a remembered header expires when it would have.
//! The memory is bounded: a shard that fills up is emptied.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use parking_lot::Mutex;

use super::{Caller, CallerError, CallerKeys};

/// Shards (independent locks) and entries per shard: 16 × 256 pairs of ~0.5 KiB at most.
const SHARDS: usize = 16;
const PER_SHARD: usize = 256;

/// What one header pair verified to.
struct Verified {
    payload: Box<str>,
    path: Box<str>,
    caller: Caller,
    iat: i64,
    exp: i64,
}

/// Verified caller headers, keyed by their signature.
pub(crate) struct VerifiedCallers {
    shards: Vec<Mutex<HashMap<Box<str>, Verified>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for VerifiedCallers {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::with_capacity(PER_SHARD))).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }
}

impl VerifiedCallers {
    /// The caller of the header pair, from memory when this very pair was verified for this
    /// path before, else verified by `keys` (and remembered when valid).
    pub(crate) fn verify(
        &self,
        keys: &CallerKeys,
        payload: &str,
        signature: &str,
        path: &str,
        now_unix: i64,
    ) -> Result<Caller, CallerError> {
        let mut hasher = self.hasher.build_hasher();
        hasher.write(signature.as_bytes());
        let shard = &self.shards[(hasher.finish() as usize) % SHARDS];
        if let Some(known) = shard.lock().get(signature)
            && *known.payload == *payload
            && *known.path == *path
        {
            super::check_times(known.iat, known.exp, now_unix)?;
            return Ok(known.caller.clone());
        }
        let (caller, iat, exp) = keys.verify_signed(payload, signature, path, now_unix)?;
        let mut shard = shard.lock();
        if shard.len() >= PER_SHARD {
            shard.clear();
        }
        shard.insert(
            signature.into(),
            Verified { payload: payload.into(), path: path.into(), caller: caller.clone(), iat, exp },
        );
        Ok(caller)
    }

    /// How many pairs are remembered (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}
