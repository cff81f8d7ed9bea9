//! Publishes committed outbox rows to the bus, in order, and marks them published.
//!
//! One relay per service publishes at a time: in PostgreSQL each pass takes a transaction-level
//! advisory lock, so replicas take turns instead of racing (and reordering). A relay killed
//! after publishing but before marking leaves the rows unpublished; the next pass publishes them
//! again and consumers skip the repeats.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, Value};
use tokio::sync::Notify;

use super::{Bus, BusError, Event};

/// How the relay paces itself.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Rows per pass.
    pub batch: u64,
    /// Wait between passes when the outbox is empty (a write also wakes the relay at once
    /// through [`Relay::waker`]).
    pub idle_poll: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        Self { batch: 500, idle_poll: Duration::from_millis(100) }
    }
}

/// A failure in one relay pass; the pass is retried.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The outbox could not be read or marked.
    #[error("outbox: {0}")]
    Db(#[from] DbErr),
    /// The bus refused an event.
    #[error("bus: {0}")]
    Bus(#[from] BusError),
}

/// The outbox relay of one service.
#[derive(Clone)]
pub struct Relay {
    conn: DatabaseConnection,
    bus: Bus,
    options: RelayOptions,
    wake: Arc<Notify>,
    /// The topics this relay has published to (names from code), whose backlog it reports.
    topics: Arc<parking_lot::Mutex<std::collections::BTreeSet<String>>>,
}

/// Marks the comma-separated outbox rows `$2` published at `$1`.
const MARK_PUBLISHED_PG: &str =
    "UPDATE outbox SET published_at = $1 WHERE seq = ANY(string_to_array($2, ',')::bigint[])";

impl Relay {
    /// A relay from `conn`'s outbox to `bus`.
    pub fn new(conn: DatabaseConnection, bus: Bus, options: RelayOptions) -> Self {
        Self { conn, bus, options, wake: Arc::new(Notify::new()), topics: Arc::default() }
    }

    /// Notify this after committing an event to publish it without waiting for the next poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Reads up to `limit` unpublished events in commit order, without publishing them.
    pub async fn fetch_unpublished(&self, conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<(i64, Event)>, DbErr> {
        let backend = conn.get_database_backend();
        let sql = if crate::db::is_postgres(conn) {
            "SELECT seq, event_id, topic, key, payload, trace, created_at FROM outbox \
             WHERE published_at IS NULL ORDER BY seq LIMIT $1"
        } else {
            "SELECT seq, event_id, topic, key, payload, trace, created_at FROM outbox \
             WHERE published_at IS NULL ORDER BY seq LIMIT ?"
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = conn.query_all_raw(Statement::from_sql_and_values(backend, sql, [limit.into()])).await?;
        rows.into_iter()
            .map(|row| {
                let trace: String = row.try_get("", "trace")?;
                let created_at: DateTime<Utc> = row.try_get("", "created_at")?;
                Ok((
                    row.try_get("", "seq")?,
                    Event {
                        id: row.try_get("", "event_id")?,
                        topic: row.try_get("", "topic")?,
                        key: row.try_get("", "key")?,
                        payload: row.try_get("", "payload")?,
                        trace: serde_json::from_str(&trace).unwrap_or_default(),
                        created_at,
                    },
                ))
            })
            .collect()
    }

    /// One pass: publishes a batch and marks it. Returns how many events were published (0 when
    /// another replica holds the relay lock or nothing is waiting).
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let txn = crate::db::begin_write(&self.conn).await?;
        let backend = txn.get_database_backend();
        if crate::db::is_postgres(&txn) {
            let locked = txn
                .query_one_raw(Statement::from_string(
                    backend,
                    "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.outbox_relay')) AS locked",
                ))
                .await?
                .map(|row| row.try_get::<bool>("", "locked"))
                .transpose()?
                .unwrap_or(false);
            if !locked {
                txn.rollback().await?;
                return Ok(0);
            }
        }
        let batch = self.fetch_unpublished(&txn, self.options.batch).await?;
        if batch.is_empty() {
            txn.rollback().await?;
            return Ok(0);
        }
        // A producer span per event, in the trace of the call that wrote it (none when that
        // trace was not sampled), open while the batch is published.
        let spans: Vec<tracing::Span> = batch
            .iter()
            .map(|(_, event)| {
                let span = tracing::info_span!(
                    "event.publish",
                    otel.name = %format_args!("{} publish", event.topic),
                    otel.kind = "producer",
                    messaging.operation = "publish",
                    messaging.destination.name = %event.topic,
                    messaging.batch.message_count = batch.len(),
                );
                crate::telemetry::set_parent_from_fields(&event.trace, &span);
                span
            })
            .collect();
        let events: Vec<Event> = batch.iter().map(|(_, event)| event.clone()).collect();
        self.bus.publish_many(&events).await?;
        drop(spans);
        // Marked in one statement (a few hundred on SQLite's bound parameters).
        let now = Utc::now();
        let seqs: Vec<i64> = batch.iter().map(|(seq, _)| *seq).collect();
        if crate::db::is_postgres(&txn) {
            let list: Vec<String> = seqs.iter().map(i64::to_string).collect();
            let values: [Value; 2] = [now.into(), list.join(",").into()];
            txn.execute_raw(Statement::from_sql_and_values(backend, MARK_PUBLISHED_PG, values)).await?;
        } else {
            for part in seqs.chunks(500) {
                let sql =
                    format!("UPDATE outbox SET published_at = ? WHERE seq IN ({})", vec!["?"; part.len()].join(", "));
                let values: Vec<Value> = std::iter::once(now.into()).chain(part.iter().map(|&s| s.into())).collect();
                txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
            }
        }
        txn.commit().await?;
        let metrics = crate::telemetry::metrics::events();
        let mut topics = self.topics.lock();
        for (_, event) in &batch {
            if !topics.contains(&event.topic) {
                topics.insert(event.topic.clone());
            }
            let topic = opentelemetry::KeyValue::new("topic", event.topic.clone());
            metrics.outbox_lag.record(crate::telemetry::metrics::seconds_since(event.created_at), &[topic]);
        }
        Ok(batch.len())
    }

    /// Relays until `shutdown` resolves, then makes one last pass so that a clean shutdown
    /// leaves nothing committed but unpublished.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        // Beside publishing: the backlog of every consumer group of the topics published to,
        // so a topic whose consumers all stopped still shows (telemetry::metrics).
        let watch: futures::future::BoxFuture<'_, ()> = match &self.bus {
            Bus::Redis(bus) => {
                let topics = self.topics.clone();
                Box::pin(bus.watch_backlog(move || topics.lock().iter().cloned().collect()))
            }
            Bus::Local(_) => Box::pin(std::future::pending()),
        };
        tokio::pin!(watch);
        let mut failing = false;
        loop {
            let published = match self.relay_once().await {
                Ok(n) => {
                    if failing {
                        tracing::info!("outbox relay recovered");
                        failing = false;
                    }
                    n
                }
                Err(err) => {
                    // Logged once per outage, not once per poll.
                    if !failing {
                        tracing::warn!(error = %err, "outbox relay pass failed; retrying");
                        failing = true;
                    }
                    0
                }
            };
            if published as u64 >= self.options.batch {
                continue;
            }
            let pause = if failing { self.options.idle_poll * 10 } else { self.options.idle_poll };
            tokio::select! {
                () = &mut shutdown => break,
                () = &mut watch => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        if let Err(err) = self.relay_once().await {
            tracing::warn!(error = %err, "final outbox relay pass failed; the rows stay for the next start");
        }
    }
}
