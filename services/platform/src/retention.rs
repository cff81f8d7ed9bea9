//! How long the platform's own records are kept: idempotency records (a retry later than this
//! is a new request), the read audit trail (kept for the operator's legal retention, or
//! forever) and the event streams this process publishes to. One background task per service
//! process trims them, every `interval_secs`; with several replicas each trims, and every trim
//! is idempotent.
//!
//! On PostgreSQL the audit trail is partitioned by month ([`crate::audit::partitions`]): each
//! pass first creates the current and the next month's partitions when missing, then drops the
//! months wholly past `audit_days` and deletes only the older rows of the month the boundary
//! falls in. The idempotency trim is a `DELETE … WHERE created_at < $1` on the
//! `idempotency_records_by_age` index: an index range scan over the expired rows only.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::Pruned;
use crate::config::{Problems, Validate};
use crate::events::{Bus, RedisBus};
use crate::service::ServiceContext;
use crate::time::Clock;

/// `[retention]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days an idempotency record (a write's stored answer) is kept. Callers retry within
    /// minutes; batch systems re-send a failed night's work within days.
    pub idempotency_days: u32,
    /// Days a read audit record is kept; 0 keeps every record (the default: the operator
    /// sets the period its records policy requires).
    pub audit_days: u32,
    /// Seconds between trims.
    pub interval_secs: u64,
    /// Hours an event stays in its Redis stream after every consumer group has read and
    /// acknowledged it. Entries a group has yet to read are never trimmed, however old; this
    /// bounds what is kept besides: the window a new consumer group (created at the start of
    /// its streams) or an operator replaying by hand can still see. The default, 72 hours,
    /// outlasts a weekend (Friday evening to Monday morning, ~64 h) with a working day to spare.
    pub stream_hours: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { idempotency_days: 7, audit_days: 0, interval_secs: 3600, stream_hours: 72 }
    }
}

impl Validate for RetentionConfig {
    fn validate(&self, problems: &mut Problems) {
        if self.idempotency_days == 0 {
            problems.add("retention.idempotency_days", "must be at least 1 (a retry needs its stored answer)");
        }
        if self.interval_secs == 0 {
            problems.add("retention.interval_secs", "must be at least 1");
        }
        if self.stream_hours == 0 {
            problems.add("retention.stream_hours", "must be at least 1 (a new consumer group reads from what is kept)");
        }
    }
}

/// Starts the trimming task of `ctx`'s service.
pub fn spawn(ctx: &ServiceContext, config: &RetentionConfig) {
    let db = ctx.db.clone();
    let bus = ctx.bus.clone();
    let clock = ctx.clock.clone();
    let config = config.clone();
    let service = ctx.name;
    ctx.background.spawn("retention", move |stopping| async move {
        let interval = Duration::from_secs(config.interval_secs);
        loop {
            trim(&db, &config, service, clock.as_ref()).await;
            if let Bus::Redis(bus) = &bus {
                trim_streams(bus, &config, service).await;
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stopping.clone().wait() => return,
            }
        }
    });
}

/// One pass, by `clock`: the service's, which stamped the idempotency records; failures are
/// logged and retried at the next pass.
pub async fn trim(db: &sea_orm::DatabaseConnection, config: &RetentionConfig, service: &str, clock: &dyn Clock) {
    let now = clock.now();
    let days = |n: u32| chrono::Duration::days(i64::from(n));
    match crate::idempotency::prune(db, now - days(config.idempotency_days)).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(service, removed, "idempotency records past retention removed"),
        Err(err) => tracing::warn!(service, error = %err, "idempotency retention failed; retrying later"),
    }
    match crate::audit::partitions::ensure(db, now).await {
        Ok(0) => {}
        Ok(created) => tracing::info!(service, created, "audit partitions created ahead"),
        Err(err) => tracing::warn!(service, error = %err, "audit partitions not created; retrying later"),
    }
    if config.audit_days > 0 {
        match crate::audit::prune(db, now - days(config.audit_days)).await {
            Ok(Pruned { partitions: 0, rows: 0 }) => {}
            Ok(Pruned { partitions, rows }) => {
                tracing::info!(service, partitions, rows, "audit records past retention removed");
            }
            Err(err) => tracing::warn!(service, error = %err, "audit retention failed; retrying later"),
        }
    }
}

/// Trims the streams this process has published to ([`RedisBus::trim`]); failures are logged
/// and retried at the next pass.
pub async fn trim_streams(bus: &RedisBus, config: &RetentionConfig, service: &str) {
    let keep = Duration::from_secs(u64::from(config.stream_hours) * 3600);
    for topic in bus.published_topics() {
        match bus.trim(&topic, keep).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(service, topic = %topic, removed, "read events trimmed from the stream"),
            Err(err) => tracing::warn!(service, topic = %topic, error = %err, "stream trim failed; retrying later"),
        }
    }
}
