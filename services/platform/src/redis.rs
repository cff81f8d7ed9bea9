//! Redis connections and key naming.
//!
//! Every key and stream name starts with the configured prefix, so several deployments (or
//! test binaries) share one server without touching each other's data.

use redis::aio::ConnectionManager;

use crate::config::RedisConfig;

/// A Redis client with its key prefix.
#[derive(Clone)]
pub struct RedisHandle {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHandle").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisHandle {
    /// Connects; `None` when no URL is configured (in-process mode).
    pub async fn connect(config: &RedisConfig) -> Result<Option<Self>, redis::RedisError> {
        if config.url.is_empty() {
            return Ok(None);
        }
        let client = redis::Client::open(config.url.expose())?;
        let manager_config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
            .set_response_timeout(Some(std::time::Duration::from_secs(2)))
            .set_number_of_retries(2);
        let manager = ConnectionManager::new_with_config(client.clone(), manager_config).await?;
        Ok(Some(Self { client, manager, prefix: config.key_prefix.clone() }))
    }

    /// A shared, multiplexed, self-reconnecting connection for ordinary commands.
    pub fn conn(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// A dedicated connection, for blocking reads (XREADGROUP BLOCK) and pub/sub, which would
    /// stall every other user of a shared connection.
    pub async fn dedicated(&self) -> Result<redis::aio::MultiplexedConnection, redis::RedisError> {
        // The client's default 500 ms response timeout would cut every idle XREADGROUP BLOCK
        // (500 ms) short, ending the consumer's session and pausing it for a second.
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(Some(std::time::Duration::from_secs(30)));
        self.client.get_multiplexed_async_connection_with_config(&config).await
    }

    /// The underlying client (for pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// `name` with the deployment's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}
