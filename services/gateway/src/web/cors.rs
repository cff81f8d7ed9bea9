//! Cross-origin gRPC-Web: screens served from another origin (a static host or CDN) call the
//! gateway only when that origin is listed in `gateway.web.allowed_origins`.
//!
//! Tokens travel in the `authorization` header, never in cookies, so no credentials mode is
//! allowed: a listed origin can do what its user's token allows and nothing more, and an
//! unlisted one gets no CORS headers (the browser then withholds the answer).

use http::{HeaderMap, HeaderValue, Method, header};
use tonic::body::Body;

/// Request headers a gRPC-Web client sends (Connect-ES, grpc-web) plus kaigo's own.
const ALLOWED_HEADERS: [&str; 9] = [
    "authorization",
    "content-type",
    "x-grpc-web",
    "x-user-agent",
    "grpc-timeout",
    "x-kaigo-consent",
    "x-request-id",
    "connect-protocol-version",
    "connect-timeout-ms",
];
/// Response headers a client must be able to read: the status may arrive in headers
/// (trailers-only answers), and the request id is what support asks for.
const EXPOSED_HEADERS: &str = "grpc-status, grpc-message, grpc-status-details-bin, x-request-id";
/// How long a browser may cache a preflight answer, seconds.
const MAX_AGE_SECS: &str = "600";

/// The origins allowed to call from another origin.
#[derive(Debug, Clone, Default)]
pub(super) struct Cors {
    origins: Vec<String>,
}

/// What to do with a request, as far as CORS goes.
pub(super) enum Verdict {
    /// Not cross-origin, or not allowed: serve it as is (no CORS headers).
    Plain,
    /// A preflight: answer it here.
    Preflight(http::Response<Body>),
    /// An allowed cross-origin call: serve it, then add these headers.
    Allowed(HeaderMap),
}

impl Cors {
    pub(super) fn new(origins: &[String]) -> Self {
        Self { origins: origins.iter().map(|o| o.trim_end_matches('/').to_owned()).collect() }
    }

    pub(super) fn check(&self, request: &http::Request<Body>) -> Verdict {
        let Some(origin) = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
            return Verdict::Plain;
        };
        let allowed = self.origins.iter().any(|o| o == origin);
        let preflight = request.method() == Method::OPTIONS
            && request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            return Verdict::Preflight(if allowed { preflight_answer(origin, request.headers()) } else { refused() });
        }
        if !allowed {
            return Verdict::Plain;
        }
        let mut headers = vary_origin(origin);
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
        Verdict::Allowed(headers)
    }
}

fn vary_origin(origin: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("origin"));
    headers
}

/// 204 allowing POST (gRPC-Web) and GET with the headers asked for, when all are known ones.
fn preflight_answer(origin: &str, asked: &HeaderMap) -> http::Response<Body> {
    let method_ok = asked
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .is_some_and(|m| m.as_bytes() == b"POST" || m.as_bytes() == b"GET");
    let requested: Vec<String> = asked
        .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    if !method_ok || !requested.iter().all(|h| ALLOWED_HEADERS.contains(&h.as_str())) {
        return refused();
    }
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.extend(vary_origin(origin));
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, GET"));
    if let Ok(allowed) = HeaderValue::from_str(&ALLOWED_HEADERS.join(", ")) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
    }
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE_SECS));
    response
}

/// A refused preflight: no CORS headers, so the browser does not send the call.
fn refused() -> http::Response<Body> {
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = http::StatusCode::FORBIDDEN;
    response
}
