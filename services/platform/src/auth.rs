//! The verified caller, and how it travels from the gateway to the services.
//!
//! The gateway authenticates once (JWT, optional client certificate) and turns the claims into
//! a [`Caller`]. It forwards the caller to services as two gRPC metadata headers:
//!
//! - `x-kaigo-caller`: the caller as base64url JSON, with issue and expiry times;
//! - `x-kaigo-caller-signature`: `<key id>.<base64url HMAC-SHA256>` over the caller header and
//!   the request path, with the internal key only the gateway and the services hold.
//!
//! Services accept a caller only with a valid, unexpired signature for that very path: a header
//! a client forges, or copies from another call, is refused with UNAUTHENTICATED. Services then
//! enforce their own data rules with the caller (who may see which person).

use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::InternalAuthConfig;
use crate::errors::ApiError;
use crate::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};

mod verified;

/// The metadata header carrying the caller.
pub const CALLER_HEADER: &str = "x-kaigo-caller";
/// The metadata header carrying the caller's signature.
pub const SIGNATURE_HEADER: &str = "x-kaigo-caller-signature";

/// Who is calling: defined once with the access rules (`kaigo_access::Role`), which decide what
/// each role may see.
pub use kaigo_access::Role;

/// A verified caller. Built by the gateway from token claims; trusted by services only when it
/// arrives with a valid signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The token subject: an opaque account id (not a person's name or number).
    pub subject: String,
    /// The caller's role.
    pub role: Role,
    /// The insurer the caller acts for (role insurer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurer: Option<InsurerNumber>,
    /// The office the caller acts for (care office, service provider, or a provider-type
    /// medical institution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<CareOfficeNumber>,
    /// The medical institution the caller acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution: Option<MedicalInstitutionCode>,
    /// OAuth scopes granted to the token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Consent references presented with the call (the person's consent to share their data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consents: Vec<String>,
}

impl Caller {
    /// The organisation the caller acts for, by role: an insurer's 保険者番号, an office's or
    /// provider's 事業所番号, a medical institution's 医療機関コード (or, for an institution
    /// that also runs care services, its 事業所番号). `None` for operators and insured persons,
    /// who act for no organisation. The one rule every service uses for ownership, idempotency
    /// keys and the audit trail.
    pub fn organization(&self) -> Option<&str> {
        match self.role {
            Role::Insurer => self.insurer.as_ref().map(InsurerNumber::as_str),
            Role::CareOffice | Role::ServiceProvider => self.office.as_ref().map(CareOfficeNumber::as_str),
            Role::MedicalInstitution => self
                .institution
                .as_ref()
                .map(MedicalInstitutionCode::as_str)
                .or_else(|| self.office.as_ref().map(CareOfficeNumber::as_str)),
            Role::InsuredPerson | Role::Operator => None,
        }
    }

    /// Who is calling, as one stable string for keys: the organisation when the caller acts
    /// for one, else `<role>:<subject>` (an operator's or a person's account). Never personal
    /// data: subjects are opaque account ids.
    pub fn party(&self) -> String {
        match self.organization() {
            Some(org) => org.to_owned(),
            None => format!("{}:{}", self.role.as_str(), self.subject),
        }
    }

    /// True when the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The caller from a request's extensions, put there by [`CallerLayer`].
    pub fn from_request<T>(request: &tonic::Request<T>) -> Result<&Caller, ApiError> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| ApiError::unauthenticated("CALLER_MISSING", "no verified caller; call through the gateway"))
    }
}

#[derive(Serialize, Deserialize)]
struct SignedCaller {
    #[serde(flatten)]
    caller: Caller,
    /// Issued at, Unix seconds.
    iat: i64,
    /// Expires at, Unix seconds.
    exp: i64,
}

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
struct Key {
    id: String,
    /// The keyed MAC state, cloned for each use.
    mac: HmacSha256,
}

impl Key {
    /// `None` only if the MAC refused the key, which HMAC never does (any length is valid).
    fn new(id: &str, secret: &[u8]) -> Option<Self> {
        Some(Self { id: id.to_owned(), mac: HmacSha256::new_from_slice(secret).ok()? })
    }
}

/// Signs and verifies caller headers with the internal key (and, during a rotation, the
/// previous one, which is still accepted but never used to sign).
#[derive(Clone)]
pub struct CallerKeys {
    current: Key,
    previous: Option<Key>,
    max_age_secs: i64,
}

impl std::fmt::Debug for CallerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerKeys").field("key_id", &self.current.id).finish_non_exhaustive()
    }
}

/// Why a caller header was refused. Messages never include the header's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    /// No caller header: the call did not come through the gateway.
    #[error("no caller context; services accept calls only through the gateway")]
    Missing,
    /// The headers are not in the expected form.
    #[error("malformed caller context")]
    Malformed,
    /// Signed with a key this service does not hold.
    #[error("caller context signed with an unknown key")]
    UnknownKey,
    /// The signature does not match (forged or altered, or sent to another path).
    #[error("caller context signature does not verify")]
    BadSignature,
    /// Older than the allowed age, or issued in the future.
    #[error("caller context expired")]
    Expired,
}

impl CallerKeys {
    /// Keys from configuration; `None` when no secret is configured.
    pub fn from_config(config: &InternalAuthConfig) -> Option<Self> {
        if config.secret.is_empty() {
            return None;
        }
        let previous = if config.previous_secret.is_empty() {
            None
        } else {
            Some(Key::new(&config.previous_key_id, config.previous_secret.expose().as_bytes())?)
        };
        Some(Self {
            current: Key::new(&config.key_id, config.secret.expose().as_bytes())?,
            previous,
            max_age_secs: i64::try_from(config.max_age_secs).unwrap_or(60),
        })
    }

    /// A fresh random key, for `kaigo dev` and tests.
    #[allow(clippy::expect_used)] // start-up only; HMAC accepts keys of any length
    pub fn generate() -> Self {
        let secret: Vec<u8> = (0..4).flat_map(|_| uuid::Uuid::new_v4().into_bytes()).collect();
        Self { current: Key::new("dev", &secret).expect("HMAC takes any key"), previous: None, max_age_secs: 60 }
    }

    fn mac(key: &Key, payload: &str, path: &str) -> HmacSha256 {
        let mut mac = key.mac.clone();
        mac.update(payload.as_bytes());
        mac.update(b"\n");
        mac.update(path.as_bytes());
        mac
    }

    /// Signs `caller` for a call to `path`; returns the two header values.
    pub fn sign(&self, caller: &Caller, path: &str, now_unix: i64) -> (String, String) {
        let signed = SignedCaller { caller: caller.clone(), iat: now_unix, exp: now_unix + self.max_age_secs };
        // Serialising plain data to JSON cannot fail.
        let json = serde_json::to_vec(&signed).unwrap_or_default();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let tag = Self::mac(&self.current, &payload, path).finalize().into_bytes();
        let signature = format!("{}.{}", self.current.id, URL_SAFE_NO_PAD.encode(tag));
        (payload, signature)
    }

    /// Verifies the two header values for a call to `path` and returns the caller.
    pub fn verify(&self, payload: &str, signature: &str, path: &str, now_unix: i64) -> Result<Caller, CallerError> {
        self.verify_signed(payload, signature, path, now_unix).map(|(caller, _, _)| caller)
    }

    /// [`CallerKeys::verify`], with the signed issue and expiry times.
    fn verify_signed(
        &self,
        payload: &str,
        signature: &str,
        path: &str,
        now_unix: i64,
    ) -> Result<(Caller, i64, i64), CallerError> {
        let (key_id, tag) = signature.split_once('.').ok_or(CallerError::Malformed)?;
        let key = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id == key_id)
            .ok_or(CallerError::UnknownKey)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| CallerError::Malformed)?;
        // verify_slice compares in constant time.
        Self::mac(key, payload, path).verify_slice(&tag).map_err(|_| CallerError::BadSignature)?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| CallerError::Malformed)?;
        let signed: SignedCaller = serde_json::from_slice(&json).map_err(|_| CallerError::Malformed)?;
        check_times(signed.iat, signed.exp, now_unix)?;
        Ok((signed.caller, signed.iat, signed.exp))
    }

    /// Verifies the caller headers of an HTTP request.
    pub fn verify_headers(&self, headers: &http::HeaderMap, path: &str, now_unix: i64) -> Result<Caller, CallerError> {
        let (payload, signature) = caller_headers(headers)?;
        self.verify(payload, signature, path, now_unix)
    }

    /// Replaces any caller headers in `headers` with a signed `caller` for `path`.
    pub fn insert_headers(&self, headers: &mut http::HeaderMap, caller: &Caller, path: &str, now_unix: i64) {
        let (payload, signature) = self.sign(caller, path, now_unix);
        // base64url and the key id are visible ASCII, always valid header values.
        if let (Ok(p), Ok(s)) = (http::HeaderValue::try_from(payload), http::HeaderValue::try_from(signature)) {
            headers.insert(CALLER_HEADER, p);
            headers.insert(SIGNATURE_HEADER, s);
        }
    }
}

/// The two caller header values of a request.
fn caller_headers(headers: &http::HeaderMap) -> Result<(&str, &str), CallerError> {
    let payload = headers.get(CALLER_HEADER).ok_or(CallerError::Missing)?;
    let signature = headers.get(SIGNATURE_HEADER).ok_or(CallerError::Missing)?;
    match (payload.to_str(), signature.to_str()) {
        (Ok(payload), Ok(signature)) => Ok((payload, signature)),
        _ => Err(CallerError::Malformed),
    }
}

/// A signed caller is valid from its issue time (with a small allowance for clocks that
/// differ between gateway and service pods) until its expiry.
fn check_times(iat: i64, exp: i64, now_unix: i64) -> Result<(), CallerError> {
    const SKEW_SECS: i64 = 5;
    if now_unix > exp || iat > now_unix + SKEW_SECS {
        return Err(CallerError::Expired);
    }
    Ok(())
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A tower layer for services: verifies the caller headers on every kaigo RPC and puts the
/// [`Caller`] into the request extensions. Health and reflection need no caller. Header pairs
/// seen again are served from a bounded memory of verified ones ([`verified`]).
#[derive(Clone)]
pub struct CallerLayer {
    keys: CallerKeys,
    verified: std::sync::Arc<verified::VerifiedCallers>,
}

impl std::fmt::Debug for CallerLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerLayer").field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl CallerLayer {
    /// Verifies with `keys`.
    pub fn new(keys: CallerKeys) -> Self {
        Self { keys, verified: std::sync::Arc::default() }
    }
}

impl<S> tower::Layer<S> for CallerLayer {
    type Service = RequireCaller<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequireCaller { inner, keys: self.keys.clone(), verified: self.verified.clone() }
    }
}

/// The service made by [`CallerLayer`].
#[derive(Clone)]
pub struct RequireCaller<S> {
    inner: S,
    keys: CallerKeys,
    verified: std::sync::Arc<verified::VerifiedCallers>,
}

impl<S> std::fmt::Debug for RequireCaller<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireCaller").field("keys", &self.keys).finish_non_exhaustive()
    }
}

impl<S, B> tower::Service<http::Request<B>> for RequireCaller<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = futures::future::Either<S::Future, std::future::Ready<Result<Self::Response, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        if !path.starts_with("/kaigo.") {
            return futures::future::Either::Left(self.inner.call(request));
        }
        let verified = caller_headers(request.headers())
            .and_then(|(payload, signature)| self.verified.verify(&self.keys, payload, signature, path, unix_now()));
        match verified {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                futures::future::Either::Left(self.inner.call(request))
            }
            Err(err) => {
                tracing::warn!(rpc = %request.uri().path(), reason = %err, "caller context refused");
                let status: tonic::Status = ApiError::unauthenticated("CALLER_CONTEXT_INVALID", err.to_string()).into();
                futures::future::Either::Right(std::future::ready(Ok(status.into_http())))
            }
        }
    }
}

#[cfg(test)]
mod tests;
