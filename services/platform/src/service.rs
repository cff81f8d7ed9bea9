//! What the binary hands each service when it starts it.

use sea_orm::DatabaseConnection;

use crate::config::ServerConfig;
use crate::events::Bus;
use crate::redis::RedisHandle;

/// A service's connections and settings, built by `kaigo serve` or `kaigo dev`.
#[derive(Clone)]
pub struct ServiceContext {
    /// The service's name (`eligibility` …): its schema, its consumer group.
    pub name: &'static str,
    /// Listener settings (message size limits).
    pub server: ServerConfig,
    /// The service's own database schema.
    pub db: DatabaseConnection,
    /// Redis, when configured (absent in `kaigo dev`).
    pub redis: Option<RedisHandle>,
    /// Where the service's outbox relay publishes and its consumers read.
    pub bus: Bus,
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
