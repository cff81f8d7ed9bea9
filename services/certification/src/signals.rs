//! Wakes watchers when a step is written, on every replica.
//!
//! The database is the truth: a watcher always reads the steps after its last sequence from
//! PostgreSQL, so it sees every step once and in order, and can resume with `after_sequence`.
//! Signals only say "application X has new steps": after a commit the writer publishes the
//! application id on one Redis pub/sub channel (`<prefix>certification:steps`); every replica
//! subscribes once and fans the ids out to its local watchers. Without Redis (`kaigo dev`, one
//! process) the signal stays in-process. A lost signal (Redis briefly down) only delays a watcher
//! until its next periodic re-read, never loses a step.

use std::time::Duration;

use kaigo_platform::redis::RedisHandle;
use kaigo_platform::service::Stopping;
use redis::AsyncCommands;
use tokio::sync::broadcast;

/// The channel name under the deployment's prefix.
const CHANNEL: &str = "certification:steps";

/// Sent to local watchers after the subscription was re-established: anything may have been
/// missed, so every watcher re-reads.
pub const EVERYONE: &str = "*";

/// Step signals of one replica.
#[derive(Clone)]
pub struct StepSignals {
    redis: Option<RedisHandle>,
    local: broadcast::Sender<String>,
}

impl StepSignals {
    /// Signals over `redis`, or in-process when `None`.
    pub fn new(redis: Option<RedisHandle>) -> Self {
        let (local, _) = broadcast::channel(1024);
        Self { redis, local }
    }

    /// A receiver of application ids with new steps (or [`EVERYONE`]).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.local.subscribe()
    }

    /// Announces new steps of `application_id` (after commit). Failures are logged: watchers
    /// catch up on their periodic re-read.
    pub async fn announce(&self, application_id: &str) {
        match &self.redis {
            Some(redis) => {
                let mut conn = redis.conn();
                let sent: Result<i64, _> = conn.publish(redis.key(CHANNEL), application_id).await;
                if let Err(err) = sent {
                    tracing::warn!(error = %err, "step signal not published; watchers will catch up on their next poll");
                    let _ = self.local.send(application_id.to_owned());
                }
            }
            None => {
                let _ = self.local.send(application_id.to_owned());
            }
        }
    }

    /// Forwards Redis signals to local watchers until shutdown (a background task). Reconnects
    /// after errors and then tells every watcher to re-read.
    pub async fn run(self, stopping: Stopping) {
        let Some(redis) = self.redis.clone() else {
            stopping.wait().await;
            return;
        };
        let channel = redis.key(CHANNEL);
        let stop = stopping.clone().wait();
        tokio::pin!(stop);
        loop {
            let session = async {
                let mut messages = redis.subscribe(&channel).await?;
                // Whatever was published while unsubscribed is unknown: everyone re-reads.
                let _ = self.local.send(EVERYONE.to_owned());
                while let Some(msg) = messages.next_message().await {
                    if let Ok(id) = msg.get_payload::<String>() {
                        let _ = self.local.send(id);
                    }
                }
                Ok::<(), redis::RedisError>(())
            };
            tokio::select! {
                () = &mut stop => return,
                result = session => {
                    if let Err(err) = result {
                        tracing::warn!(error = %err, "step signal subscription lost; reconnecting");
                    }
                }
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}
