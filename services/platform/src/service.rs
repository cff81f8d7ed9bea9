//! What the binary hands each service when it starts it. Background work (event consumers,
//! cache invalidation, audit flushing) runs through [`Background`] ([`crate::background`]).

use sea_orm::DatabaseConnection;

pub use crate::background::{Background, BackgroundControl, Stopping};
use crate::config::ServerConfig;
use crate::events::Bus;
use crate::redis::RedisHandle;

/// A start-up failure of a service.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// A service's connections and settings, built by `kaigo serve` or `kaigo dev`.
#[derive(Clone)]
pub struct ServiceContext {
    /// The service's name (`eligibility` …): its schema, its consumer group.
    pub name: &'static str,
    /// Listener settings (message size limits).
    pub server: ServerConfig,
    /// The service's own database schema.
    pub db: DatabaseConnection,
    /// Where its reads go: the replicas of `database.read_urls` when configured, else `db`
    /// (docs/architecture.md#read-replicas).
    pub reads: crate::db::ReadPool,
    /// Redis, when configured (absent in `kaigo dev`).
    pub redis: Option<RedisHandle>,
    /// Where the service's outbox relay publishes and its consumers read.
    pub bus: Bus,
    /// Background tasks that stop with the process.
    pub background: Background,
    /// What values cached outside the process are sealed with ([`crate::seal`]): the
    /// internal secret and, during a rotation, the previous one.
    pub seal: crate::seal::SealSecrets,
    /// "Now" for the service and for the platform's records kept on its behalf (idempotency
    /// records are stamped and trimmed by it, [`crate::retention`]): the system clock in
    /// `kaigo serve` and `kaigo dev`, a [`crate::time::SetClock`] in a test that moves time.
    pub clock: std::sync::Arc<dyn crate::time::Clock>,
}

impl ServiceContext {
    /// Message size limit for generated servers.
    pub fn max_message_bytes(&self) -> usize {
        self.server.max_message_bytes
    }
}

/// Applies the configured message size limits to a generated tonic server.
#[macro_export]
macro_rules! limit_messages {
    ($server:expr, $ctx:expr) => {
        $server.max_decoding_message_size($ctx.max_message_bytes()).max_encoding_message_size($ctx.max_message_bytes())
    };
}

impl ServiceContext {
    /// Starts this service's outbox relay as a background task; it makes a last pass on
    /// shutdown so that nothing committed stays unpublished.
    pub fn spawn_outbox_relay(&self) -> crate::events::Relay {
        let relay =
            crate::events::Relay::new(self.db.clone(), self.bus.clone(), crate::events::RelayOptions::default());
        let running = relay.clone();
        self.background.spawn("outbox-relay", move |stopping| running.run(stopping.wait()));
        relay
    }
}
