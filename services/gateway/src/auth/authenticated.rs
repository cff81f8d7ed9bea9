//! A verified caller as the layers pass it on, with what the per-call path reuses from one call
//! to the next of the same token: its rate-limit key and its signed caller headers.

use http::HeaderValue;
use kaigo_platform::auth::{Caller, CallerKeys};
use parking_lot::Mutex;

/// A caller verified by the gateway (cached per token by the verifier).
#[derive(Debug)]
pub(crate) struct Authenticated {
    caller: Caller,
    /// `<role>\n<subject>`: the caller's rate-limit bucket key, built once per token.
    rate_key: String,
    /// The last headers signed for this caller (see [`Authenticated::signed_headers`]).
    signed: Mutex<Option<Signed>>,
}

/// Caller headers signed for one path in one second.
#[derive(Debug)]
struct Signed {
    second: i64,
    path: String,
    payload: HeaderValue,
    signature: HeaderValue,
}

impl Authenticated {
    pub(crate) fn new(caller: Caller) -> Self {
        let rate_key = format!("{}\n{}", caller.role.as_str(), caller.subject);
        Self { caller, rate_key, signed: Mutex::new(None) }
    }

    pub(crate) fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The key of the caller's token bucket: one per (subject, role), whichever token it uses.
    pub(crate) fn rate_key(&self) -> &str {
        &self.rate_key
    }

    /// The caller headers (`x-kaigo-caller`, `x-kaigo-caller-signature`) for a call to `path`
    /// at `now_unix`. Signing is deterministic in (caller, path, second): the payload carries
    /// the caller and the second it was issued (`iat`, `exp` = `iat` + the internal key's
    /// maximum age), the signature covers payload and path. So the headers of the previous
    /// call are reused, byte for byte what signing again would give, while path and second
    /// are the same; services see no difference.
    pub(crate) fn signed_headers(
        &self,
        keys: &CallerKeys,
        path: &str,
        now_unix: i64,
    ) -> Option<(HeaderValue, HeaderValue)> {
        let mut slot = self.signed.lock();
        if let Some(signed) = slot.as_ref()
            && signed.second == now_unix
            && signed.path == path
        {
            return Some((signed.payload.clone(), signed.signature.clone()));
        }
        let (payload, signature) = keys.sign(&self.caller, path, now_unix);
        // base64url and the key id are visible ASCII, always valid header values.
        let payload = HeaderValue::try_from(payload).ok()?;
        let signature = HeaderValue::try_from(signature).ok()?;
        *slot = Some(Signed {
            second: now_unix,
            path: path.to_owned(),
            payload: payload.clone(),
            signature: signature.clone(),
        });
        Some((payload, signature))
    }
}

#[cfg(test)]
mod tests {
    use kaigo_platform::auth::{CALLER_HEADER, Role, SIGNATURE_HEADER};

    use super::*;

    fn operator(subject: &str) -> Caller {
        Caller {
            subject: subject.to_owned(),
            role: Role::Operator,
            insurer: None,
            office: None,
            institution: None,
            scopes: Vec::new(),
            consents: Vec::new(),
        }
    }

    #[test]
    fn reused_headers_are_those_signing_again_gives_and_verify() {
        let keys = CallerKeys::generate();
        let who = Authenticated::new(operator("op-1"));
        let path = "/kaigo.eligibility.v1.EligibilityService/CheckEligibility";
        let first = who.signed_headers(&keys, path, 1_000).unwrap();
        let again = who.signed_headers(&keys, path, 1_000).unwrap();
        assert_eq!(first, again);
        let fresh = keys.sign(who.caller(), path, 1_000);
        assert_eq!((first.0.to_str().unwrap(), first.1.to_str().unwrap()), (fresh.0.as_str(), fresh.1.as_str()));

        let mut headers = http::HeaderMap::new();
        headers.insert(CALLER_HEADER, again.0);
        headers.insert(SIGNATURE_HEADER, again.1);
        assert_eq!(keys.verify_headers(&headers, path, 1_000).unwrap(), operator("op-1"));
        // Bound to the path: another method's call needs its own signature.
        assert!(keys.verify_headers(&headers, "/kaigo.eligibility.v1.EligibilityService/Other", 1_000).is_err());
    }

    #[test]
    fn a_new_second_or_another_path_is_signed_anew() {
        let keys = CallerKeys::generate();
        let who = Authenticated::new(operator("op-1"));
        let a = "/kaigo.eligibility.v1.EligibilityService/CheckEligibility";
        let b = "/kaigo.eligibility.v1.EligibilityService/BatchCheckEligibility";
        let first = who.signed_headers(&keys, a, 1_000).unwrap();
        let later = who.signed_headers(&keys, a, 1_001).unwrap();
        assert_ne!(first.0, later.0, "iat moves with the second");
        let mut headers = http::HeaderMap::new();
        headers.insert(CALLER_HEADER, later.0.clone());
        headers.insert(SIGNATURE_HEADER, later.1.clone());
        assert!(keys.verify_headers(&headers, a, 1_001).is_ok());
        let other = who.signed_headers(&keys, b, 1_001).unwrap();
        assert_eq!(other.0, later.0, "the payload does not depend on the path");
        assert_ne!(other.1, later.1, "the signature does");
        assert_eq!(keys.sign(who.caller(), b, 1_001).1, other.1.to_str().unwrap());
    }

    #[test]
    fn the_rate_key_names_role_and_subject() {
        assert_eq!(Authenticated::new(operator("op-1")).rate_key(), "operator\nop-1");
    }
}
