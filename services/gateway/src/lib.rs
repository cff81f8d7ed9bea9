//! kaigo-gateway: the platform's only door.
//!
//! Every call arrives here. The gateway authenticates the Bearer token, turns its claims into a
//! [`Caller`](kaigo_platform::auth::Caller), signs that caller into the headers services trust,
//! and forwards the call, body untouched, to the service its path names: in-process in
//! `kaigo dev`, over HTTP/2 to the service's replicas in production. Health and reflection of
//! every service answer at the gateway itself.

pub mod config;
mod router;
mod token;
mod upstream;

pub use config::{AuthConfig, GatewayConfig};
pub use router::Gateway;
pub use router::SERVICES;
pub use token::{Claims, DevKey, TokenError, TokenVerifier, caller_from_claims};
pub use upstream::{LocalService, RemoteUpstream, Upstream};
