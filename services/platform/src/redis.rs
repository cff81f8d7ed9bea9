//! Redis connections and key naming, on one server or on a Redis Cluster.
//!
//! Every key and stream name starts with the configured prefix, so several deployments (or
//! test binaries) share one server without touching each other's data.
//!
//! # One server or a cluster
//!
//! With `redis.cluster = false` (the default) kaigo talks to one primary through a
//! self-reconnecting [`ConnectionManager`], exactly as before cluster support existed. With
//! `redis.cluster = true`, `redis.url` names one or more seed nodes (comma-separated) and the
//! redis crate's async cluster client routes every command to the node owning its hash slot,
//! follows `MOVED`/`ASK` and refreshes the slot map by itself. Either way users get a
//! [`RedisConnection`], so `redis::cmd(..).query_async(&mut conn)`, [`redis::AsyncCommands`]
//! and pipelines work unchanged.
//!
//! On a cluster every command or pipeline touching several keys must keep them in one hash
//! slot (the client refuses a cross-slot pipeline with `CrossSlot` before sending it). Keys that
//! are used together are named with [`RedisHandle::grouped_key`], which adds a hash tag in
//! cluster mode only, so single-server key names stay what they always were. Pub/sub needs no
//! tag: `PUBLISH` reaches the subscribers of every node of a cluster.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, ConnectionInfo, IntoConnectionInfo, Pipeline, RedisFuture, Value};

use crate::config::RedisConfig;

mod subscription;

pub use subscription::Subscription;

/// How long a new connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long an ordinary command may wait for its answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// The answer timeout of dedicated connections: well above any `XREADGROUP BLOCK`.
const BLOCKING_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// On a cluster, one command including redirections (`MOVED`, `ASK`) and reconnections.
const CLUSTER_OVERALL_TIMEOUT: Duration = Duration::from_secs(4);
/// On a cluster, how often one command is retried after a redirection or a lost node.
const CLUSTER_RETRIES: u32 = 3;

/// A Redis client (one server or a cluster) with its key prefix.
#[derive(Clone)]
pub struct RedisHandle {
    backend: Backend,
    prefix: String,
}

#[derive(Clone)]
enum Backend {
    Single { client: redis::Client, manager: ConnectionManager },
    Cluster { seeds: Arc<[ConnectionInfo]>, conn: ClusterConnection },
}

impl std::fmt::Debug for RedisHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHandle")
            .field("prefix", &self.prefix)
            .field("cluster", &self.is_cluster())
            .finish_non_exhaustive()
    }
}

impl RedisHandle {
    /// Connects; `None` when no URL is configured (in-process mode).
    pub async fn connect(config: &RedisConfig) -> Result<Option<Self>, redis::RedisError> {
        let url = config.url.expose();
        if url.is_empty() {
            return Ok(None);
        }
        let backend = if config.cluster {
            let seeds =
                config.seed_urls().map(IntoConnectionInfo::into_connection_info).collect::<Result<Vec<_>, _>>()?;
            let conn = cluster_builder(&seeds)
                .response_timeout(RESPONSE_TIMEOUT)
                .overall_response_timeout(Some(CLUSTER_OVERALL_TIMEOUT))
                .build()?
                .get_async_connection()
                .await?;
            Backend::Cluster { seeds: seeds.into(), conn }
        } else {
            let client = redis::Client::open(url)?;
            let manager_config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_number_of_retries(2);
            let manager = ConnectionManager::new_with_config(client.clone(), manager_config).await?;
            Backend::Single { client, manager }
        };
        Ok(Some(Self { backend, prefix: config.key_prefix.clone() }))
    }

    /// Whether this handle talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster { .. })
    }

    /// A shared, multiplexed, self-reconnecting connection for ordinary commands.
    pub fn conn(&self) -> RedisConnection {
        RedisConnection(match &self.backend {
            Backend::Single { manager, .. } => Inner::Shared(manager.clone()),
            Backend::Cluster { conn, .. } => Inner::Cluster(conn.clone()),
        })
    }

    /// A dedicated connection, for blocking reads (XREADGROUP BLOCK), which would stall every
    /// other user of a shared connection. Its answers may take up to 30 s.
    pub async fn dedicated(&self) -> Result<RedisConnection, redis::RedisError> {
        // The client's default 500 ms response timeout would cut every idle XREADGROUP BLOCK
        // (500 ms) short, ending the consumer's session and pausing it for a second.
        match &self.backend {
            Backend::Single { client, .. } => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(BLOCKING_RESPONSE_TIMEOUT));
                let conn = client.get_multiplexed_async_connection_with_config(&config).await?;
                Ok(RedisConnection(Inner::Dedicated(conn)))
            }
            Backend::Cluster { seeds, .. } => {
                // A cluster connection of its own: its own connection to each node, so a
                // blocked read holds up nobody else's commands.
                let conn = cluster_builder(seeds)
                    .response_timeout(BLOCKING_RESPONSE_TIMEOUT)
                    .build()?
                    .get_async_connection()
                    .await?;
                Ok(RedisConnection(Inner::Cluster(conn)))
            }
        }
    }

    /// Subscribes to `channel` on a connection of its own. The subscription ends (yields
    /// `None`) when its connection is lost: messages published meanwhile are gone, so the
    /// caller treats the end as a gap and subscribes again.
    pub async fn subscribe(&self, channel: &str) -> Result<Subscription, redis::RedisError> {
        match &self.backend {
            Backend::Single { client, .. } => Subscription::single(client, channel).await,
            Backend::Cluster { seeds, .. } => Subscription::cluster(cluster_builder(seeds), channel).await,
        }
    }

    /// `name` with the deployment's prefix.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A key of `group`: keys that one command, pipeline or script uses together must share a
    /// group. `grouped_key("events", ":a")` is `<prefix>events:a` on one server and
    /// `{<prefix>events}:a` on a cluster, where the hash tag puts the whole group in one slot
    /// (and so on one node: keep groups small in traffic).
    pub fn grouped_key(&self, group: &str, rest: &str) -> String {
        if self.is_cluster() {
            format!("{{{}{group}}}{rest}", self.prefix)
        } else {
            format!("{}{group}{rest}", self.prefix)
        }
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

fn cluster_builder(seeds: &[ConnectionInfo]) -> ClusterClientBuilder {
    ClusterClientBuilder::new(seeds.to_vec()).connection_timeout(CONNECT_TIMEOUT).retries(CLUSTER_RETRIES)
}

/// A connection from [`RedisHandle`]: to one server or to a cluster, used the same way
/// (`query_async(&mut conn)`, [`redis::AsyncCommands`], pipelines). Cheap to clone; clones
/// share the underlying connections.
#[derive(Clone)]
pub struct RedisConnection(Inner);

#[derive(Clone)]
enum Inner {
    Shared(ConnectionManager),
    Dedicated(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.0 {
            Inner::Shared(_) => "shared",
            Inner::Dedicated(_) => "dedicated",
            Inner::Cluster(_) => "cluster",
        };
        f.debug_tuple("RedisConnection").field(&kind).finish()
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let sent = match &mut self.0 {
            Inner::Shared(conn) => conn.req_packed_command(cmd),
            Inner::Dedicated(conn) => conn.req_packed_command(cmd),
            Inner::Cluster(conn) => conn.req_packed_command(cmd),
        };
        // A client span (sampled traces) and the duration metric, named by the command only.
        crate::telemetry::db::observe_redis(crate::telemetry::db::redis_operation(cmd), sent)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let sent = match &mut self.0 {
            Inner::Shared(conn) => conn.req_packed_commands(pipeline, offset, count),
            Inner::Dedicated(conn) => conn.req_packed_commands(pipeline, offset, count),
            Inner::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        };
        crate::telemetry::db::observe_redis("PIPELINE", sent)
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Inner::Shared(conn) => conn.get_db(),
            Inner::Dedicated(conn) => conn.get_db(),
            Inner::Cluster(conn) => conn.get_db(),
        }
    }
}
