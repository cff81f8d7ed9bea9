//! What every kaigo service stands on, written once.
//!
//! # Layout
//! - [`config`]: layered, typed configuration (defaults → `kaigo.toml` → `KAIGO_*`), exit 64 on
//!   bad config.
//! - [`telemetry`]: JSON logs, OTLP traces and metrics, W3C trace context in gRPC metadata.
//! - [`server`]: health, reflection, limits and graceful shutdown around a service's routes.
//! - [`errors`]: service errors → `tonic::Status` with google.rpc details.
//! - [`ids`]: the validated identifiers of the long-term-care system.
//! - [`auth`]: the verified [`auth::Caller`] and how it travels from the gateway.
//! - [`db`], [`redis`]: connections; [`events`]: the outbox, relay and idempotent consumers.
//! - [`idempotency`]: one table and one rule for retried writes; [`audit`]: the read audit
//!   trail and its batched writer; [`retention`]: how long both are kept; [`legacy`]: the
//!   data-preserving migration of a service's own earlier tables onto both.
//! - [`background`]: background tasks that end cleanly on shutdown; [`service`]: what the
//!   binary hands each service.
//! - [`access`]: the access decision every service takes from its own copy of the registry's
//!   registrations and consents (migration, event handler, loader, `Gate::decide`).
//! - [`time`]: JST calendar dates and the injected [`time::Clock`].
//! - [`validate`]: bounded repeated fields and strings, enum filters.
//! - `testkit` (feature): a database and Redis prefix per test binary.

pub mod access;
pub mod audit;
pub mod auth;
pub mod background;
pub mod config;
pub mod db;
pub mod errors;
pub mod events;
pub mod idempotency;
pub mod ids;
pub mod legacy;
pub mod redis;
pub mod retention;
pub mod seal;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod time;
pub mod validate;

#[cfg(feature = "testkit")]
#[allow(clippy::expect_used, clippy::unwrap_used)] // test support: a failure should stop the test loudly
pub mod testkit;

pub use errors::{ApiError, Violations};
