//! The gateway service: observe, route by path, then the steps of the service's route
//! (authenticate → limits → forward).

use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::collections::HashSet;

use futures::future::BoxFuture;
use kaigo_platform::auth::CallerKeys;
use kaigo_platform::server::Health;
use tonic::body::Body;
use tonic::service::Routes;
use tower::ServiceExt;

use crate::auth::TokenVerifier;
use crate::config::{GatewayConfig, SERVICES};
use crate::forward::Forwarding;
use crate::layers::{Auth, Limits};
use crate::observe::{CallInfo, Metrics, Observed, REQUEST_ID_HEADER, Record, request_id};
use crate::traffic::breaker::Breaker;
use crate::traffic::drain;
use crate::traffic::framing::detailed;
use crate::traffic::retry::RetryBudget;
use crate::upstream::Upstream;

struct Route {
    /// The service's short name (`eligibility` …).
    short: &'static str,
    /// The last step: sign the caller and send the call to the service.
    forward: Forwarding,
    breaker: Arc<Breaker>,
    upstream: Upstream,
}

struct Inner {
    routes: HashMap<&'static str, Route>,
    /// The first steps of every route: authentication, then the role's limits.
    auth: Auth,
    limits: Limits,
    /// The gateway's own health and reflection.
    local: Routes,
    verifier: Arc<TokenVerifier>,
    metrics: Metrics,
}

/// The gateway as a tower service over HTTP/2 gRPC requests.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl Gateway {
    /// Routes each service name in `upstreams` (keyed by short name, e.g. `eligibility`);
    /// `local` serves the gateway's own health and reflection. `config` gives the traffic limits
    /// per role, timeouts, retries and breakers, and whether clients present certificates.
    pub fn new(
        upstreams: HashMap<String, Upstream>,
        local: Routes,
        verifier: TokenVerifier,
        keys: CallerKeys,
        config: &GatewayConfig,
    ) -> Result<Self, String> {
        let verifier = Arc::new(verifier);
        let limits = Limits::new(config);
        let read_only: Arc<HashSet<String>> = Arc::new(config.read_only_methods.iter().cloned().collect());
        let auth = Auth { verifier: verifier.clone(), mutual_tls: !config.tls.client_ca_file.is_empty() };
        let mut routes = HashMap::new();
        for (short, upstream) in upstreams {
            let (short, full) = SERVICES
                .iter()
                .find(|(s, _)| *s == short)
                .ok_or_else(|| format!("gateway.upstreams.{short}: not a kaigo service"))?;
            let breaker =
                Arc::new(Breaker::new(config.breaker_failures, Duration::from_millis(config.breaker_open_ms)));
            let forward = Forwarding {
                upstream: upstream.clone(),
                keys: keys.clone(),
                breaker: breaker.clone(),
                budget: Arc::new(RetryBudget::new(config.retry_budget_ratio, config.retry_budget_min_per_sec)),
                timeout: config.upstream_timeout(short),
                read_only: read_only.clone(),
            };
            routes.insert(*full, Route { short, forward, breaker, upstream });
        }
        Ok(Self { inner: Arc::new(Inner { routes, auth, limits, local, verifier, metrics: Metrics::new() }) })
    }

    /// The token verifier (to re-read the JWKS on demand).
    pub fn verifier(&self) -> &TokenVerifier {
        &self.inner.verifier
    }

    /// True while the circuit breaker of service `short` (`eligibility` …) refuses calls.
    pub fn circuit_open(&self, short: &str) -> bool {
        self.inner.routes.values().any(|r| r.short == short && r.breaker.is_open(tokio::time::Instant::now()))
    }

    /// Keeps remote upstreams resolved and mirrors their health into the gateway's health
    /// service, every `period`, until the process ends.
    pub fn spawn_refresh(&self, health: Health, period: Duration) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            loop {
                for (name, route) in &inner.routes {
                    let serving = match &route.upstream {
                        Upstream::Local(_) => true,
                        Upstream::Remote(remote) => {
                            if let Err(err) = remote.resolve().await {
                                tracing::warn!(service = name, error = %err, "upstream name did not resolve");
                            }
                            upstream_serving(remote, name).await
                        }
                    };
                    health.set_service(name, serving).await;
                }
                tokio::time::sleep(period).await;
            }
        });
    }
}

/// Asks one replica whether `service` is SERVING.
async fn upstream_serving(remote: &crate::upstream::RemoteUpstream, service: &str) -> bool {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let Some(addr) = remote.pick() else { return false };
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://{addr}")) else { return false };
    let endpoint = endpoint.connect_timeout(Duration::from_secs(1)).timeout(Duration::from_secs(2));
    let Ok(channel) = endpoint.connect().await else {
        remote.eject(addr);
        return false;
    };
    let response = HealthClient::new(channel).check(HealthCheckRequest { service: service.to_owned() }).await;
    matches!(response, Ok(r) if r.get_ref().status == 1)
}

/// The most header bytes one call may carry (names, values and HPACK's 32 bytes per field):
/// tokens are a few KB. The HTTP/2 server decodes much larger header blocks (see
/// `kaigo_platform::server`), so that an oversized call is answered here, alone, instead of
/// the connection it shares being closed.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The size of `headers` as HTTP/2 counts it (RFC 7540 §6.5.2).
fn header_bytes(headers: &http::HeaderMap) -> usize {
    headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 32).sum()
}

impl Inner {
    async fn handle(self: Arc<Self>, mut request: http::Request<Body>) -> http::Response<Body> {
        let size = header_bytes(request.headers());
        if size > MAX_HEADER_BYTES {
            let message = format!("request headers of {size} bytes exceed the limit of {MAX_HEADER_BYTES} bytes");
            return detailed(tonic::Code::ResourceExhausted, "HEADERS_TOO_LARGE", &message).into_http();
        }
        let path = request.uri().path();
        let service = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        let Some(route) = self.routes.get(service) else {
            if service.starts_with("grpc.") {
                // Health and reflection answer here, for every service behind the gateway.
                return match self.local.clone().oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
            }
            return tonic::Status::unimplemented("no such service behind this gateway").into_http();
        };
        if let Err(refused) = self.auth.authenticate(&mut request).await {
            return refused;
        }
        self.limits.apply(request, &route.forward).await
    }
}

impl tower::Service<http::Request<Body>> for Gateway {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        if request.uri().path().starts_with(HEALTH_PATH_PREFIX) {
            // Probes (kubelet, load balancers) poll this every few seconds: answered at once,
            // without the span, request id, metrics and access-log line of a call (README
            // "Gateway"), so they neither flood logs and traces nor queue behind calls.
            return Box::pin(async move {
                match inner.local.clone().oneshot(request).await {
                    Ok(response) => Ok(response),
                    Err(never) => match never {},
                }
            });
        }
        let started = std::time::Instant::now();
        let (service, method) = split_path(request.uri().path());
        let request_id = request_id(request.headers());
        request.headers_mut().insert(REQUEST_ID_HEADER, request_id.clone());
        // Plain &str fields: recorded as they are, where `%` would format each into a String.
        let span = tracing::info_span!(
            "grpc.gateway",
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service.as_ref(),
            rpc.method = method.as_ref(),
            rpc.grpc.status_code = tracing::field::Empty,
            kaigo.role = tracing::field::Empty,
            request_id = request_id.to_str().unwrap_or_default(),
        );
        kaigo_platform::telemetry::set_parent_from(request.headers(), &span);
        let info = Arc::new(CallInfo::default());
        request.extensions_mut().insert(info.clone());
        // An HTTP/1.1 (gRPC-Web) body is tracked, so that an early answer reads what is left of
        // it and the connection goes on serving the caller's next call (traffic::drain).
        let (request, rest) = if request.version() < http::Version::HTTP_2 {
            let (parts, body) = request.into_parts();
            let (body, rest) = drain::track(body);
            (http::Request::from_parts(parts, body), Some(rest))
        } else {
            (request, None)
        };
        let metrics = inner.metrics.clone();
        let record_span = span.clone();
        Box::pin(tracing::Instrument::instrument(
            async move {
                let mut response = inner.handle(request).await;
                if let Some(rest) = rest {
                    response = rest.settle(response).await;
                }
                response.headers_mut().insert(REQUEST_ID_HEADER, request_id.clone());
                let status = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let record = Record { metrics, span: record_span, info, service, method, request_id, started, status };
                Ok(response.map(|body| Body::new(Observed::new(body, record))))
            },
            span,
        ))
    }
}

/// The path prefix of the gRPC health service (`Check`, `Watch`).
const HEALTH_PATH_PREFIX: &str = "/grpc.health.v1.Health/";

/// `/pkg.Service/Method` → (`pkg.Service`, `Method`); paths are not personal data. A method of
/// the kaigo contracts is named by its static name (no allocation per call); anything else is
/// cleaned and bounded, as it reaches span fields and metric labels.
fn split_path(path: &str) -> (Cow<'static, str>, Cow<'static, str>) {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default();
    let method = parts.next().unwrap_or_default();
    if let Some((_, full)) = SERVICES.iter().find(|(_, full)| *full == service) {
        let known = kaigo_platform::telemetry::rpc::method_label(full, path);
        if known != kaigo_platform::telemetry::rpc::OTHER_METHOD {
            return (Cow::Borrowed(full), Cow::Borrowed(known));
        }
    }
    // Bound what reaches span fields and metric labels: gRPC names are short identifiers.
    let clean = |s: &str| -> Cow<'static, str> {
        Cow::Owned(s.chars().take(100).filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_').collect())
    };
    (clean(service), clean(method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_methods_are_named_without_allocating_and_others_are_cleaned() {
        let (service, method) = split_path("/kaigo.eligibility.v1.EligibilityService/CheckEligibility");
        assert!(matches!(service, Cow::Borrowed("kaigo.eligibility.v1.EligibilityService")));
        assert!(matches!(method, Cow::Borrowed("CheckEligibility")));
        let (service, method) = split_path("/kaigo.eligibility.v1.EligibilityService/No Such-Method");
        assert_eq!((service.as_ref(), method.as_ref()), ("kaigo.eligibility.v1.EligibilityService", "NoSuchMethod"));
        let (service, method) = split_path("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
        assert_eq!(
            (service.as_ref(), method.as_ref()),
            ("grpc.reflection.v1.ServerReflection", "ServerReflectionInfo")
        );
        let long = format!("/{}/m", "s".repeat(500));
        assert_eq!(split_path(&long).0.len(), 100);
    }
}
