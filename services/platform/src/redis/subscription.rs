//! A pub/sub subscription to one channel, on one server or on a cluster.

use futures::StreamExt;
use redis::aio::PubSubStream;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Msg, PushInfo, PushKind};
use tokio::sync::mpsc;

/// Messages of one subscribed channel, until the connection is lost.
///
/// On one server this is the classic pub/sub connection. On a cluster it is a RESP3 cluster
/// connection whose push messages arrive on a channel; `PUBLISH` on any node reaches it.
/// The cluster client would resubscribe by itself after a lost node connection, but messages
/// published meanwhile are gone either way, so a lost connection ends the subscription here
/// too: every caller handles a gap the same way (drop what may be stale, subscribe again).
pub struct Subscription(Inner);

enum Inner {
    Single(PubSubStream),
    Cluster {
        /// Kept for its lifetime: dropping it closes the node connections.
        _conn: ClusterConnection,
        pushes: mpsc::UnboundedReceiver<PushInfo>,
    },
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.0 {
            Inner::Single(_) => "single",
            Inner::Cluster { .. } => "cluster",
        };
        f.debug_tuple("Subscription").field(&kind).finish()
    }
}

impl Subscription {
    pub(super) async fn single(client: &redis::Client, channel: &str) -> Result<Self, redis::RedisError> {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok(Self(Inner::Single(pubsub.into_on_message())))
    }

    pub(super) async fn cluster(builder: ClusterClientBuilder, channel: &str) -> Result<Self, redis::RedisError> {
        let (tx, pushes) = mpsc::unbounded_channel();
        let mut conn = builder
            .use_protocol(redis::ProtocolVersion::RESP3)
            .response_timeout(super::RESPONSE_TIMEOUT)
            .push_sender(tx)
            .build()?
            .get_async_connection()
            .await?;
        // Answered once the node owning the channel's slot confirmed the subscription.
        conn.subscribe(channel).await?;
        Ok(Self(Inner::Cluster { _conn: conn, pushes }))
    }

    /// The next message; `None` once the connection was lost (subscribe again).
    pub async fn next_message(&mut self) -> Option<Msg> {
        match &mut self.0 {
            Inner::Single(stream) => stream.next().await,
            Inner::Cluster { pushes, .. } => loop {
                let push = pushes.recv().await?;
                match push.kind {
                    PushKind::Message => {
                        if let Some(message) = Msg::from_push_info(push) {
                            return Some(message);
                        }
                    }
                    // A node connection closed: what it would have delivered is lost.
                    PushKind::Disconnection => return None,
                    // Subscription confirmations (also after the client's own resubscription).
                    _ => {}
                }
            },
        }
    }
}
