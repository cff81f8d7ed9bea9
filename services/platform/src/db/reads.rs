//! Reads from PostgreSQL streaming replicas (`database.read_urls`), never stale for the one
//! who wrote (docs/architecture.md#read-replicas).
//!
//! A [`ReadPool`] holds the primary and one pool per replica. A read asks it for a
//! [`ReadConn`] ([`ReadPool::for_key`], [`ReadPool::any`]): a healthy replica, taken in turn,
//! or the primary when none is. A statement that fails on a replica runs again on the primary
//! (a replica that is down is taken out at once, until the health check finds it back), so a
//! lost replica fails no call.
//!
//! **Health.** Every `database.replica_check_ms` the primary's WAL position is sampled
//! (`pg_current_wal_lsn()`) and each replica is asked `pg_is_in_recovery()` and
//! `pg_last_wal_replay_lsn()`. A replica has every write committed before the newest sample
//! its replay position has reached; how long ago that sample was taken is its lag. It is read
//! from while it is in recovery, answered its last check, and lags at most
//! `database.max_replica_lag_ms`.
//!
//! **Read your writes.** After a commit that changed a person's (or a caller's) data, the
//! service calls [`ReadPool::fence`] with that key. The fence is pending until the next sample
//! of the primary, whose position then includes the commit; reads of the key go to the primary
//! while it is pending and afterwards to a replica only once that replica's replay position is
//! at or past it. A fence leaves the map once every configured replica has replayed past it.
//! The map holds `database.read_your_writes_keys` keys: when it is full, all of them are folded
//! into one fence every read waits for (a burst of writes costs replica reads for a moment,
//! never a stale one). [`ReadPool::fence_all`] does the same on purpose (after a gap in the
//! invalidations of another process's writes).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use parking_lot::Mutex;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};
use sea_orm_migration::async_trait::async_trait;

use crate::background::{Background, Stopping};
use crate::config::DatabaseConfig;

/// A WAL position (`pg_lsn`) as a number.
pub type Lsn = u64;

/// `16/B374D848` → its number; `None` for anything else.
pub fn parse_lsn(text: &str) -> Option<Lsn> {
    let (hi, lo) = text.split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok().filter(|h| *h <= u64::from(u32::MAX))?;
    let lo = u64::from_str_radix(lo, 16).ok().filter(|l| *l <= u64::from(u32::MAX))?;
    Some((hi << 32) | lo)
}

// === the rules, without I/O ===

/// What a read of one key must wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fence {
    /// A write committed before this instant, whose position is not known yet: the primary.
    Pending(Instant),
    /// A replica must have replayed up to here.
    At(Lsn),
}

/// The fences of recent writes, by key, and the one every read waits for.
#[derive(Debug)]
pub(crate) struct Fences {
    keys: HashMap<Box<[u8]>, Fence>,
    floor: Option<Fence>,
    capacity: usize,
}

impl Fences {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { keys: HashMap::new(), floor: None, capacity: capacity.max(1) }
    }

    /// A write to `key` committed before `now`.
    pub(crate) fn fence(&mut self, key: &[u8], now: Instant) {
        if !self.keys.contains_key(key) && self.keys.len() >= self.capacity {
            // Full: one fence at `now` covers every key's (each was committed before it).
            self.fence_all(now);
        }
        self.keys.insert(key.into(), Fence::Pending(now));
    }

    /// Every read waits for the writes committed before `now`.
    pub(crate) fn fence_all(&mut self, now: Instant) {
        self.keys.clear();
        self.floor = Some(Fence::Pending(now));
    }

    /// The primary was at `position` when sampled at `sampled_at`: writes committed before then
    /// are at or below it.
    pub(crate) fn resolve(&mut self, sampled_at: Instant, position: Lsn) {
        for fence in self.keys.values_mut().chain(self.floor.iter_mut()) {
            if let Fence::Pending(at) = *fence
                && at <= sampled_at
            {
                *fence = Fence::At(position);
            }
        }
    }

    /// Forgets the fences every replica has replayed past (`everywhere`: the least replay
    /// position of all of them).
    pub(crate) fn prune(&mut self, everywhere: Lsn) {
        let passed = |fence: &Fence| matches!(fence, Fence::At(lsn) if *lsn <= everywhere);
        self.keys.retain(|_, fence| !passed(fence));
        if self.floor.as_ref().is_some_and(passed) {
            self.floor = None;
        }
    }

    /// The replay position a replica needs to serve `key` (0: any), or `None` when only the
    /// primary may.
    pub(crate) fn required(&self, key: Option<&[u8]>) -> Option<Lsn> {
        let key_fence = key.and_then(|k| self.keys.get(k));
        let mut required = 0;
        for fence in self.floor.iter().chain(key_fence) {
            match fence {
                Fence::Pending(_) => return None,
                Fence::At(lsn) => required = required.max(*lsn),
            }
        }
        Some(required)
    }

    /// How many keys are fenced.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// The primary's recent positions, oldest first.
#[derive(Debug)]
pub(crate) struct Samples {
    taken: VecDeque<(Instant, Lsn)>,
    keep: Duration,
}

impl Samples {
    pub(crate) fn new(keep: Duration) -> Self {
        Self { taken: VecDeque::new(), keep }
    }

    pub(crate) fn push(&mut self, at: Instant, position: Lsn) {
        self.taken.push_back((at, position));
        // Keep one sample older than `keep`, so a replica just within the bound still has one.
        while self.taken.len() > 2 && self.taken.get(1).is_some_and(|(t, _)| at.duration_since(*t) > self.keep) {
            self.taken.pop_front();
        }
    }

    /// The newest instant before which every committed write has been replayed by a replica at
    /// `replay`; `None` when it is behind every sample kept.
    pub(crate) fn caught_up(&self, replay: Lsn) -> Option<Instant> {
        self.taken.iter().rev().find(|(_, position)| *position <= replay).map(|(at, _)| *at)
    }
}

/// A replica's state at its last check.
#[derive(Debug, Clone, Copy)]
struct ReplicaState {
    /// In recovery, answered, within the lag bound.
    healthy: bool,
    /// The replay position last seen (a lower bound of the real one).
    replay: Lsn,
    /// When it was last checked (or found failing).
    checked: Option<Instant>,
}

impl ReplicaState {
    fn serves(&self, required: Lsn, now: Instant, fresh: Duration) -> bool {
        self.healthy && self.replay >= required && self.checked.is_some_and(|at| now.duration_since(at) <= fresh)
    }
}

// === the pool ===

struct Replica {
    /// `replica 1`, `replica 2` …: logs name a replica by its place, never its URL (a password).
    label: String,
    conn: DatabaseConnection,
    state: Mutex<ReplicaState>,
}

struct Inner {
    primary: DatabaseConnection,
    replicas: Vec<Replica>,
    next: AtomicUsize,
    fences: Mutex<Fences>,
    samples: Mutex<Samples>,
    /// One check at a time (the background loop and [`ReadPool::check_now`]).
    checking: tokio::sync::Mutex<()>,
    max_lag: Duration,
    interval: Duration,
    /// The longest a probe may take.
    timeout: Duration,
    reads: Counter<u64>,
}

/// Where a service reads: healthy replicas in turn, the primary otherwise or for a key with a
/// write not yet replayed (the module's documentation). Cheap to clone.
#[derive(Clone)]
pub struct ReadPool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool").field("replicas", &self.inner.replicas.len()).finish_non_exhaustive()
    }
}

impl ReadPool {
    /// Every read on `primary` (no replicas configured, SQLite, tests).
    pub fn primary_only(primary: DatabaseConnection) -> Self {
        Self::build(primary, Vec::new(), &DatabaseConfig::default())
    }

    /// The replicas of `config.read_urls` for `service` (its schema as the search path), each
    /// opened lazily: a replica that is down at start is simply not read from until it
    /// answers. Runs one health check before it returns, then every `replica_check_ms` in
    /// `background`. SQLite has no replicas: refused.
    pub async fn connect(
        config: &DatabaseConfig,
        service: &str,
        primary: DatabaseConnection,
        background: &Background,
    ) -> Result<Self, DbErr> {
        if config.read_urls.is_empty() {
            return Ok(Self::primary_only(primary));
        }
        if primary.get_database_backend() != DbBackend::Postgres {
            return Err(DbErr::Custom(
                "database.read_urls: read replicas need PostgreSQL; kaigo dev (SQLite) has none".to_owned(),
            ));
        }
        let mut replicas = Vec::with_capacity(config.read_urls.len());
        for (i, url) in config.read_urls.iter().enumerate() {
            let mut options = ConnectOptions::new(url.expose().to_owned());
            let application = format!("kaigo-{service}-read");
            options
                .max_connections(config.max_connections)
                .min_connections(0)
                .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
                .connect_timeout(Duration::from_millis(config.acquire_timeout_ms))
                .connect_lazy(true)
                .sqlx_logging(false)
                .set_schema_search_path(service.to_owned())
                .map_sqlx_postgres_opts(move |opts| opts.application_name(&application));
            let mut conn = Database::connect(options)
                .await
                .map_err(|e| DbErr::Custom(format!("database.read_urls entry {}: {e}", i + 1)))?;
            conn.set_metric_callback(crate::telemetry::db::observe("postgresql"));
            replicas.push(Replica {
                label: format!("replica {}", i + 1),
                conn,
                state: Mutex::new(ReplicaState { healthy: false, replay: 0, checked: None }),
            });
        }
        let pool = Self::build(primary, replicas, config);
        pool.check_now().await;
        let running = pool.clone();
        background.spawn("db-replica-check", move |stopping| running.run_checks(stopping));
        Ok(pool)
    }

    fn build(primary: DatabaseConnection, replicas: Vec<Replica>, config: &DatabaseConfig) -> Self {
        let max_lag = Duration::from_millis(config.max_replica_lag_ms);
        let interval = Duration::from_millis(config.replica_check_ms);
        let timeout = Duration::from_millis(config.acquire_timeout_ms.max(config.replica_check_ms));
        let reads = opentelemetry::global::meter("kaigo")
            .u64_counter("kaigo.db.reads")
            .with_description("reads by where they ran: a replica, or the primary")
            .build();
        Self {
            inner: Arc::new(Inner {
                primary,
                replicas,
                next: AtomicUsize::new(0),
                fences: Mutex::new(Fences::new(config.read_your_writes_keys)),
                samples: Mutex::new(Samples::new(max_lag + 2 * interval)),
                checking: tokio::sync::Mutex::new(()),
                max_lag,
                interval,
                timeout,
                reads,
            }),
        }
    }

    /// The primary (writes, transactions, and reads that must see the latest commit).
    pub fn primary(&self) -> &DatabaseConnection {
        &self.inner.primary
    }

    /// How many replicas are configured.
    pub fn replica_count(&self) -> usize {
        self.inner.replicas.len()
    }

    /// Where to read `key`'s data (a person's, or a caller's own; the bytes the service fences
    /// its writes under, held in memory only): a replica that has replayed every write fenced
    /// for it, else the primary.
    pub fn for_key(&self, key: &[u8]) -> ReadConn {
        self.pick(Some(key))
    }

    /// Where to read data no one key's write must be seen in (the fence of every key still
    /// applies when the map was folded).
    pub fn any(&self) -> ReadConn {
        self.pick(None)
    }

    /// A write to `key`'s data has committed (or another process has told of one): reads of
    /// `key` go to the primary until a replica has replayed it. Call after the commit.
    pub fn fence(&self, key: &[u8]) {
        if !self.inner.replicas.is_empty() {
            self.inner.fences.lock().fence(key, Instant::now());
        }
    }

    /// Every read goes to the primary until a replica has replayed everything committed so far.
    pub fn fence_all(&self) {
        if !self.inner.replicas.is_empty() {
            self.inner.fences.lock().fence_all(Instant::now());
        }
    }

    /// How many keys are fenced now (for tests and metrics).
    pub fn fenced_keys(&self) -> usize {
        self.inner.fences.lock().len()
    }

    fn pick(&self, key: Option<&[u8]>) -> ReadConn {
        let inner = &self.inner;
        let n = inner.replicas.len();
        let target = if n == 0 {
            None
        } else {
            inner.fences.lock().required(key).and_then(|required| {
                let now = Instant::now();
                let fresh = 2 * inner.interval + inner.timeout;
                let start = inner.next.fetch_add(1, Ordering::Relaxed);
                (0..n).map(|i| (start + i) % n).find(|&i| inner.replicas[i].state.lock().serves(required, now, fresh))
            })
        };
        ReadConn { pool: self.clone(), target }
    }

    /// One health check now: samples the primary, probes every replica, resolves and prunes
    /// the fences. The background loop calls it every `replica_check_ms`; tests call it to
    /// see a change without waiting.
    pub async fn check_now(&self) {
        let inner = &self.inner;
        if inner.replicas.is_empty() {
            return;
        }
        let _one = inner.checking.lock().await;
        let sampled_at = Instant::now();
        match tokio::time::timeout(inner.timeout, primary_positions(&inner.primary)).await {
            Ok(Ok((written, inserted))) => {
                inner.samples.lock().push(sampled_at, written);
                inner.fences.lock().resolve(sampled_at, inserted);
            }
            // Without a sample the replicas' lag only grows: past the bound they are left alone.
            _ => tracing::debug!("the primary's WAL position could not be read"),
        }
        let probes = inner.replicas.iter().map(|replica| async move {
            tokio::time::timeout(inner.timeout, probe(&replica.conn)).await.ok().and_then(Result::ok)
        });
        let answers = futures::future::join_all(probes).await;
        let mut everywhere = Lsn::MAX;
        for (replica, answer) in inner.replicas.iter().zip(answers) {
            let now = Instant::now();
            let mut state = replica.state.lock();
            let was = state.healthy;
            match answer {
                Some((in_recovery, Some(replay))) => {
                    let caught_up = inner.samples.lock().caught_up(replay);
                    let lag = caught_up.map(|at| now.duration_since(at));
                    state.replay = state.replay.max(replay);
                    state.healthy = in_recovery && lag.is_some_and(|lag| lag <= inner.max_lag);
                    if was && !state.healthy {
                        let lag_ms = lag.map(|l| l.as_millis());
                        tracing::warn!(replica = %replica.label, in_recovery, ?lag_ms, "replica not read from: not in recovery or past database.max_replica_lag_ms");
                    }
                }
                _ => {
                    state.healthy = false;
                    if was {
                        tracing::warn!(replica = %replica.label, "replica does not answer; reads go elsewhere");
                    }
                }
            }
            if !was && state.healthy {
                tracing::info!(replica = %replica.label, "replica healthy; read from");
            }
            state.checked = Some(now);
            everywhere = everywhere.min(state.replay);
        }
        inner.fences.lock().prune(everywhere);
    }

    async fn run_checks(self, stopping: Stopping) {
        let mut ticks = tokio::time::interval(self.inner.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = stopping.wait();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                _ = ticks.tick() => self.check_now().await,
            }
        }
    }

    /// A statement failed on replica `index`: a lost connection takes it out until the next
    /// check finds it back.
    fn replica_failed(&self, index: usize, err: &DbErr) {
        if crate::errors::is_connection_failure(err) {
            let replica = &self.inner.replicas[index];
            let mut state = replica.state.lock();
            if state.healthy {
                tracing::warn!(replica = %replica.label, "replica lost; reads go to the primary until it answers again");
            }
            state.healthy = false;
        } else {
            // A conflict with recovery (a statement cancelled by replay) and the like: the
            // primary answers this once.
            tracing::debug!(replica = %self.inner.replicas[index].label, "statement failed on a replica; run on the primary");
        }
    }

    fn count(&self, replica: bool) {
        if !self.inner.replicas.is_empty() {
            self.inner.reads.add(1, &[KeyValue::new("target", if replica { "replica" } else { "primary" })]);
        }
    }
}

/// The primary's WAL write and insert positions. The write position is what a replica
/// replays up to on an idle primary (the lag samples); the insert position includes every
/// record inserted, committed or not yet written, so a fence resolved to it covers its commit
/// even under `synchronous_commit = off` (it may point past a page header no record follows,
/// which only keeps the fence until the next record is replayed).
async fn primary_positions(conn: &DatabaseConnection) -> Result<(Lsn, Lsn), DbErr> {
    let sql = "SELECT pg_current_wal_lsn()::text, pg_current_wal_insert_lsn()::text";
    let row = conn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbErr::Custom("no row".to_owned()))?;
    let at = |i: usize| -> Result<Lsn, DbErr> {
        let text: String = row.try_get_by_index(i)?;
        parse_lsn(&text).ok_or_else(|| DbErr::Custom(format!("not a WAL position: {text}")))
    };
    Ok((at(0)?, at(1)?))
}

/// A replica's recovery state and replay position.
async fn probe(conn: &DatabaseConnection) -> Result<(bool, Option<Lsn>), DbErr> {
    let sql = "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text";
    let row = conn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .ok_or_else(|| DbErr::Custom("no row".to_owned()))?;
    let in_recovery: bool = row.try_get_by_index(0)?;
    let replay: Option<String> = row.try_get_by_index(1)?;
    Ok((in_recovery, replay.as_deref().and_then(parse_lsn)))
}

/// A connection for reads ([`ReadPool::for_key`], [`ReadPool::any`]): queries run on the
/// replica chosen (again on the primary when they fail there); anything else runs on the
/// primary.
#[derive(Clone)]
pub struct ReadConn {
    pool: ReadPool,
    target: Option<usize>,
}

impl ReadConn {
    /// True when queries go to a replica first.
    pub fn on_replica(&self) -> bool {
        self.target.is_some()
    }

    /// The same pool's primary, as a `ReadConn`: for a read a replica answered with nothing
    /// (a row it has not replayed yet, or one another replica already showed), asked again
    /// where every commit is, and the reads that must agree with it.
    pub fn primary(&self) -> ReadConn {
        ReadConn { pool: self.pool.clone(), target: None }
    }

    /// The replica chosen, unless it has failed since (its pool would wait for a connection
    /// it cannot get).
    fn replica(&self) -> Option<(usize, &DatabaseConnection)> {
        let replica = &self.pool.inner.replicas[self.target?];
        replica.state.lock().healthy.then_some((self.target?, &replica.conn))
    }
}

impl std::fmt::Debug for ReadConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadConn").field("target", &self.target).finish()
    }
}

#[async_trait]
impl ConnectionTrait for ReadConn {
    fn get_database_backend(&self) -> DbBackend {
        self.pool.inner.primary.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.pool.inner.primary.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.pool.inner.primary.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        if let Some((index, replica)) = self.replica() {
            match replica.query_one_raw(stmt.clone()).await {
                Ok(row) => {
                    self.pool.count(true);
                    return Ok(row);
                }
                Err(err) => self.pool.replica_failed(index, &err),
            }
        }
        self.pool.count(false);
        self.pool.inner.primary.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        if let Some((index, replica)) = self.replica() {
            match replica.query_all_raw(stmt.clone()).await {
                Ok(rows) => {
                    self.pool.count(true);
                    return Ok(rows);
                }
                Err(err) => self.pool.replica_failed(index, &err),
            }
        }
        self.pool.count(false);
        self.pool.inner.primary.query_all_raw(stmt).await
    }
}

#[cfg(test)]
mod tests;
