//! What a browser reaches at the gateway's address: the web screens (介護WEBサービス).
//!
//! The screens call the same services as vendor systems, through the same door: gRPC-Web
//! requests are translated to gRPC in front of the [`Gateway`], so tokens, caller context,
//! limits and access rules are the vendors' ones; there is no second API. Beside them the
//! gateway answers the sign-in endpoints under `/auth/` and, when `gateway.web.root` is set,
//! serves the built screens with a strict content security policy.

mod cors;
mod files;
mod sign_in;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use tonic::body::Body;
use tonic_web::GrpcWebService;
use tower::{Layer, ServiceExt};

pub use sign_in::{DevIdentity, DevSignIn};

use crate::config::WebConfig;
use crate::router::Gateway;

/// The gateway as browsers and vendors see it: gRPC, gRPC-Web, sign-in and the screens.
#[derive(Clone)]
pub struct Front {
    /// Vendors' native gRPC goes straight to the gateway (the hot path gains nothing).
    gateway: Gateway,
    /// Browsers' gRPC-Web is translated to gRPC in front of it.
    grpc_web: GrpcWebService<Gateway>,
    site: Arc<Site>,
    cors: Arc<cors::Cors>,
}

struct Site {
    files: Option<files::Files>,
    sign_in: sign_in::SignIn,
    headers: http::HeaderMap,
}

impl Front {
    /// Serves `gateway` for gRPC and gRPC-Web callers, the sign-in endpoints (with demo roles
    /// when `dev` is given: `kaigo dev` only) and the screens of `web.root`.
    pub fn new(gateway: Gateway, web: &WebConfig, dev: Option<DevSignIn>) -> Result<Self, String> {
        let files = (!web.root.is_empty()).then(|| files::Files::new(&web.root)).transpose()?;
        let sign_in = sign_in::SignIn::new(&web.oidc, dev);
        let headers = security_headers(&web.oidc.token_endpoint)?;
        let grpc_web = tonic_web::GrpcWebLayer::new().layer(gateway.clone());
        let cors = Arc::new(cors::Cors::new(&web.allowed_origins));
        Ok(Self { gateway, grpc_web, site: Arc::new(Site { files, sign_in, headers }), cors })
    }
}

/// What a request is, by its content type, whatever the path (the gateway answers every path).
enum Kind {
    Grpc,
    GrpcWeb,
    Other,
}

fn kind(request: &http::Request<Body>) -> Kind {
    let content_type = request.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    match content_type {
        Some(t) if t.starts_with("application/grpc-web") => Kind::GrpcWeb,
        Some(t) if t.starts_with("application/grpc") => Kind::Grpc,
        _ => Kind::Other,
    }
}

impl tower::Service<http::Request<Body>> for Front {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let cross_origin = match self.cors.check(&request) {
            cors::Verdict::Preflight(answer) => return Box::pin(async move { Ok(answer) }),
            cors::Verdict::Allowed(headers) => Some(headers),
            cors::Verdict::Plain => None,
        };
        match kind(&request) {
            Kind::Grpc => return Box::pin(with_cors(self.gateway.clone().oneshot(request), cross_origin)),
            Kind::GrpcWeb => return Box::pin(with_cors(self.grpc_web.clone().oneshot(request), cross_origin)),
            Kind::Other => {}
        }
        let site = self.site.clone();
        // CORS on the site too: /auth/config for screens hosted elsewhere.
        let answer = async move {
            let mut response = site.answer(request).await;
            response.headers_mut().extend(site.headers.clone());
            Ok(response)
        };
        Box::pin(with_cors(answer, cross_origin))
    }
}

/// `answer`, with the CORS headers of an allowed cross-origin call.
async fn with_cors(
    answer: impl Future<Output = Result<http::Response<Body>, Infallible>>,
    cross_origin: Option<http::HeaderMap>,
) -> Result<http::Response<Body>, Infallible> {
    let mut response = answer.await?;
    if let Some(headers) = cross_origin {
        response.headers_mut().extend(headers);
    }
    Ok(response)
}

impl Site {
    async fn answer(&self, request: http::Request<Body>) -> http::Response<Body> {
        let path = request.uri().path();
        if path.starts_with("/auth/") && path != "/auth/callback" {
            return self.sign_in.answer(request).await;
        }
        let readable = request.method() == http::Method::GET || request.method() == http::Method::HEAD;
        match &self.files {
            Some(files) if readable => files.answer(request).await,
            Some(_) => plain(http::StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only"),
            None => plain(http::StatusCode::NOT_FOUND, "no web screens here (gateway.web.root is not set)"),
        }
    }
}

/// Headers of every non-gRPC answer: the screens load only their own files, talk only to
/// this origin (and the identity provider's token endpoint), and are never framed.
fn security_headers(token_endpoint: &str) -> Result<http::HeaderMap, String> {
    let provider = origin_of(token_endpoint);
    let policy = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         font-src 'self'; connect-src 'self'{}{provider}; form-action 'self'; frame-ancestors 'none'; \
         base-uri 'none'; object-src 'none'",
        if provider.is_empty() { "" } else { " " },
    );
    let mut headers = http::HeaderMap::new();
    let mut put = |name: &'static str, value: &str| -> Result<(), String> {
        let value =
            http::HeaderValue::from_str(value).map_err(|_| format!("gateway.web: bad header value for {name}"))?;
        headers.insert(name, value);
        Ok(())
    };
    put("content-security-policy", &policy)?;
    put("x-content-type-options", "nosniff")?;
    put("referrer-policy", "no-referrer")?;
    put("x-frame-options", "DENY")?;
    put("cross-origin-opener-policy", "same-origin")?;
    Ok(headers)
}

/// `https://idp.example/token` → `https://idp.example`.
fn origin_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return String::new() };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() { String::new() } else { format!("{scheme}://{host}") }
}

/// A short text answer.
pub(crate) fn plain(status: http::StatusCode, text: &'static str) -> http::Response<Body> {
    respond(status, "text/plain; charset=utf-8", Bytes::from_static(text.as_bytes()))
}

/// An answer with `body` of `content_type`, never cached (sign-in answers carry tokens).
pub(crate) fn respond(status: http::StatusCode, content_type: &'static str, body: Bytes) -> http::Response<Body> {
    let mut response = http::Response::new(Body::new(Full::new(body).map_err(|never| match never {})));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_of_an_endpoint() {
        assert_eq!(origin_of("https://idp.example.jp/oauth2/token"), "https://idp.example.jp");
        assert_eq!(origin_of("http://127.0.0.1:8080/token"), "http://127.0.0.1:8080");
        assert_eq!(origin_of(""), "");
        assert_eq!(origin_of("not a url"), "");
    }

    #[test]
    fn the_policy_names_the_token_endpoint_only_when_there_is_one() {
        let without = security_headers("").unwrap();
        let policy = without["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("connect-src 'self';"), "{policy}");
        let with = security_headers("https://idp.example.jp/token").unwrap();
        let policy = with["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("connect-src 'self' https://idp.example.jp;"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"));
    }
}
