//! Reads events with a consumer group and applies each exactly once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, Statement, Value};

use super::bus::Delivery;
use super::{Bus, BusError, Event};

/// What a handler may fail with; the event is retried, and dead-lettered after
/// `max_deliveries`.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Applies one event inside the transaction that also records it as handled.
pub trait EventHandler: Send + Sync + 'static {
    /// Applies `event` through `txn`. Do every write through `txn`: it commits together with
    /// the dedup record, or not at all. Read through `txn` too: events read together share one
    /// transaction (in their order), so what an earlier one of them changed is visible only
    /// there until the batch commits.
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>>;

    /// Applies `events` — read together, in their order, each new to this group — through
    /// `txn`, when the handler can do the work of many at once for less than one at a time
    /// (one Redis round trip for a whole read's cache invalidations). `None` (the default):
    /// the consumer calls [`EventHandler::handle`] for each. It must do for each event what
    /// `handle` does; when it fails, the batch rolls back and its events are applied one by
    /// one with `handle`.
    fn handle_batch<'a>(
        &'a self,
        _events: &'a [&'a Event],
        _txn: &'a DatabaseTransaction,
    ) -> Option<BoxFuture<'a, Result<(), HandlerError>>> {
        None
    }

    /// Runs after the transaction of a first handling committed (not for a skipped repeat):
    /// for effects outside the database that must not run before the change is visible, such
    /// as dropping cache entries (a reader would otherwise reload the old row). Best effort:
    /// a crash before it runs loses it, so keep caches bounded in time as well.
    fn after_commit<'a>(&'a self, _event: &'a Event) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Who consumes what.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// The consumer group: one per consuming service (e.g. `eligibility`).
    pub group: String,
    /// This replica's name within the group (e.g. the pod name).
    pub consumer: String,
    /// The topics to read.
    pub topics: Vec<String>,
    /// Deliveries before an event is moved to the dead-letter stream.
    pub max_deliveries: u64,
    /// How long another replica's unacknowledged entry waits before this one takes it over.
    pub claim_idle: Duration,
    /// How long one blocking read waits for new entries.
    pub block: Duration,
}

impl ConsumerOptions {
    /// Options with the usual timings.
    pub fn new(group: &str, topics: &[&str]) -> Self {
        Self {
            group: group.to_owned(),
            consumer: format!("{group}-{}", uuid::Uuid::new_v4().simple()),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            max_deliveries: 10,
            claim_idle: Duration::from_secs(30),
            block: Duration::from_millis(500),
        }
    }
}

/// An idempotent consumer.
#[derive(Clone)]
pub struct Consumer {
    conn: DatabaseConnection,
    bus: Bus,
    options: ConsumerOptions,
    handler: Arc<dyn EventHandler>,
}

impl Consumer {
    /// A consumer recording handled events in `conn`'s `processed_events` table.
    pub fn new(conn: DatabaseConnection, bus: Bus, options: ConsumerOptions, handler: Arc<dyn EventHandler>) -> Self {
        Self { conn, bus, options, handler }
    }

    /// Applies `event` unless this group already did. Returns whether it took effect now.
    pub async fn apply(&self, event: &Event) -> Result<bool, HandlerError> {
        let txn = crate::db::begin_write(&self.conn).await?;
        // The insert and the handler's writes commit together: a crash before commit leaves
        // neither, so the redelivered event is applied then; after commit the event id is
        // known and a repeat is skipped.
        let inserted = self.record_processed(&txn, &[event.id.as_str()]).await?.len();
        if inserted == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        let span = self.handle_span(event);
        // instrument, not enter: an entered span held across an await leaks into other tasks.
        tracing::Instrument::instrument(self.handler.handle(event, &txn), span).await?;
        txn.commit().await?;
        self.record_lag(event);
        self.handler.after_commit(event).await;
        Ok(true)
    }

    /// The consumer span of handling `event`, in the trace of the call that wrote it.
    fn handle_span(&self, event: &Event) -> tracing::Span {
        let span = tracing::info_span!(
            "event.handle",
            otel.name = %format_args!("{} process", event.topic),
            otel.kind = "consumer",
            messaging.operation = "process",
            messaging.destination.name = %event.topic,
            messaging.consumer.group.name = %self.options.group,
            topic = %event.topic,
            group = %self.options.group,
        );
        crate::telemetry::set_parent_from_fields(&event.trace, &span);
        span
    }

    fn record_lag(&self, event: &Event) {
        let labels = [
            opentelemetry::KeyValue::new("topic", event.topic.clone()),
            opentelemetry::KeyValue::new("group", self.options.group.clone()),
        ];
        let lag = crate::telemetry::metrics::seconds_since(event.created_at);
        crate::telemetry::metrics::events().lag.record(lag, &labels);
    }

    /// Consumes until `shutdown` resolves. Redis trouble is retried with a pause; the consumer
    /// resumes by itself when Redis returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        match &self.bus {
            Bus::Local(bus) => {
                let mut rx = bus.subscribe(&self.options.topics, &self.options.group);
                loop {
                    let event = tokio::select! {
                        () = &mut shutdown => break,
                        event = rx.recv() => match event { Some(e) => e, None => break },
                    };
                    let mut attempt = 0;
                    while let Err(err) = self.apply(&event).await {
                        attempt += 1;
                        if attempt >= self.options.max_deliveries {
                            tracing::error!(topic = %event.topic, event_id = %event.id, error = %err, "event dropped after repeated failures");
                            self.count_dead_letter(&event.topic);
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                    }
                }
            }
            Bus::Redis(bus) => {
                // Beside consuming: the backlog of every group of its topics (a stuck or
                // stopped consumer shows as a backlog that does not shrink).
                let topics = self.options.topics.clone();
                let watch = bus.watch_backlog(move || topics.clone());
                tokio::pin!(watch);
                let mut failing = false;
                loop {
                    let pass = tokio::select! {
                        () = &mut shutdown => break,
                        () = &mut watch => break,
                        pass = self.redis_pass() => pass,
                    };
                    match pass {
                        Ok(()) => failing = false,
                        Err(err) => {
                            if !failing {
                                tracing::warn!(error = %err, group = %self.options.group, "event consumer failing; retrying");
                                failing = true;
                            }
                            tokio::select! {
                                () = &mut shutdown => break,
                                () = &mut watch => break,
                                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            }
                        }
                    }
                }
            }
        }
    }

    /// One session against Redis: own pending entries first (left by a crash of this consumer),
    /// then abandoned ones of other replicas, then new entries until an error.
    async fn redis_pass(&self) -> Result<(), BusError> {
        let Bus::Redis(bus) = &self.bus else { return Ok(()) };
        let o = &self.options;
        bus.ensure_group(&o.topics, &o.group).await?;
        let mut conn = bus.redis().dedicated().await?;
        loop {
            let pending = bus.read(&mut conn, o, true).await?;
            if pending.is_empty() {
                break;
            }
            self.process(pending).await?;
        }
        let mut last_claim = tokio::time::Instant::now();
        loop {
            if last_claim.elapsed() >= o.claim_idle / 2 {
                let claimed =
                    bus.claim_abandoned(&o.topics, &o.group, &o.consumer, o.claim_idle.as_millis() as u64).await?;
                self.process(claimed).await?;
                last_claim = tokio::time::Instant::now();
            }
            let fresh = bus.read(&mut conn, o, false).await?;
            self.process(fresh).await?;
        }
    }

    fn count_dead_letter(&self, topic: &str) {
        let labels = [
            opentelemetry::KeyValue::new("topic", topic.to_owned()),
            opentelemetry::KeyValue::new("group", self.options.group.clone()),
        ];
        crate::telemetry::metrics::events().dead_lettered.add(1, &labels);
    }

    /// Applies `deliveries` in one transaction — the dedup records of all of them, then the
    /// handler of each one new to this group, in order — and acknowledges them in one command
    /// per stream. A bulk change's events (an import changing 100,000 persons) were a
    /// transaction, a commit and an acknowledgement each. Returns `false`, with nothing
    /// committed or acknowledged, when a handler failed: the caller then applies them one by one
    /// so that only the failing event is retried or dead-lettered.
    async fn apply_batch(&self, bus: &super::RedisBus, deliveries: &[Delivery]) -> Result<bool, BusError> {
        let txn = crate::db::begin_write(&self.conn).await?;
        let ids: Vec<&str> = deliveries.iter().map(|d| d.event.id.as_str()).collect();
        let mut new = self.record_processed(&txn, &ids).await?;
        // Each new id once, though a relay that died before marking published it twice.
        let applied: Vec<&Event> =
            deliveries.iter().map(|d| &d.event).filter(|event| new.remove(event.id.as_str())).collect();
        let batched = match self.handler.handle_batch(&applied, &txn) {
            Some(batch) => {
                // Each event's span covers the batch that applied it, in the event's trace.
                let spans: Vec<tracing::Span> = applied.iter().map(|event| self.handle_span(event)).collect();
                let handled = batch.await;
                drop(spans);
                Some(handled)
            }
            None => None,
        };
        if let Some(handled) = batched {
            if let Err(err) = handled {
                txn.rollback().await?;
                tracing::debug!(events = applied.len(), error = %err, "a batch failed; applying one by one");
                return Ok(false);
            }
        } else {
            for event in &applied {
                let span = self.handle_span(event);
                if let Err(err) = tracing::Instrument::instrument(self.handler.handle(event, &txn), span).await {
                    txn.rollback().await?;
                    tracing::debug!(topic = %event.topic, event_id = %event.id, error = %err, "a batch's event failed; applying one by one");
                    return Ok(false);
                }
            }
        }
        txn.commit().await?;
        for event in &applied {
            self.record_lag(event);
            self.handler.after_commit(event).await;
        }
        let mut by_stream: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
        for delivery in deliveries {
            by_stream.entry(&delivery.stream).or_default().push(&delivery.entry_id);
        }
        for (stream, entries) in by_stream {
            bus.ack_many(stream, &self.options.group, &entries).await?;
        }
        Ok(true)
    }

    /// Records `ids` as handled by this group through `txn`; returns those not handled before.
    async fn record_processed<'i>(
        &self,
        txn: &DatabaseTransaction,
        ids: &[&'i str],
    ) -> Result<std::collections::HashSet<&'i str>, DbErr> {
        let backend = txn.get_database_backend();
        let now = chrono::Utc::now();
        if crate::db::is_postgres(txn) {
            let list = serde_json::to_string(ids).map_err(|e| DbErr::Custom(e.to_string()))?;
            let rows = txn
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    RECORD_PROCESSED_PG,
                    [self.options.group.clone().into(), list.into(), now.into()],
                ))
                .await?;
            let inserted: std::collections::HashSet<String> =
                rows.iter().map(|row| row.try_get::<String>("", "event_id")).collect::<Result<_, _>>()?;
            return Ok(ids.iter().copied().filter(|id| inserted.contains(*id)).collect());
        }
        let mut new = std::collections::HashSet::new();
        for id in ids {
            let values: [Value; 3] = [self.options.group.clone().into(), (*id).to_owned().into(), now.into()];
            let sql = "INSERT INTO processed_events (consumer_group, event_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING";
            if txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?.rows_affected() > 0 {
                new.insert(*id);
            }
        }
        Ok(new)
    }

    async fn process(&self, deliveries: Vec<Delivery>) -> Result<(), BusError> {
        let Bus::Redis(bus) = &self.bus else { return Ok(()) };
        if deliveries.len() > 1 && self.apply_batch(bus, &deliveries).await? {
            return Ok(());
        }
        for delivery in deliveries {
            match self.apply(&delivery.event).await {
                Ok(_) => bus.ack(&delivery.stream, &self.options.group, &delivery.entry_id).await?,
                Err(err) => {
                    let deliveries = bus.delivery_count(&delivery, &self.options.group).await?;
                    if deliveries >= self.options.max_deliveries || is_permanent(&err) {
                        tracing::error!(topic = %delivery.event.topic, event_id = %delivery.event.id, error = %err, "event moved to the dead-letter stream");
                        bus.dead_letter(&delivery, &self.options.group, &err.to_string()).await?;
                        self.count_dead_letter(&delivery.event.topic);
                    } else {
                        // Left pending: redelivered to this consumer on its next session, or
                        // claimed by another replica after claim_idle.
                        tracing::warn!(topic = %delivery.event.topic, event_id = %delivery.event.id, error = %err, "event handling failed; will retry");
                        return Err(BusError::Malformed("handler failed; restarting the session to retry".to_owned()));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Records the JSON array of event ids `$2` as handled by group `$1` at `$3`; returns the ids
/// not recorded before.
const RECORD_PROCESSED_PG: &str = "INSERT INTO processed_events (consumer_group, event_id, processed_at) \
     SELECT $1, x, $3 FROM json_array_elements_text($2::json) AS x ON CONFLICT DO NOTHING RETURNING event_id";

/// A handler error that retrying cannot fix (a payload that does not decode).
fn is_permanent(err: &HandlerError) -> bool {
    err.downcast_ref::<prost::DecodeError>().is_some()
}

impl From<DbErr> for BusError {
    fn from(err: DbErr) -> Self {
        BusError::Malformed(format!("database: {err}"))
    }
}
