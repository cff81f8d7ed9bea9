//! kaigo-gateway: the platform's only door.
//!
//! Every call arrives here. The gateway gives it a request id and a span, routes it by its
//! path, and passes it through the service's stack of tower layers: authentication (Bearer JWT
//! against PEM keys or a JWKS, optionally the client certificate of mutual TLS) turning the
//! claims into a [`Caller`](kaigo_platform::auth::Caller); the caller's role's limits (rate,
//! concurrency, message size, deadline); and the forwarder, which signs the caller into the
//! headers services trust and sends the call, body untouched, to the service: in-process in
//! `kaigo dev`, over HTTP/2 to the service's replicas in production, behind a circuit breaker.
//! Health and reflection of every service answer at the gateway itself.
//!
//! Browsers reach the same services with gRPC-Web, translated in front of the gateway
//! ([`Front`]), which also serves the web screens and their sign-in endpoints.

mod auth;
pub mod config;
mod connections;
mod forward;
mod layers;
mod observe;
mod router;
mod tls;
mod traffic;
mod upstream;
mod web;

pub use auth::{CertificateIdentity, Claims, DevKey, TokenError, TokenVerifier, caller_from_claims};
pub use config::SERVICES;
pub use config::{AuthConfig, GatewayConfig, OidcConfig, RoleLimits, TlsConfig, WebConfig};
pub use layers::CONSENT_HEADER;
pub use observe::REQUEST_ID_HEADER;
pub use router::Gateway;
pub use tls::server_tls;
pub use upstream::{LocalService, RemoteUpstream, Upstream};
pub use web::{DevIdentity, DevSignIn, Front};
