//! The innermost service of each route: sign the caller for the service, then send the call,
//! body untouched, to the service (in-process or one of its replicas) within the deadline,
//! behind the service's circuit breaker, retrying idempotent reads within the retry budget.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use kaigo_platform::ApiError;
use kaigo_platform::auth::{CALLER_HEADER, CallerKeys, SIGNATURE_HEADER, unix_now};
use tokio::time::Instant;
use tonic::body::Body;
use tower::ServiceExt;

use crate::auth::Authenticated;
use crate::observe::unique_per_call;
use crate::traffic::breaker::{Admission, Breaker};
use crate::traffic::deadline;
use crate::traffic::framing::BodyRefusal;
use crate::traffic::retry::RetryBudget;
use crate::upstream::{RemoteUpstream, Upstream};

/// When the call must be answered, set by the limit layer from `grpc-timeout`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(pub Instant);

// Header names the forwarder writes on every call, parsed once (a `&str` name is checked and
// lower-cased on each use).
const CALLER: http::HeaderName = http::HeaderName::from_static(CALLER_HEADER);
const SIGNATURE: http::HeaderName = http::HeaderName::from_static(SIGNATURE_HEADER);
const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
const TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");
const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");

/// Attempts of one idempotent read: the first and at most two retries.
const MAX_ATTEMPTS: usize = 3;

/// What the last step of a call needs to send it to one upstream service (shared by its route).
pub(crate) struct Forwarding {
    pub upstream: Upstream,
    pub keys: CallerKeys,
    pub breaker: Arc<Breaker>,
    pub budget: Arc<RetryBudget>,
    pub timeout: Duration,
    pub read_only: Arc<HashSet<String>>,
}

/// How one attempt ended.
enum Outcome {
    Answered(http::Response<Body>),
    /// The service could not be reached or said UNAVAILABLE: worth another replica.
    Unavailable(ApiError, Option<http::Response<Body>>),
    TimedOut,
}

fn status_response(err: ApiError) -> http::Response<Body> {
    tonic::Status::from(err).into_http()
}

/// The grpc-status of a trailers-only response (an error answered before any message).
fn head_status(response: &http::Response<Body>) -> Option<&[u8]> {
    response.headers().get("grpc-status").map(http::HeaderValue::as_bytes)
}

impl Forwarding {
    /// Signs the caller into `request` and sends it to the service.
    pub(crate) async fn call(&self, mut request: http::Request<Body>) -> http::Response<Body> {
        // A cheap clone (shared bytes) instead of a String copy of the path.
        let path_and_query = request.uri().path_and_query().cloned();
        let path = path_and_query.as_ref().map_or("", http::uri::PathAndQuery::path);
        let deadline = request.extensions().get::<Deadline>().map_or_else(|| Instant::now() + self.timeout, |d| d.0);
        let Some(caller) = request.extensions().get::<Arc<Authenticated>>().cloned() else {
            return status_response(ApiError::internal("caller missing after authentication"));
        };
        let headers = request.headers_mut();
        // Only the gateway speaks for the caller: drop whatever the client sent in its place.
        headers.remove(CALLER);
        headers.remove(SIGNATURE);
        headers.remove(http::header::AUTHORIZATION);
        if let Some((payload, signature)) = caller.signed_headers(&self.keys, path, unix_now()) {
            headers.insert(CALLER, payload);
            headers.insert(SIGNATURE, signature);
        }
        kaigo_platform::telemetry::inject_context(headers);
        // A new value on every call: never added to the upstream connection's HPACK table,
        // where it would evict the caller headers, which repeat within the second.
        for name in [TRACEPARENT, TRACESTATE] {
            if let Some(value) = headers.get_mut(name) {
                unique_per_call(value);
            }
        }

        match &self.upstream {
            Upstream::Local(routes) => {
                let limit = deadline.saturating_duration_since(Instant::now()).min(self.timeout);
                request.headers_mut().insert(GRPC_TIMEOUT, deadline::header(limit));
                match tokio::time::timeout(limit, routes.clone().oneshot(request)).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_) => deadline_exceeded(),
                }
            }
            Upstream::Remote(remote) => self.call_remote(remote, request, path, deadline).await,
        }
    }

    async fn call_remote(
        &self,
        remote: &RemoteUpstream,
        request: http::Request<Body>,
        path: &str,
        deadline: Instant,
    ) -> http::Response<Body> {
        if let Admission::Rejected(retry_after) = self.breaker.admit(Instant::now()) {
            // Fail fast: no connection is attempted while the service is considered down.
            return circuit_open(retry_after);
        }
        self.budget.deposit();
        let retryable = self.read_only.contains(path);
        let (mut parts, body) = request.into_parts();
        let Some(path_and_query) = parts.uri.path_and_query().cloned() else {
            return status_response(ApiError::internal("request without a path"));
        };
        let refusal = parts.extensions.get::<BodyRefusal>().cloned();
        // Only an idempotent read is buffered (so that it can be sent again); others stream.
        let (body, replay) = if retryable {
            match body.collect().await {
                Ok(collected) => (None, Some(collected.to_bytes())),
                Err(status) => return status.into_http(),
            }
        } else {
            (Some(body), None)
        };
        let mut body = body;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let next_body = match (&replay, body.take()) {
                (Some(bytes), _) => Body::new(Full::new(bytes.clone()).map_err(|never: Infallible| match never {})),
                (None, Some(body)) => body,
                (None, None) => return status_response(ApiError::internal("request body already sent")),
            };
            let mut request = http::Request::new(next_body);
            *request.method_mut() = parts.method.clone();
            // Upstreams speak HTTP/2 only; a browser's gRPC-Web call may have come in over HTTP/1.1.
            *request.version_mut() = http::Version::HTTP_2;
            // Only a call that may be sent again keeps a copy of its headers.
            *request.headers_mut() =
                if replay.is_some() { parts.headers.clone() } else { std::mem::take(&mut parts.headers) };
            let outcome = self.attempt(remote, request, &path_and_query, deadline).await;
            if let Some(refused) = refusal.as_ref().and_then(BodyRefusal::get) {
                // The caller's body was refused mid-call: the caller's mistake, not a failure
                // of the service (the limit layer answers with the refusal).
                return refused.status().into_http();
            }
            let success = matches!(outcome, Outcome::Answered(_));
            let again = !success
                && replay.is_some()
                && attempt < MAX_ATTEMPTS
                && matches!(outcome, Outcome::Unavailable(..))
                && deadline > Instant::now()
                && self.budget.withdraw(Instant::now());
            if again {
                tracing::debug!(attempt, "retrying an idempotent read on another replica");
                continue;
            }
            self.breaker.record(success, Instant::now());
            return match outcome {
                Outcome::Answered(response) => response,
                Outcome::Unavailable(_, Some(response)) => response,
                Outcome::Unavailable(err, None) => status_response(err),
                Outcome::TimedOut => deadline_exceeded(),
            };
        }
    }

    async fn attempt(
        &self,
        remote: &RemoteUpstream,
        mut request: http::Request<Body>,
        path_and_query: &http::uri::PathAndQuery,
        deadline: Instant,
    ) -> Outcome {
        let Some(picked) = remote.pick_endpoint() else {
            return Outcome::Unavailable(ApiError::unavailable("no address resolved for the service"), None);
        };
        let mut uri = http::uri::Parts::default();
        uri.scheme = Some(http::uri::Scheme::HTTP);
        uri.authority = Some(picked.authority);
        uri.path_and_query = Some(path_and_query.clone());
        match http::Uri::from_parts(uri) {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => return Outcome::Unavailable(ApiError::internal("upstream uri"), None),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Outcome::TimedOut;
        }
        let mut value = deadline::header(left);
        unique_per_call(&mut value);
        request.headers_mut().insert(GRPC_TIMEOUT, value);
        match tokio::time::timeout(left.min(self.timeout), picked.connections.send(request)).await {
            Err(_) => Outcome::TimedOut,
            Ok(Ok(response)) => {
                if head_status(&response) == Some(b"14") {
                    Outcome::Unavailable(ApiError::unavailable("service answered UNAVAILABLE"), Some(response))
                } else {
                    Outcome::Answered(response)
                }
            }
            Ok(Err(err)) => {
                if err.is_connect() {
                    remote.eject(picked.addr);
                }
                Outcome::Unavailable(ApiError::unavailable(err), None)
            }
        }
    }
}

fn deadline_exceeded() -> http::Response<Body> {
    tonic::Status::deadline_exceeded("the call's deadline passed before the service answered").into_http()
}

fn circuit_open(retry_after: Duration) -> http::Response<Body> {
    use tonic_types::{ErrorDetails, StatusExt};
    let mut details = ErrorDetails::with_error_info(
        "UPSTREAM_CIRCUIT_OPEN",
        kaigo_platform::errors::ERROR_DOMAIN,
        std::collections::HashMap::new(),
    );
    details.set_retry_info(Some(retry_after));
    tonic::Status::with_error_details(
        tonic::Code::Unavailable,
        "the service is failing; calls are refused for a moment",
        details,
    )
    .into_http()
}
