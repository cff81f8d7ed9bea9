//! Where published events go: Redis Streams, or an in-process equivalent for `kaigo dev`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use redis::AsyncCommands;
use redis::streams::{StreamId, StreamReadReply};
use tokio::sync::mpsc;

use super::Event;
use crate::redis::RedisHandle;

/// A failure to publish or receive.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Redis refused or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A stream entry without the fields kaigo writes.
    #[error("malformed stream entry {0}")]
    Malformed(String),
}

/// The event bus.
#[derive(Clone, Debug)]
pub enum Bus {
    /// Redis Streams: one stream per topic, consumer groups per consuming service.
    Redis(RedisBus),
    /// In-process channels (`kaigo dev`): the same delivery rules without a server.
    Local(LocalBus),
}

impl Bus {
    /// Publishes one event.
    pub async fn publish(&self, event: &Event) -> Result<(), BusError> {
        match self {
            Bus::Redis(bus) => bus.publish(event).await,
            Bus::Local(bus) => {
                bus.publish(event);
                Ok(())
            }
        }
    }
}

/// Redis Streams.
#[derive(Clone, Debug)]
pub struct RedisBus {
    redis: RedisHandle,
    max_len: usize,
}

/// One delivered stream entry: its stream id (for XACK) and the event.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub stream: String,
    pub entry_id: String,
    pub event: Event,
}

impl RedisBus {
    /// Streams are trimmed to about `max_len` entries each; consumers read far faster than
    /// that, so trimming only drops entries long handled.
    pub fn new(redis: RedisHandle, max_len: usize) -> Self {
        Self { redis, max_len }
    }

    /// The stream name of `topic`: `<prefix>events:<topic>`, or on a cluster
    /// `{<prefix>events}:<topic>`, so that one XREADGROUP can read every topic of a consumer
    /// (and the dead-letter streams live beside them): all streams share one hash slot.
    pub fn stream(&self, topic: &str) -> String {
        self.redis.grouped_key("events", &format!(":{topic}"))
    }

    /// The Redis handle.
    pub fn redis(&self) -> &RedisHandle {
        &self.redis
    }

    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        let trace = serde_json::to_string(&event.trace).unwrap_or_else(|_| "[]".to_owned());
        let created = event.created_at.to_rfc3339();
        let fields: [(&str, &[u8]); 5] = [
            ("id", event.id.as_bytes()),
            ("key", event.key.as_bytes()),
            ("payload", &event.payload),
            ("trace", trace.as_bytes()),
            ("created_at", created.as_bytes()),
        ];
        let mut conn = self.redis.conn();
        let _: String = conn
            .xadd_maxlen(self.stream(&event.topic), redis::streams::StreamMaxlen::Approx(self.max_len), "*", &fields)
            .await?;
        Ok(())
    }

    /// Creates `group` on each topic's stream, reading from the start of the stream so that a
    /// group created after events were published still receives them (handled ones are
    /// skipped by the consumer's dedup table).
    pub(crate) async fn ensure_group(&self, topics: &[String], group: &str) -> Result<(), BusError> {
        let mut conn = self.redis.conn();
        for topic in topics {
            let created: Result<(), redis::RedisError> =
                conn.xgroup_create_mkstream(self.stream(topic), group, "0").await;
            if let Err(err) = created
                && err.code() != Some("BUSYGROUP")
            {
                return Err(err.into());
            }
        }
        Ok(())
    }

    /// Reads entries for `consumer`: with `pending` true, those delivered to it before but not
    /// acknowledged (after a crash); else new ones, blocking up to `block_ms`.
    pub(crate) async fn read(
        &self,
        conn: &mut crate::redis::RedisConnection,
        options: &super::ConsumerOptions,
        pending: bool,
    ) -> Result<Vec<Delivery>, BusError> {
        let (topics, group, consumer) = (&options.topics, &options.group, &options.consumer);
        let count = 100;
        let block_ms = options.block.as_millis() as usize;
        let streams: Vec<String> = topics.iter().map(|t| self.stream(t)).collect();
        let ids: Vec<&str> = streams.iter().map(|_| if pending { "0" } else { ">" }).collect();
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(group).arg(consumer).arg("COUNT").arg(count);
        if !pending {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(&streams).arg(&ids);
        let reply: Option<StreamReadReply> = cmd.query_async(conn).await?;
        let mut out = Vec::new();
        for key in reply.map(|r| r.keys).unwrap_or_default() {
            let topic = topics
                .iter()
                .find(|t| self.stream(t) == key.key)
                .cloned()
                .ok_or_else(|| BusError::Malformed(key.key.clone()))?;
            for entry in key.ids {
                out.push(Delivery {
                    stream: key.key.clone(),
                    entry_id: entry.id.clone(),
                    event: decode_entry(&topic, &entry)?,
                });
            }
        }
        Ok(out)
    }

    /// Takes over entries another consumer of the group left unacknowledged for `idle_ms`
    /// (it crashed or was scaled away).
    pub(crate) async fn claim_abandoned(
        &self,
        topics: &[String],
        group: &str,
        consumer: &str,
        idle_ms: u64,
    ) -> Result<Vec<Delivery>, BusError> {
        let mut conn = self.redis.conn();
        let mut out = Vec::new();
        for topic in topics {
            let stream = self.stream(topic);
            let reply: redis::streams::StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
                .arg(&stream)
                .arg(group)
                .arg(consumer)
                .arg(idle_ms)
                .arg("0-0")
                .arg("COUNT")
                .arg(100)
                .query_async(&mut conn)
                .await?;
            for entry in reply.claimed {
                out.push(Delivery {
                    stream: stream.clone(),
                    entry_id: entry.id.clone(),
                    event: decode_entry(topic, &entry)?,
                });
            }
        }
        Ok(out)
    }

    /// How many times the group has delivered `delivery` (from XPENDING).
    pub(crate) async fn delivery_count(&self, delivery: &Delivery, group: &str) -> Result<u64, BusError> {
        let mut conn = self.redis.conn();
        let reply: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&delivery.stream)
            .arg(group)
            .arg(&delivery.entry_id)
            .arg(&delivery.entry_id)
            .arg(1)
            .query_async(&mut conn)
            .await?;
        Ok(reply.ids.first().map_or(1, |p| p.times_delivered as u64))
    }

    /// Acknowledges one entry.
    pub(crate) async fn ack(&self, stream: &str, group: &str, entry_id: &str) -> Result<(), BusError> {
        let mut conn = self.redis.conn();
        let _: i64 = conn.xack(stream, group, &[entry_id]).await?;
        Ok(())
    }

    /// Each consumer group of `topic`'s stream with the entries it has not acknowledged yet:
    /// those not delivered to it (`lag` of XINFO GROUPS) and those delivered but pending. When
    /// Redis cannot tell the lag (entries were trimmed before the group read them) the stream's
    /// length stands in for it, an upper bound. A stream that does not exist has no groups.
    pub async fn backlog(&self, topic: &str) -> Result<Vec<(String, u64)>, BusError> {
        let mut conn = self.redis.conn();
        let stream = self.stream(topic);
        let reply: redis::streams::StreamInfoGroupsReply = match conn.xinfo_groups(&stream).await {
            Ok(reply) => reply,
            Err(err) if err.to_string().contains("no such key") => return Ok(Vec::new()),
            Err(err) => return Err(err.into()),
        };
        let mut length = None;
        let mut out = Vec::with_capacity(reply.groups.len());
        for group in reply.groups {
            let undelivered = match group.lag {
                Some(lag) => lag as u64,
                None => match length {
                    Some(len) => len,
                    None => {
                        let len: u64 = conn.xlen(&stream).await?;
                        *length.insert(len)
                    }
                },
            };
            out.push((group.name, undelivered + group.pending as u64));
        }
        Ok(out)
    }

    /// Reads the backlog of every group of each of `topics()` into `kaigo.events.backlog`
    /// every [`BACKLOG_INTERVAL`](crate::telemetry::metrics::BACKLOG_INTERVAL), until dropped.
    /// Every consumer and relay does, so a group whose every consumer stopped still shows,
    /// reported by the others that read or write its topic. A failed read is skipped: the
    /// consumer or relay beside it reports Redis trouble.
    pub(crate) async fn watch_backlog(&self, topics: impl Fn() -> Vec<String>) {
        loop {
            for topic in topics() {
                if let Ok(groups) = self.backlog(&topic).await {
                    crate::telemetry::metrics::record_backlog(&topic, groups);
                }
            }
            tokio::time::sleep(crate::telemetry::metrics::BACKLOG_INTERVAL).await;
        }
    }

    /// Moves an entry that keeps failing to `<stream>:dead` and acknowledges it, so one poison
    /// event cannot stall its group; operators replay dead entries after a fix.
    pub(crate) async fn dead_letter(&self, delivery: &Delivery, group: &str, reason: &str) -> Result<(), BusError> {
        let mut conn = self.redis.conn();
        let fields: [(&str, &str); 4] =
            [("entry", &delivery.entry_id), ("group", group), ("event_id", &delivery.event.id), ("reason", reason)];
        let _: String = conn.xadd(format!("{}:dead", delivery.stream), "*", &fields).await?;
        self.ack(&delivery.stream, group, &delivery.entry_id).await
    }
}

fn decode_entry(topic: &str, entry: &StreamId) -> Result<Event, BusError> {
    let field = |name: &str| -> Result<Vec<u8>, BusError> {
        match entry.map.get(name) {
            Some(redis::Value::BulkString(bytes)) => Ok(bytes.clone()),
            Some(redis::Value::SimpleString(s)) => Ok(s.as_bytes().to_vec()),
            _ => Err(BusError::Malformed(entry.id.clone())),
        }
    };
    let text = |name: &str| -> Result<String, BusError> {
        String::from_utf8(field(name)?).map_err(|_| BusError::Malformed(entry.id.clone()))
    };
    let trace: Vec<(String, String)> = serde_json::from_str(&text("trace")?).unwrap_or_default();
    let created_at = DateTime::parse_from_rfc3339(&text("created_at")?)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| BusError::Malformed(entry.id.clone()))?;
    Ok(Event {
        id: text("id")?,
        topic: topic.to_owned(),
        key: text("key")?,
        payload: field("payload")?,
        trace,
        created_at,
    })
}

/// In-process delivery for `kaigo dev`: every group subscribed to a topic receives each event
/// once. Events published before a group subscribes are kept (up to a bound) and replayed to
/// it, as a Redis consumer group created at the start of its stream would see them.
#[derive(Clone, Debug, Default)]
pub struct LocalBus {
    inner: Arc<Mutex<LocalState>>,
}

#[derive(Debug, Default)]
struct LocalState {
    history: HashMap<String, Vec<Event>>,
    groups: HashMap<(String, String), mpsc::UnboundedSender<Event>>,
}

const LOCAL_HISTORY: usize = 10_000;

impl LocalBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    fn publish(&self, event: &Event) {
        let mut state = self.inner.lock();
        let history = state.history.entry(event.topic.clone()).or_default();
        history.push(event.clone());
        if history.len() > LOCAL_HISTORY {
            history.drain(..history.len() - LOCAL_HISTORY);
        }
        state.groups.retain(|(topic, _), tx| topic != &event.topic || tx.send(event.clone()).is_ok());
    }

    /// Subscribes `group` to `topics`; replays what was published before.
    pub(crate) fn subscribe(&self, topics: &[String], group: &str) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = self.inner.lock();
        for topic in topics {
            for event in state.history.get(topic).into_iter().flatten() {
                let _ = tx.send(event.clone());
            }
            state.groups.insert((topic.clone(), group.to_owned()), tx.clone());
        }
        rx
    }
}
