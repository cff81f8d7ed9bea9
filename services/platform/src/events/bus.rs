//! Where published events go: Redis Streams, or an in-process equivalent for `kaigo dev`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
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

    /// Publishes `events`, each topic's in their order: on Redis in one pipelined round trip
    /// (the relay's batches; a round trip an event bounded how fast a bulk change's events went
    /// out). At least once, as [`Bus::publish`]: a failure part way leaves some published, and
    /// the relay publishes the whole batch again.
    pub async fn publish_many(&self, events: &[Event]) -> Result<(), BusError> {
        match self {
            Bus::Redis(bus) => bus.publish_many(events).await,
            Bus::Local(bus) => {
                for event in events {
                    bus.publish(event);
                }
                Ok(())
            }
        }
    }

    /// The consumer groups this process consumes with, each with its topics: those whose
    /// consumers have joined their streams (Redis) or subscribed (in-process) since it started.
    /// The retention task trims these groups' `processed_events` keys, and no others.
    pub fn consumer_groups(&self) -> Vec<(String, Vec<String>)> {
        match self {
            Bus::Redis(bus) => {
                bus.known.lock().consumed.iter().map(|(g, t)| (g.clone(), t.iter().cloned().collect())).collect()
            }
            Bus::Local(bus) => bus.consumer_groups(),
        }
    }
}

/// Redis Streams.
#[derive(Clone, Debug)]
pub struct RedisBus {
    redis: RedisHandle,
    max_len: usize,
    /// The streams this process publishes to and reads from.
    known: Arc<Mutex<Known>>,
}

/// What a process's retention task trims on Redis.
#[derive(Debug, Default)]
struct Known {
    /// The topics this process has published to: the streams its retention task trims.
    published: BTreeSet<String>,
    /// The consumer groups of this process and their topics ([`Bus::consumer_groups`]).
    consumed: BTreeMap<String, BTreeSet<String>>,
}

/// Trims one stream atomically, never past what a consumer group has not read and
/// acknowledged. KEYS[1]: the stream; ARGV[1]: the oldest id kept by age (`<ms>-0`); ARGV[2]:
/// the entries kept at most once every group has read them all (0: no bound); ARGV[3]: the
/// entries freed at most by this call as whole nodes (~100 entries each; then the boundary
/// node's older entries go one by one).
///
/// Each group holds back the entries from its oldest pending one (delivered, not acknowledged:
/// XPENDING) or, when none is pending, from its last delivered one (XINFO GROUPS); `XTRIM
/// MINID` removes only entries below the lowest of those and the age bound. The count bound
/// applies only when no group has anything left to read (lag 0, nothing pending), so it too
/// removes read entries only. A stream without groups is trimmed by age and count alone.
const TRIM_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function lower(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if am < bm or (am == bm and as < bs) then return a end
  return b
end
local minid = ARGV[1]
local everything_read = true
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = {}
  for i = 1, #group, 2 do f[group[i]] = group[i + 1] end
  minid = lower(minid, f['last-delivered-id'])
  if f['pending'] > 0 then
    local summary = redis.call('XPENDING', KEYS[1], f['name'])
    minid = lower(minid, summary[2])
    everything_read = false
  end
  if f['lag'] ~= 0 then everything_read = false end
end
local limit = tonumber(ARGV[3])
-- Whole nodes first (cheap, bounded by the limit); when no whole node is left to free, the
-- few entries left in the boundary node exactly.
local function trim(strategy, threshold)
  local removed = redis.call('XTRIM', KEYS[1], strategy, '~', threshold, 'LIMIT', limit)
  if removed < limit then removed = removed + redis.call('XTRIM', KEYS[1], strategy, '=', threshold) end
  return removed
end
local removed = trim('MINID', minid)
if everything_read and tonumber(ARGV[2]) > 0 then removed = removed + trim('MAXLEN', ARGV[2]) end
return removed
";

/// The id of a stream's oldest entry, or when the stream is empty the id Redis gave its last
/// entry (every entry it ever held is at or below it and gone); false when there is no stream.
/// KEYS[1]: the stream. One script, so that an entry added between the two reads cannot make
/// an empty stream's answer newer than an entry it holds.
const OLDEST_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first > 0 then return first[1][1] end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return info[i + 1] end
end
return false
";

/// Entries one trim call removes at most: a bounded amount of work per call on the server
/// (a thousand stream nodes freed), repeated until the stream is trimmed.
const TRIM_STEP: u64 = 100_000;

/// Trim calls per stream and pass at most (ten million entries); the next pass goes on.
const TRIM_STEPS: u32 = 100;

/// One delivered stream entry: its stream id (for XACK) and the event.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub stream: String,
    pub entry_id: String,
    pub event: Event,
}

impl RedisBus {
    /// A bus on `redis`. Streams are trimmed by the retention task ([`RedisBus::trim`]), never
    /// on publish: an entry goes once every consumer group has read and acknowledged it and it
    /// is older than the retention or its stream holds more than about `max_len` entries
    /// (0: no count bound). Publishing never drops an entry a group has yet to read, however
    /// far behind the group is (a consumer down for a weekend, a 5-million-row import's
    /// invalidations): the backlog metric shows the group, the stream waits for it.
    pub fn new(redis: RedisHandle, max_len: usize) -> Self {
        Self { redis, max_len, known: Arc::default() }
    }

    /// The topics this process has published to since it started, whose streams its retention
    /// task trims (each stream is trimmed by the services that publish to it).
    pub fn published_topics(&self) -> Vec<String> {
        self.known.lock().published.iter().cloned().collect()
    }

    /// Trims `topic`'s stream: removes the entries every consumer group has read and
    /// acknowledged that are older than `keep` or beyond the bus's `max_len` newest (see
    /// [`RedisBus::new`]). Returns how many were removed. Safe to run from every replica at
    /// once: each call is one atomic script.
    pub async fn trim(&self, topic: &str, keep: std::time::Duration) -> Result<u64, BusError> {
        let oldest = chrono::Duration::from_std(keep).ok().and_then(|keep| Utc::now().checked_sub_signed(keep));
        let min_id = format!("{}-0", oldest.map_or(0, |t| t.timestamp_millis().max(0)));
        let stream = self.stream(topic);
        let mut conn = self.redis.conn();
        let mut removed = 0u64;
        for _ in 0..TRIM_STEPS {
            let step: u64 = redis::cmd("EVAL")
                .arg(TRIM_SCRIPT)
                .arg(1)
                .arg(&stream)
                .arg(&min_id)
                .arg(self.max_len)
                .arg(TRIM_STEP)
                .query_async(&mut conn)
                .await?;
            removed += step;
            if step == 0 {
                break;
            }
        }
        Ok(removed)
    }

    /// The instant of the oldest entry `topic`'s stream still holds (by its id, the Redis
    /// server's clock at XADD), or, when the stream is empty, of the last entry it held; `None`
    /// when the stream does not exist. No entry older than this can be delivered again from
    /// the stream: [`RedisBus::trim`] never removes an entry a group has pending or unread.
    pub async fn oldest_entry(&self, topic: &str) -> Result<Option<DateTime<Utc>>, BusError> {
        let mut conn = self.redis.conn();
        let id: Option<String> =
            redis::cmd("EVAL").arg(OLDEST_SCRIPT).arg(1).arg(self.stream(topic)).query_async(&mut conn).await?;
        let Some(id) = id else { return Ok(None) };
        let ms = id
            .split_once('-')
            .and_then(|(ms, _)| ms.parse::<i64>().ok())
            .ok_or_else(|| BusError::Malformed(id.clone()))?;
        DateTime::<Utc>::from_timestamp_millis(ms).map(Some).ok_or(BusError::Malformed(id))
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
        self.publish_many(std::slice::from_ref(event)).await
    }

    /// Every stream shares one hash slot ([`RedisBus::stream`]), so one pipeline serves a
    /// cluster too.
    async fn publish_many(&self, events: &[Event]) -> Result<(), BusError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for event in events {
            let trace = serde_json::to_string(&event.trace).unwrap_or_else(|_| "[]".to_owned());
            let created = event.created_at.to_rfc3339();
            let fields: [(&str, &[u8]); 5] = [
                ("id", event.id.as_bytes()),
                ("key", event.key.as_bytes()),
                ("payload", &event.payload),
                ("trace", trace.as_bytes()),
                ("created_at", created.as_bytes()),
            ];
            pipe.xadd(self.stream(&event.topic), "*", &fields).ignore();
        }
        let mut conn = self.redis.conn();
        let () = pipe.query_async(&mut conn).await?;
        let mut known = self.known.lock();
        for event in events {
            if !known.published.contains(&event.topic) {
                known.published.insert(event.topic.clone());
            }
        }
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
        self.known.lock().consumed.entry(group.to_owned()).or_default().extend(topics.iter().cloned());
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
        self.ack_many(stream, group, &[entry_id]).await
    }

    /// Acknowledges `entry_ids` of `stream` for `group` in one command.
    pub(crate) async fn ack_many(&self, stream: &str, group: &str, entry_ids: &[&str]) -> Result<(), BusError> {
        let mut conn = self.redis.conn();
        let _: i64 = conn.xack(stream, group, entry_ids).await?;
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

    /// The groups subscribed, each with its topics.
    fn consumer_groups(&self) -> Vec<(String, Vec<String>)> {
        let state = self.inner.lock();
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (topic, group) in state.groups.keys() {
            groups.entry(group.clone()).or_default().push(topic.clone());
        }
        groups.into_iter().collect()
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
