//! L2: timelines in Redis hash buckets, and the invalidation channel.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use kaigo_platform::access::Facts;
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::seal::Sealer;
use opentelemetry::metrics::{Counter, ObservableGauge};
use parking_lot::Mutex;
use redis::AsyncCommands;

use super::codec::{self, Versions};
use crate::domain::Timeline;
use crate::key::PersonKey;
use crate::store::PersonDetails;

/// Lua: the versions in a stored value, as [`codec::versions_of`] reads them (the protobuf
/// varint fields 4, the person's version, and 19, the access facts' stamp; other fields
/// skipped; a field left out reads 0); `nil` for bytes that are not a value. Every write of a
/// field compares both with this, so that a value older than what the field holds (or is
/// marked at) in either way is never written over it. `tombstone` builds the bytes of
/// [`codec::tombstone`].
const VERSIONS: &str = "local function versions_of(v) \
  local i, n = 1, #v \
  local function varint() \
    local x, mul = 0, 1 \
    while i <= n do \
      local b = string.byte(v, i); i = i + 1 \
      x = x + (b % 128) * mul \
      if b < 128 then return x end \
      mul = mul * 128 \
    end \
    return nil \
  end \
  local person, facts = 0, 0 \
  while i <= n do \
    local key = varint(); if not key then return nil end \
    local tag, wire = math.floor(key / 8), key % 8 \
    if wire == 0 then \
      local x = varint(); if not x then return nil end \
      if tag == 4 then person = x elseif tag == 19 then facts = x end \
    elseif wire == 2 then \
      local len = varint(); if not len then return nil end \
      i = i + len; if i > n + 1 then return nil end \
    elseif wire == 1 then i = i + 8 \
    elseif wire == 5 then i = i + 4 \
    else return nil end \
  end \
  if i > n + 1 then return nil end \
  return person, facts \
end \
local function varint_of(x) \
  local s = '' \
  while x >= 128 do s = s .. string.char(x % 128 + 128); x = math.floor(x / 128) end \
  return s .. string.char(x) \
end \
local function tombstone(person, facts) \
  local s = '' \
  if person > 0 then s = string.char(32) .. varint_of(person) end \
  if facts > 0 then s = s .. string.char(152, 1) .. varint_of(facts) end \
  return s \
end ";

/// Writes each `(field, value, person version, facts stamp)` of `ARGV` into bucket `KEYS[1]`
/// unless the field holds something newer in either way (a value, or a tombstone an
/// invalidation left): a miss or an import that read the person or the person's access facts
/// before a change never puts that older value back over the change's tombstone. Returns how
/// many were written.
static PUT_UNLESS_OLDER: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(&format!(
        "{VERSIONS} local written = 0 \
         for j = 1, #ARGV, 4 do \
           local held = redis.call('HGET', KEYS[1], ARGV[j]) \
           local person, facts = nil, nil \
           if held then person, facts = versions_of(held) end \
           if not person or (person <= tonumber(ARGV[j + 2]) and facts <= tonumber(ARGV[j + 3])) then \
             redis.call('HSET', KEYS[1], ARGV[j], ARGV[j + 1]); written = written + 1 \
           end \
         end \
         return written"
    ))
});

/// Buries field `ARGV[1]` of bucket `KEYS[1]` at person version `ARGV[2]` and facts stamp
/// `ARGV[3]` (either 0 when the change does not concern it): unless it holds a value at least
/// that new in both ways, it is replaced by a tombstone at the higher of each
/// ([`codec::tombstone`]: a miss for every reader, which keeps what an earlier tombstone
/// refused), in one step with the comparison. Nothing is written at versions 0 and 0 (a
/// person without any facts row whose field is empty): such a tombstone would refuse nothing.
/// Returns 1 when it wrote the tombstone.
static TOMBSTONE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(&format!(
        "{VERSIONS} local held = redis.call('HGET', KEYS[1], ARGV[1]) \
         local person, facts = tonumber(ARGV[2]), tonumber(ARGV[3]) \
         local held_person, held_facts = nil, nil \
         if held then held_person, held_facts = versions_of(held) end \
         if held_person then \
           if held_person >= person and held_facts >= facts then return 0 end \
           person = math.max(person, held_person); facts = math.max(facts, held_facts) \
         end \
         if person == 0 and facts == 0 then return 0 end \
         redis.call('HSET', KEYS[1], ARGV[1], tombstone(person, facts)) \
         return 1"
    ))
});

/// `EVALSHA` of `script` on `bucket` (its one key), arguments to follow: the script's text
/// (1.3 KiB) is sent once per server ([`with_scripts`]), not with every call.
fn evalsha(script: &redis::Script, bucket: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(1).arg(bucket);
    cmd
}

/// [`TOMBSTONE`] on `field` of `bucket` at `at`.
fn tombstone_cmd(bucket: &str, field: &[u8], at: Versions) -> redis::Cmd {
    let mut cmd = evalsha(&TOMBSTONE, bucket);
    cmd.arg(field).arg(at.person).arg(at.facts);
    cmd
}

/// Runs `send` (commands that call the scripts by hash) and, when a server does not know a
/// script (its first use, a restart, a failover to a replica, `SCRIPT FLUSH`), loads both
/// scripts (on every primary of a cluster) and runs it once more.
async fn with_scripts<T, F, Fut>(conn: &kaigo_platform::redis::RedisConnection, send: F) -> redis::RedisResult<T>
where
    F: Fn(kaigo_platform::redis::RedisConnection) -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    match send(conn.clone()).await {
        Err(err) if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            let mut loading = conn.clone();
            PUT_UNLESS_OLDER.load_async(&mut loading).await?;
            TOMBSTONE.load_async(&mut loading).await?;
            send(conn.clone()).await
        }
        other => other,
    }
}

/// After a failure, L2 is skipped for this long before it is tried again.
const BACKOFF_MS: u64 = 1_000;

struct State {
    /// Unix millis until which L2 is skipped.
    down_until: AtomicU64,
    /// Whether the current outage was logged already.
    logged: AtomicBool,
    errors: Counter<u64>,
}

/// Timelines in Redis.
#[derive(Clone)]
pub struct L2 {
    redis: RedisHandle,
    buckets: u64,
    /// A Redis operation on the hot path waits at most this long before the call falls back
    /// to the database (`eligibility.l2_timeout_ms`). A refused connection fails at once; this
    /// bounds a Redis that hangs. It must stay well above queueing delays under load (tens of
    /// milliseconds at hundreds of calls in flight), or a busy Redis is taken for a dead one.
    timeout: Duration,
    /// Seals the personal details cached with a timeline; without it they are not cached.
    sealer: Option<Sealer>,
    /// Whether imports fill this tier ([`L2::filled_by_imports`]).
    import_fills: bool,
    state: Arc<State>,
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// FNV-1a: a stable, fast spread of keys over buckets (the same on every replica and version).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl L2 {
    /// L2 over `redis`, spreading persons over `buckets` hashes (about 64 persons a bucket
    /// keeps each hash a compact listpack), waiting at most `timeout` for each operation.
    ///
    /// With a `sealer`, the personal details of a person loaded from the database are cached
    /// with the timeline, sealed ([`codec::seal_details`]): an L2 hit then answers a caller who
    /// sees names without reading the database.
    pub fn new(redis: RedisHandle, buckets: u64, timeout: Duration, sealer: Option<Sealer>) -> Self {
        let errors = opentelemetry::global::meter("kaigo-eligibility")
            .u64_counter("kaigo.eligibility.redis.errors")
            .with_description("Redis operations that failed or timed out; answers fell back to the database")
            .build();
        Self {
            redis,
            buckets: buckets.max(1),
            timeout,
            sealer,
            import_fills: true,
            state: Arc::new(State { down_until: AtomicU64::new(0), logged: AtomicBool::new(false), errors }),
        }
    }

    /// The Redis key of `key`'s bucket.
    pub fn bucket_key(&self, key: &PersonKey) -> String {
        self.redis.key(&format!("elig:b:{}", fnv1a(key.as_bytes()) % self.buckets))
    }

    /// The invalidation channel.
    pub fn channel(&self) -> String {
        self.redis.key("elig:invalidate")
    }

    fn available(&self) -> bool {
        now_ms() >= self.state.down_until.load(Ordering::Relaxed)
    }

    fn failed(&self, what: &str, err: &dyn std::fmt::Display) {
        let now = now_ms();
        if self.state.down_until.swap(now + BACKOFF_MS, Ordering::Relaxed) <= now {
            rest_periods().add(1, &[]);
        }
        self.state.errors.add(1, &[]);
        if !self.state.logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(operation = what, error = %err, "redis unavailable; answering from memory and the database");
        }
    }

    fn succeeded(&self) {
        if self.state.logged.swap(false, Ordering::Relaxed) {
            tracing::info!("redis available again");
        }
    }

    async fn run<T, F>(&self, what: &str, op: F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if !self.available() {
            return None;
        }
        self.attempt(what, op).await
    }

    /// Like [`L2::run`], but tries even during the back-off: for work that must reach Redis
    /// and is retried by its caller until it does (the outbox consumer's invalidation).
    async fn attempt<T, F>(&self, what: &str, op: F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(Ok(value)) => {
                self.succeeded();
                Some(value)
            }
            Ok(Err(err)) => {
                self.failed(what, &err);
                None
            }
            Err(_) => {
                self.failed(what, &"timed out");
                None
            }
        }
    }

    /// The cached timeline of `key` with the person's access facts, if Redis has both and
    /// answers in time (a value without the facts is a miss), and the personal details when
    /// they were cached with it and open under this process's key.
    pub async fn get(&self, key: &PersonKey) -> Option<(Timeline, Facts, Option<PersonDetails>)> {
        let mut conn = self.redis.conn();
        let bucket = self.bucket_key(key);
        let field = key.as_bytes();
        let bytes: Option<Vec<u8>> = self.run("get", conn.hget(bucket, field.as_slice())).await?;
        self.open(key, bytes)
    }

    /// [`L2::get`] of many persons in one round trip — a batch's misses: one pipeline on a
    /// single server; on a cluster, whose buckets live in different slots, the `HGET`s are sent
    /// together and its connection pipelines them per node. `None` where Redis has no usable
    /// value, and for every key while L2 rests or when the round trip fails.
    pub async fn get_many(&self, keys: &[PersonKey]) -> Vec<Option<(Timeline, Facts, Option<PersonDetails>)>> {
        let misses = || keys.iter().map(|_| None).collect();
        if keys.is_empty() {
            return Vec::new();
        }
        let values: Option<Vec<Option<Vec<u8>>>> = if self.redis.is_cluster() {
            let reads = keys.iter().map(|key| {
                let mut conn = self.redis.conn();
                let bucket = self.bucket_key(key);
                let field = key.as_bytes();
                async move { conn.hget::<_, _, Option<Vec<u8>>>(bucket, field.as_slice()).await }
            });
            self.run("get_many", futures::future::try_join_all(reads)).await
        } else {
            let mut pipe = redis::pipe();
            for key in keys {
                pipe.hget(self.bucket_key(key), key.as_bytes().as_slice());
            }
            let mut conn = self.redis.conn();
            self.run("get_many", pipe.query_async(&mut conn)).await
        };
        match values {
            Some(values) if values.len() == keys.len() => {
                keys.iter().zip(values).map(|(key, bytes)| self.open(key, bytes)).collect()
            }
            _ => misses(),
        }
    }

    /// A stored value of `key` decoded, with its sealed details opened: a value without the
    /// access facts is a miss (written by an older build; the database answers and rewrites it).
    fn open(&self, key: &PersonKey, bytes: Option<Vec<u8>>) -> Option<(Timeline, Facts, Option<PersonDetails>)> {
        let decoded = bytes.and_then(|b| codec::decode_full(&b))?;
        let field = key.as_bytes();
        let details =
            self.sealer.as_ref().and_then(|s| codec::open_details(s, field.as_slice(), &decoded.sealed_details));
        Some((decoded.timeline, decoded.facts?, details))
    }

    /// Caches a timeline with the person's access facts and, sealed, their personal details
    /// (best effort).
    pub async fn put(&self, key: &PersonKey, timeline: &Timeline, facts: &Facts, details: Option<&PersonDetails>) {
        // Resting: nothing to seal or encode (every miss would otherwise pay for a value that is
        // never sent).
        if !self.available() {
            return;
        }
        let conn = self.redis.conn();
        let bucket = self.bucket_key(key);
        let field = key.as_bytes();
        let sealed = match (&self.sealer, details) {
            (Some(sealer), Some(details)) => codec::seal_details(sealer, field.as_slice(), details),
            _ => Vec::new(),
        };
        let value = codec::encode_full(timeline, facts, sealed);
        let mut cmd = evalsha(&PUT_UNLESS_OLDER, &bucket);
        cmd.arg(field.as_slice()).arg(value).arg(timeline.person.version).arg(facts.stamp);
        let put = with_scripts(&conn, |mut conn| {
            let cmd = cmd.clone();
            async move { cmd.query_async::<i64>(&mut conn).await }
        });
        let _: Option<i64> = self.run("put", put).await;
    }

    /// Whether personal details are cached here (a sealing key is configured).
    pub fn seals_details(&self) -> bool {
        self.sealer.is_some()
    }

    /// Caches the complete values of many persons — timeline, access facts and, sealed, personal
    /// details: what a check's miss would put there, so each is a hit — in one round trip on a
    /// single Redis (an import's chunk, a warm-up): one script per bucket with all its persons,
    /// pipelined, each written unless the field holds a newer version ([`PUT_UNLESS_OLDER`]).
    /// Best effort: skipped during the back-off, a failure counted and rested on like any
    /// other. Returns whether Redis took them all.
    pub async fn put_many(&self, entries: &[(PersonKey, super::Cached)]) -> bool {
        if entries.is_empty() {
            return true;
        }
        if !self.available() {
            return false;
        }
        let buckets = self.bucket_commands(entries);
        if self.redis.is_cluster() {
            return self.put_many_cluster(buckets).await;
        }
        let mut pipe = redis::pipe();
        for cmd in buckets {
            pipe.add_command(cmd).ignore();
        }
        let conn = self.redis.conn();
        let put = with_scripts(&conn, |mut conn| {
            let pipe = pipe.clone();
            async move { pipe.query_async::<()>(&mut conn).await }
        });
        self.run::<(), _>("put_many", put).await.is_some()
    }

    /// One [`PUT_UNLESS_OLDER`] per bucket of `entries`, each with the encoded values of all its
    /// persons and their versions.
    fn bucket_commands(&self, entries: &[(PersonKey, super::Cached)]) -> Vec<redis::Cmd> {
        let mut buckets: std::collections::HashMap<String, redis::Cmd> =
            std::collections::HashMap::with_capacity(entries.len());
        for (key, cached) in entries {
            let field = key.as_bytes();
            let sealed = match (&self.sealer, &cached.details) {
                (Some(sealer), Some(details)) => codec::seal_details(sealer, field.as_slice(), details),
                _ => Vec::new(),
            };
            let value = codec::encode_full(&cached.timeline, &cached.access, sealed);
            let bucket = self.bucket_key(key);
            buckets
                .entry(bucket)
                .or_insert_with_key(|bucket| evalsha(&PUT_UNLESS_OLDER, bucket))
                .arg(field.as_slice())
                .arg(value)
                .arg(cached.timeline.person.version)
                .arg(cached.access.stamp);
        }
        buckets.into_values().collect()
    }

    /// On a cluster the buckets live in different slots, which one pipeline cannot span: the
    /// buckets' scripts sent at once (the cluster connection pipelines them per node).
    async fn put_many_cluster(&self, buckets: Vec<redis::Cmd>) -> bool {
        let conn = self.redis.conn();
        let put = with_scripts(&conn, |conn| {
            let sends = buckets.iter().map(move |cmd| {
                let mut conn = conn.clone();
                async move { cmd.query_async::<i64>(&mut conn).await }
            });
            futures::future::try_join_all(sends)
        });
        self.run::<Vec<i64>, _>("put_many", put).await.is_some()
    }

    /// Whether L2 rests now after a failure (its operations are skipped): a caller skips the
    /// work that would only feed it.
    pub fn resting(&self) -> bool {
        !self.available()
    }

    /// Whether an import writes the persons it created or changed here
    /// (`eligibility.import_fills_l2`).
    pub fn filled_by_imports(&self) -> bool {
        self.import_fills
    }

    /// Sets [`L2::filled_by_imports`].
    #[must_use]
    pub fn with_import_fills(mut self, on: bool) -> Self {
        self.import_fills = on;
        self
    }

    /// [`L2::invalidate`] for many persons in one round trip on a single Redis (the deletes
    /// first, then the announcements): an import's changed persons.
    pub async fn invalidate_many(&self, keys: &[PersonKey]) {
        if keys.is_empty() || !self.available() {
            return;
        }
        if self.redis.is_cluster() {
            // Each bucket and the channel hash to their own slots: the deletes together, then
            // the announcements, so that a replica told to reload finds no old entry.
            let mut by_bucket: std::collections::HashMap<String, redis::Cmd> = std::collections::HashMap::new();
            for key in keys {
                by_bucket
                    .entry(self.bucket_key(key))
                    .or_insert_with_key(|bucket| {
                        let mut cmd = redis::cmd("HDEL");
                        cmd.arg(bucket.as_str());
                        cmd
                    })
                    .arg(key.as_bytes().as_slice());
            }
            let deletes = by_bucket.into_values().map(|cmd| {
                let mut conn = self.redis.conn();
                async move { cmd.query_async::<i64>(&mut conn).await }
            });
            let publishes = keys.iter().map(|key| {
                let mut conn = self.redis.conn();
                let channel = self.channel();
                async move { conn.publish::<_, _, i64>(channel, key.as_bytes().as_slice()).await }
            });
            let _: Option<Vec<i64>> = self
                .run("invalidate", async {
                    futures::future::try_join_all(deletes).await?;
                    futures::future::try_join_all(publishes).await
                })
                .await;
            return;
        }
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.hdel(self.bucket_key(key), key.as_bytes().as_slice()).ignore();
        }
        let channel = self.channel();
        for key in keys {
            pipe.publish(&channel, key.as_bytes().as_slice()).ignore();
        }
        let mut conn = self.redis.conn();
        let _: Option<()> = self.run("invalidate", pipe.query_async(&mut conn)).await;
    }

    /// Deletes `key` from L2 and tells every replica to drop it from L1: best effort, skipped
    /// during the back-off (a write must not wait on Redis; the outbox consumer repeats this
    /// through [`L2::invalidate_confirmed`]).
    pub async fn invalidate(&self, key: &PersonKey) {
        if self.available() {
            self.invalidate_confirmed(key).await;
        }
    }

    /// Deletes `key` from L2 and publishes it to every replica, even during the back-off;
    /// returns whether Redis took both. On a cluster a write made while the bucket's primary
    /// was down (before its replica took over) reaches the promoted replica only through this,
    /// so the outbox consumer retries its event until it returns true.
    pub async fn invalidate_confirmed(&self, key: &PersonKey) -> bool {
        let mut conn = self.redis.conn();
        if self.redis.is_cluster() {
            // The bucket and the channel hash to different slots, so no one pipeline; the
            // delete still comes first, or a replica told to reload could read the old entry.
            return self
                .attempt("invalidate", async {
                    let _: i64 = conn.hdel(self.bucket_key(key), key.as_bytes().as_slice()).await?;
                    let _: i64 = conn.publish(self.channel(), key.as_bytes().as_slice()).await?;
                    Ok(())
                })
                .await
                .is_some();
        }
        let mut pipe = redis::pipe();
        pipe.hdel(self.bucket_key(key), key.as_bytes().as_slice()).ignore();
        pipe.publish(self.channel(), key.as_bytes().as_slice()).ignore();
        self.attempt::<(), _>("invalidate", pipe.query_async(&mut conn)).await.is_some()
    }

    /// [`L2::invalidate_confirmed`] for `eligibility.changed` events, each announcing a person
    /// at a version (a write) or at a stamp of the access facts (a change of the facts):
    /// unless the field holds a value at least that new (an import's fill, a miss that reloaded
    /// after the change), it is replaced by a tombstone at the versions ([`TOMBSTONE`], one step
    /// with the comparison). The tombstone is a miss for every reader and refuses any older
    /// value ([`PUT_UNLESS_OLDER`]): a miss that read the person before the change and puts its
    /// value after this runs cannot bring the old state back. Every replica is still told to
    /// drop its L1 entry (it may hold an older one; it reloads).
    ///
    /// The events a consumer read together go in one round trip on a single Redis: every
    /// tombstone script first, then every announcement (a replica told to reload must not find
    /// the older value). On a cluster, where the buckets and the channel hash to different
    /// slots, the scripts are sent together (pipelined per node), then the announcements.
    /// Tried even during the back-off; returns whether Redis answered all of it.
    pub async fn invalidate_confirmed_many(&self, items: &[(PersonKey, Versions)]) -> bool {
        if items.is_empty() {
            return true;
        }
        let conn = self.redis.conn();
        let tombstones: Vec<redis::Cmd> = items
            .iter()
            .map(|(key, at)| tombstone_cmd(&self.bucket_key(key), key.as_bytes().as_slice(), *at))
            .collect();
        let channel = self.channel();
        if self.redis.is_cluster() {
            return self
                .attempt("invalidate", async {
                    let buried = with_scripts(&conn, |conn| {
                        let sends = tombstones.iter().map(move |cmd| {
                            let mut conn = conn.clone();
                            async move { cmd.query_async::<i64>(&mut conn).await }
                        });
                        futures::future::try_join_all(sends)
                    });
                    buried.await?;
                    let announcements = items.iter().map(|(key, _)| {
                        let (mut conn, channel) = (conn.clone(), channel.clone());
                        async move { conn.publish::<_, _, i64>(channel, key.as_bytes().as_slice()).await }
                    });
                    futures::future::try_join_all(announcements).await
                })
                .await
                .is_some();
        }
        let mut pipe = redis::pipe();
        for cmd in tombstones {
            pipe.add_command(cmd).ignore();
        }
        for (key, _) in items {
            pipe.publish(&channel, key.as_bytes().as_slice()).ignore();
        }
        let sent = with_scripts(&conn, |mut conn| {
            let pipe = pipe.clone();
            async move { pipe.query_async::<()>(&mut conn).await }
        });
        self.attempt("invalidate", sent).await.is_some()
    }

    /// The Redis handle.
    pub fn redis(&self) -> &RedisHandle {
        &self.redis
    }

    /// Listens for invalidations from every replica until `stopping`; reconnects by itself
    /// and clears L1 after a gap, since messages sent meanwhile are lost.
    pub async fn listen(self, cache: super::Cache, stopping: kaigo_platform::service::Stopping) {
        let channel = self.channel();
        watch_resting(Arc::downgrade(&self.state));
        let mut first = true;
        while !stopping.is_stopping() {
            let session = async {
                let mut messages = self.redis.subscribe(&channel).await?;
                if !first {
                    cache.invalidate_all_local();
                    tracing::info!("invalidation channel reconnected; L1 cleared");
                }
                first = false;
                while let Some(message) = messages.next_message().await {
                    if let Some(key) = PersonKey::from_bytes(message.get_payload_bytes()) {
                        cache.invalidate_local(&key).await;
                    }
                }
                Ok::<(), redis::RedisError>(())
            };
            tokio::select! {
                result = session => {
                    if let Err(err) = result {
                        self.failed("subscribe", &err);
                    }
                    // Lost the connection: L1 may have missed messages.
                    cache.invalidate_all_local();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                () = stopping.clone().wait() => break,
            }
        }
    }
}

/// `kaigo.eligibility.cache.l2.rests`: back-offs begun, each a rest of L2 for `BACKOFF_MS`
/// after Redis failed or did not answer in time.
fn rest_periods() -> &'static Counter<u64> {
    static RESTS: OnceLock<Counter<u64>> = OnceLock::new();
    RESTS.get_or_init(|| {
        opentelemetry::global::meter("kaigo-eligibility")
            .u64_counter("kaigo.eligibility.cache.l2.rests")
            .with_description("times L2 began to rest (skipped for a back-off) after Redis failed")
            .build()
    })
}

/// The L2 tiers (those listening for invalidations) `kaigo.eligibility.cache.l2.resting` reports.
fn resting_states() -> &'static Mutex<Vec<Weak<State>>> {
    static STATES: OnceLock<Mutex<Vec<Weak<State>>>> = OnceLock::new();
    STATES.get_or_init(|| Mutex::new(Vec::new()))
}

/// Reports `state` in `kaigo.eligibility.cache.l2.resting` while it lives.
fn watch_resting(state: Weak<State>) {
    static GAUGE: OnceLock<ObservableGauge<u64>> = OnceLock::new();
    resting_states().lock().push(state);
    GAUGE.get_or_init(|| {
        opentelemetry::global::meter("kaigo-eligibility")
            .u64_observable_gauge("kaigo.eligibility.cache.l2.resting")
            .with_description("1 while L2 rests after a Redis failure (answers come from L1 and the database), else 0")
            .with_callback(|observer| observer.observe(u64::from(resting_now()), &[]))
            .build()
    });
}

/// Whether any live L2 of the process rests now; forgets the dropped ones.
fn resting_now() -> bool {
    let now = now_ms();
    let mut resting = false;
    resting_states().lock().retain(|state| match state.upgrade() {
        Some(state) => {
            resting |= now < state.down_until.load(Ordering::Relaxed);
            true
        }
        None => false,
    });
    resting
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resting_is_reported_while_an_l2_backs_off_and_forgotten_once_dropped() {
        let errors = opentelemetry::global::meter("test").u64_counter("test.errors").build();
        let state = Arc::new(State { down_until: AtomicU64::new(0), logged: AtomicBool::new(false), errors });
        watch_resting(Arc::downgrade(&state));
        state.down_until.store(now_ms() + 60_000, Ordering::Relaxed);
        assert!(resting_now());
        assert!(resting_states().lock().iter().any(|s| s.as_ptr() == Arc::as_ptr(&state)));
        let gone = Arc::downgrade(&state);
        drop(state);
        resting_now();
        assert!(resting_states().lock().iter().all(|s| !s.ptr_eq(&gone)), "a dropped L2 is forgotten");
    }
}
