//! The steps every routed call passes: authenticate (token, client certificate, consent
//! header → `Caller`), then the caller's role's limits (rate, concurrency, message size,
//! deadline), then [`Forwarding`](crate::forward::Forwarding).
//!
//! They are plain async steps of the call's one future, not a stack of boxed tower services:
//! a stack cloned its boxed services (three allocations) and boxed each layer's future twice
//! (`BoxCloneSyncService` boxes the boxed future again) on every call.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kaigo_platform::ApiError;
use kaigo_platform::auth::Role;
use kaigo_platform::errors::Violations;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::auth::{Authenticated, CertificateIdentity, TokenError, TokenVerifier};
use crate::config::GatewayConfig;
use crate::forward::{Deadline, Forwarding};
use crate::observe::CallInfo;
use crate::traffic::deadline;
use crate::traffic::framing::{BodyRefusal, CheckedMessages, too_large};
use crate::traffic::rate::RateLimiter;

type PeerCerts = Arc<Vec<tonic::transport::CertificateDer<'static>>>;

/// Consent references a client may add to its token's (`x-kaigo-consent: ref1, ref2`).
pub const CONSENT_HEADER: &str = "x-kaigo-consent";
const MAX_CONSENTS: usize = 16;
const MAX_CONSENT_LEN: usize = 128;

fn status_response(err: ApiError) -> http::Response<Body> {
    tonic::Status::from(err).into_http()
}

/// The token of the one `authorization: Bearer …` header. Two credentials are refused rather
/// than one of them picked; the scheme name is case-insensitive (RFC 7235 §2.1).
fn bearer(headers: &http::HeaderMap) -> Result<&str, TokenError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values.next().ok_or(TokenError::Missing)?;
    if values.next().is_some() {
        return Err(TokenError::Ambiguous);
    }
    let value = value.to_str().map_err(|_| TokenError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(TokenError::Missing)?;
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() { Ok(token) } else { Err(TokenError::Missing) }
}

/// The consent references of the `x-kaigo-consent` headers (comma-separated, repeatable).
pub(crate) fn consent_refs(headers: &http::HeaderMap) -> Result<Vec<String>, ApiError> {
    let mut refs = Vec::new();
    let mut violations = Violations::new();
    for value in headers.get_all(CONSENT_HEADER) {
        let Ok(text) = value.to_str() else {
            violations.add(CONSENT_HEADER, "must be visible ASCII");
            continue;
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let valid = part.len() <= MAX_CONSENT_LEN
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/".contains(&b));
            if valid {
                refs.push(part.to_owned());
            } else {
                violations.add(CONSENT_HEADER, "a consent reference is 1–128 of A-Z a-z 0-9 - _ . : /");
            }
        }
    }
    if refs.len() > MAX_CONSENTS {
        violations.add(CONSENT_HEADER, format!("at most {MAX_CONSENTS} consent references"));
    }
    violations.into_result()?;
    Ok(refs)
}

/// Authenticates calls: Bearer token, and with mutual TLS the client certificate's organisation.
pub(crate) struct Auth {
    pub verifier: Arc<TokenVerifier>,
    pub mutual_tls: bool,
}

impl Auth {
    async fn caller(
        &self,
        headers: &http::HeaderMap,
        certs: Option<PeerCerts>,
    ) -> Result<Arc<Authenticated>, ApiError> {
        let unauthenticated = |err: TokenError| ApiError::unauthenticated("TOKEN_INVALID", err.to_string());
        let token = bearer(headers).map_err(unauthenticated)?;
        let mut authenticated = self.verifier.verify(token).await.map_err(unauthenticated)?;
        if self.mutual_tls {
            let certs = certs.ok_or_else(|| {
                ApiError::unauthenticated("CLIENT_CERTIFICATE_MISSING", "a client certificate is required")
            })?;
            let leaf = certs.first().ok_or_else(|| {
                ApiError::unauthenticated("CLIENT_CERTIFICATE_MISSING", "a client certificate is required")
            })?;
            let certificate =
                |err: TokenError| ApiError::unauthenticated("CLIENT_CERTIFICATE_MISMATCH", err.to_string());
            CertificateIdentity::from_der(leaf.as_ref())
                .and_then(|id| id.check(authenticated.caller()))
                .map_err(certificate)?;
        }
        let extra = consent_refs(headers)?;
        if !extra.is_empty() {
            let mut with_consents = authenticated.caller().clone();
            for consent in extra {
                if !with_consents.consents.contains(&consent) {
                    with_consents.consents.push(consent);
                }
            }
            authenticated = Arc::new(Authenticated::new(with_consents));
        }
        Ok(authenticated)
    }

    /// Puts the caller (`Arc<Authenticated>`) into `request`'s extensions, or answers why not.
    pub(crate) async fn authenticate(&self, request: &mut http::Request<Body>) -> Result<(), http::Response<Body>> {
        let certs = request.extensions().get::<TlsConnectInfo<TcpConnectInfo>>().and_then(TlsConnectInfo::peer_certs);
        let caller = match self.caller(request.headers(), certs).await {
            Ok(caller) => caller,
            Err(err) => {
                tracing::info!(reason = err.reason(), "call refused at authentication");
                return Err(status_response(err));
            }
        };
        if let Some(info) = request.extensions().get::<Arc<CallInfo>>() {
            info.set_role(caller.caller().role);
        }
        request.extensions_mut().insert(caller);
        Ok(())
    }
}

/// Per-role traffic limits, shared by every route.
pub(crate) struct Limits {
    config: GatewayConfig,
    rates: RateLimiter,
    /// In-flight calls per role; a full gate refuses at once (no queue).
    gates: Vec<(Role, Arc<Semaphore>)>,
    /// Paths (`/pkg.Service/Method`) of the methods taking a stream of request messages;
    /// every other method takes exactly one.
    streaming_requests: HashSet<String>,
}

impl Limits {
    pub(crate) fn new(config: &GatewayConfig) -> Self {
        let gates = Role::ALL
            .into_iter()
            .map(|role| (role, Arc::new(Semaphore::new(config.limits_for(role).max_concurrency))))
            .collect();
        Self { config: config.clone(), rates: RateLimiter::new(), gates, streaming_requests: streaming_requests() }
    }

    fn gate(&self, role: Role) -> Option<Arc<Semaphore>> {
        self.gates.iter().find(|(r, _)| *r == role).map(|(_, s)| s.clone())
    }
}

/// The paths of the kaigo methods with a client-streaming request, from the compiled contracts.
fn streaming_requests() -> HashSet<String> {
    use prost::Message;
    let Ok(set) = prost_types::FileDescriptorSet::decode(kaigo_proto::FILE_DESCRIPTOR_SET) else {
        // The set is compiled into the binary by kaigo-proto's build; a test covers its decoding.
        return HashSet::new();
    };
    let mut paths = HashSet::new();
    for file in &set.file {
        for service in &file.service {
            for method in service.method.iter().filter(|m| m.client_streaming()) {
                paths.insert(format!("/{}.{}/{}", file.package(), service.name(), method.name()));
            }
        }
    }
    paths
}

fn overloaded() -> http::Response<Body> {
    status_response(ApiError::unavailable("the gateway is at its concurrency limit for this role"))
}

impl Limits {
    /// Applies the caller's role's limits to `request`, then has `forward` send it.
    pub(crate) async fn apply(&self, request: http::Request<Body>, forward: &Forwarding) -> http::Response<Body> {
        let limits = self;
        let Some(authenticated) = request.extensions().get::<Arc<Authenticated>>().cloned() else {
            return status_response(ApiError::internal("limits before authentication"));
        };
        let caller = authenticated.caller();
        let role_limits = limits.config.limits_for(caller.role);
        if let Err(wait) = limits.rates.admit(authenticated.rate_key(), role_limits.rate_per_sec, role_limits.burst) {
            let wait = wait.max(Duration::from_millis(1));
            return status_response(ApiError::resource_exhausted(
                "RATE_LIMITED",
                format!("rate limit of role {} reached; retry later", caller.role.as_str()),
                wait,
            ));
        }
        let permit: OwnedSemaphorePermit = match limits.gate(caller.role).map(Semaphore::try_acquire_owned) {
            Some(Ok(permit)) => permit,
            _ => return overloaded(),
        };

        let (mut parts, body) = request.into_parts();
        if let Some(length) = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok())
            && let Ok(length) = length.parse::<u64>()
            && length > role_limits.max_message_bytes as u64 + 5
        {
            return too_large(length.saturating_sub(5), role_limits.max_message_bytes as u64).into_http();
        }
        // The length of what the client sent, not of what is forwarded: a gRPC-Web text
        // body is translated (base64 → binary), and an upstream connection resets a stream
        // whose data disagrees with its content-length.
        parts.headers.remove(http::header::CONTENT_LENGTH);
        let cap = Duration::from_millis(role_limits.max_timeout_ms);
        let requested = parts.headers.get("grpc-timeout").and_then(|v| v.to_str().ok());
        let timeout = deadline::effective(requested, cap);
        // The forwarder writes `grpc-timeout` from what is left of it when the call goes out.
        parts.extensions.insert(Deadline(Instant::now() + timeout));
        let refusal = Arc::new(OnceLock::new());
        parts.extensions.insert(BodyRefusal(refusal.clone()));
        let unary = !limits.streaming_requests.contains(parts.uri.path());
        let body = CheckedMessages::new(body, unary, role_limits.max_message_bytes, refusal.clone());
        let response = forward.call(http::Request::from_parts(parts, Body::new(body))).await;
        // A refused body aborts the upstream call; the caller hears why, not how it aborted.
        if let Some(refusal) = refusal.get() {
            return refusal.status().into_http();
        }
        // The permit is held until the response has been sent, streams included.
        response.map(|body| Body::new(crate::observe::Guarded::new(body, permit)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_name_the_client_streaming_methods() {
        let paths = streaming_requests();
        assert!(paths.contains("/kaigo.eligibility.v1.EligibilityService/ImportInsuredPersons"), "{paths:?}");
        assert!(paths.contains("/kaigo.documents.v1.DocumentService/UploadAttachment"), "{paths:?}");
        assert!(!paths.contains("/kaigo.eligibility.v1.EligibilityService/CheckEligibility"));
        assert!(!paths.contains("/kaigo.certification.v1.CertificationService/WatchApplication"));
    }

    #[test]
    fn one_bearer_token_whatever_the_case_of_its_scheme() {
        let headers = |values: &[&str]| {
            let mut map = http::HeaderMap::new();
            for value in values {
                map.append(http::header::AUTHORIZATION, value.parse().unwrap());
            }
            map
        };
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            assert_eq!(bearer(&headers(&[&format!("{scheme} abc.def")])).unwrap(), "abc.def");
        }
        assert!(matches!(bearer(&headers(&["Bearer a", "Bearer b"])), Err(TokenError::Ambiguous)));
        for refused in ["Basic abc", "Bearer ", "Bearer", "abc", "Bearerabc"] {
            assert!(matches!(bearer(&headers(&[refused])), Err(TokenError::Missing)), "{refused}");
        }
        assert!(matches!(bearer(&headers(&[])), Err(TokenError::Missing)));
    }
}
