//! The gateway service: authenticate, attach the caller, route by path, forward.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use kaigo_platform::ApiError;
use kaigo_platform::auth::{CALLER_HEADER, CallerKeys, SIGNATURE_HEADER, unix_now};
use kaigo_platform::server::Health;
use tonic::body::Body;
use tonic::service::Routes;
use tower::ServiceExt;

use crate::token::{TokenError, TokenVerifier};
use crate::upstream::Upstream;

/// The services the gateway routes: short name and gRPC service name.
pub const SERVICES: [(&str, &str); 5] = [
    ("eligibility", "kaigo.eligibility.v1.EligibilityService"),
    ("certification", "kaigo.certification.v1.CertificationService"),
    ("documents", "kaigo.documents.v1.DocumentService"),
    ("careplan", "kaigo.careplan.v1.CarePlanService"),
    ("subsidies", "kaigo.subsidies.v1.SubsidyService"),
];

struct Inner {
    upstreams: HashMap<&'static str, Upstream>,
    /// The gateway's own health and reflection.
    local: Routes,
    verifier: TokenVerifier,
    keys: CallerKeys,
}

/// The gateway as a tower service over HTTP/2 gRPC requests.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl Gateway {
    /// Routes each service name in `upstreams` (keyed by short name, e.g. `eligibility`);
    /// `local` serves the gateway's own health and reflection.
    pub fn new(
        upstreams: HashMap<String, Upstream>,
        local: Routes,
        verifier: TokenVerifier,
        keys: CallerKeys,
    ) -> Result<Self, String> {
        let mut by_name = HashMap::new();
        for (short, upstream) in upstreams {
            let (_, full) = SERVICES
                .iter()
                .find(|(s, _)| *s == short)
                .ok_or_else(|| format!("gateway.upstreams.{short}: not a kaigo service"))?;
            by_name.insert(*full, upstream);
        }
        Ok(Self { inner: Arc::new(Inner { upstreams: by_name, local, verifier, keys }) })
    }

    /// Keeps remote upstreams resolved and mirrors their health into the gateway's health
    /// service, every `period`, until the process ends.
    pub fn spawn_refresh(&self, health: Health, period: Duration) {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            loop {
                for (name, upstream) in &inner.upstreams {
                    let serving = match upstream {
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

fn status_response(err: ApiError) -> http::Response<Body> {
    tonic::Status::from(err).into_http()
}

fn bearer(headers: &http::HeaderMap) -> Result<&str, TokenError> {
    let value = headers.get(http::header::AUTHORIZATION).ok_or(TokenError::Missing)?;
    let value = value.to_str().map_err(|_| TokenError::Missing)?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(TokenError::Missing)
}

impl Inner {
    async fn handle(self: Arc<Self>, mut request: http::Request<Body>) -> http::Response<Body> {
        let path = request.uri().path().to_owned();
        let service = path.trim_start_matches('/').split('/').next().unwrap_or_default();
        let Some(upstream) = self.upstreams.get(service) else {
            if service.starts_with("grpc.") {
                // Health and reflection answer here, for every service behind the gateway.
                return match self.local.clone().oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
            }
            return tonic::Status::unimplemented("no such service behind this gateway").into_http();
        };

        let caller = match bearer(request.headers()).and_then(|token| self.verifier.verify(token)) {
            Ok(caller) => caller,
            Err(err) => {
                tracing::info!(rpc = %path, reason = %err, "call refused: unauthenticated");
                return status_response(ApiError::unauthenticated("TOKEN_INVALID", err.to_string()));
            }
        };

        let headers = request.headers_mut();
        // Only the gateway speaks for the caller: drop whatever the client sent in its place.
        headers.remove(CALLER_HEADER);
        headers.remove(SIGNATURE_HEADER);
        headers.remove(http::header::AUTHORIZATION);
        self.keys.insert_headers(headers, &caller, &path, unix_now());
        kaigo_platform::telemetry::inject_context(headers);

        match upstream {
            Upstream::Local(routes) => match routes.clone().oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            Upstream::Remote(remote) => {
                let Some(addr) = remote.pick() else {
                    return status_response(ApiError::unavailable(format!("no address for {service}")));
                };
                let uri = format!("http://{addr}{path}");
                match uri.parse() {
                    Ok(uri) => *request.uri_mut() = uri,
                    Err(_) => return status_response(ApiError::internal("upstream uri")),
                }
                match remote.client().request(request).await {
                    Ok(response) => response.map(Body::new),
                    Err(err) => {
                        if err.is_connect() {
                            remote.eject(addr);
                        }
                        status_response(ApiError::unavailable(err))
                    }
                }
            }
        }
    }
}

impl tower::Service<http::Request<Body>> for Gateway {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let span = tracing::info_span!("grpc.gateway", rpc = %request.uri().path());
        kaigo_platform::telemetry::set_parent_from(request.headers(), &span);
        Box::pin(tracing::Instrument::instrument(async move { Ok(inner.handle(request).await) }, span))
    }
}
