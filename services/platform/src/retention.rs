//! How long the platform's own records are kept: idempotency records (a retry later than this
//! is a new request), the read audit trail (kept for the operator's legal retention, or
//! forever), the event streams this process publishes to, the published rows of its outbox and
//! its consumers' records of handled events. One background task per service process trims
//! them, every `interval_secs`; with several replicas each trims, and every trim is idempotent.
//!
//! On PostgreSQL the audit trail is partitioned by month ([`crate::audit::partitions`]): each
//! pass first creates the current and the next month's partitions when missing, then drops the
//! months wholly past `audit_days` and deletes only the older rows of the month the boundary
//! falls in. The idempotency trim is a `DELETE … WHERE created_at < $1` on the
//! `idempotency_records_by_age` index: an index range scan over the expired rows only. The
//! event tables are trimmed through the indexes on their UUIDv7 event ids
//! ([`crate::events::trim`]).
//!
//! # When a handled event's key may go
//!
//! A consumer group skips an event it has handled by finding the event's id among its
//! `processed_events` keys, so a key must outlive every delivery of its event to the group
//! that can still come. Repeats come from four places:
//!
//! 1. *The same stream entry again.* A consumer that committed the handling but died before
//!    XACK leaves the entry pending; it comes back when a consumer of that name restarts, or
//!    when another replica claims it after `claim_idle`. Nothing bounds that in time: with
//!    every consumer of the group stopped for a week, the entry waits a week. What bounds it
//!    is the stream: [`crate::events::RedisBus::trim`] never removes an entry a group has
//!    pending or not yet read, so an entry that is gone cannot come back. An entry's id is the
//!    Redis server's clock when it was added, before it was delivered and handled; so when the
//!    key's `processed_at` lies more than [`CLOCK_ALLOWANCE`] (for the consumer's and Redis's
//!    clocks disagreeing) before the oldest entry of each stream the group reads
//!    ([`crate::events::RedisBus::oldest_entry`]), the entry it was handled from is gone, and
//!    with it every pending copy.
//! 2. *A new entry of the same event.* A relay that published but did not mark the row
//!    publishes it again at its next pass: within a second while any replica of the publishing
//!    service runs. With every replica stopped it waits for the next start; meanwhile nothing
//!    trims that service's streams (a stream is trimmed only by the processes that published
//!    to it since they started, and each topic has one publishing service), and a restarted
//!    relay publishes the unmarked rows first, in order. So the stream still holds the first
//!    entry, or an entry the group read after it, until the repeat is in the stream: rule 1
//!    keeps the key.
//! 3. *A replay by hand* (outbox rows marked unpublished again). A key is kept at least
//!    `processed_hours` after its event was handled, at least `outbox_hours` after it was
//!    published (validation holds `processed_hours >= outbox_hours`): every event still in an
//!    outbox is still known to the consumers that handled it, so replaying any outbox row
//!    applies nothing twice.
//! 4. *A stream that lost its entries* (a Redis failover that lost the newest writes, a server
//!    replaced or flushed): its oldest entry is new, so rule 1 would let every key go; the
//!    floor of rule 3 keeps them while the outbox can still refill the stream.
//!
//! A key goes when both hold: handled more than `processed_hours` ago and, on Redis, more than
//! [`CLOCK_ALLOWANCE`] before the oldest entry of every stream its group reads. Groups are those
//! whose consumers run in this process ([`crate::events::Bus::consumer_groups`]); a group no
//! consumer has joined since the start keeps every key, and so does a group one of whose
//! streams does not exist or cannot be read this pass.
//!
//! With the in-process bus (`kaigo dev`) there is no stream to consult and the bus forgets
//! everything at a stop, so repeats come only from rules 2 and 3: rows a stopped process left
//! published but unmarked, which the relay publishes at its first pass after the next start
//! (it polls every 100 ms). Keys go by `processed_hours` alone, and never in the first pass
//! after a start: the next one, `interval_secs` later, finds those repeats handled.
//!
//! # Published outbox rows
//!
//! A row goes `outbox_hours` after it was published; a row not yet published stays however
//! old (the relay has still to publish it). Both event tables go by the system clock, which
//! stamped them (`published_at`, `processed_at`), not by the service's injected clock.

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
    /// Hours a published outbox row is kept after publishing (unpublished rows are never
    /// trimmed). Kept rows let an operator refill streams that lost their newest entries by
    /// marking rows unpublished again; 72 hours, as long as the streams keep read events, so
    /// a loss found after a weekend can still be replayed.
    pub outbox_hours: u32,
    /// Hours a consumer's record of a handled event (its dedup key) is kept at least; on Redis
    /// also as long as the event's stream entry can still be delivered (see the module's
    /// rules). At least `outbox_hours`, so replaying any row still in an outbox is deduplicated.
    pub processed_hours: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            idempotency_days: 7,
            audit_days: 0,
            interval_secs: 3600,
            stream_hours: 72,
            outbox_hours: 72,
            processed_hours: 72,
        }
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
        if self.outbox_hours == 0 {
            problems
                .add("retention.outbox_hours", "must be at least 1 (lost stream entries are replayed from the outbox)");
        }
        if self.processed_hours < self.outbox_hours {
            problems.add(
                "retention.processed_hours",
                "must be at least retention.outbox_hours (a replayed outbox row must find its consumers' keys)",
            );
        }
    }
}

/// How far the consumer's clock (which stamps `processed_at`) and the Redis server's (which
/// stamps stream entry ids) may disagree without a key going too early: generous against the
/// milliseconds NTP keeps them within, at the cost of keeping keys an hour longer.
pub const CLOCK_ALLOWANCE: chrono::Duration = chrono::Duration::hours(1);

/// Starts the trimming task of `ctx`'s service.
pub fn spawn(ctx: &ServiceContext, config: &RetentionConfig) {
    let db = ctx.db.clone();
    let bus = ctx.bus.clone();
    let clock = ctx.clock.clone();
    let config = config.clone();
    let service = ctx.name;
    ctx.background.spawn("retention", move |stopping| async move {
        let interval = Duration::from_secs(config.interval_secs);
        let mut first = true;
        loop {
            trim(&db, &config, service, clock.as_ref()).await;
            if let Bus::Redis(bus) = &bus {
                trim_streams(bus, &config, service).await;
            }
            trim_outbox(&db, &config, service).await;
            // The in-process bus has no stream to tell what can come again: not before the
            // relays' first passes after this start (the module's rules).
            if !first || matches!(bus, Bus::Redis(_)) {
                trim_handled(&db, &bus, &config, service).await;
            }
            first = false;
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

/// Deletes the outbox rows published more than `outbox_hours` ago; failures are logged and
/// retried at the next pass.
pub async fn trim_outbox(db: &sea_orm::DatabaseConnection, config: &RetentionConfig, service: &str) {
    let before = chrono::Utc::now() - chrono::Duration::hours(i64::from(config.outbox_hours));
    match crate::events::trim::trim_outbox(db, before).await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(service, removed, "published outbox rows past retention removed"),
        Err(err) => tracing::warn!(service, error = %err, "outbox retention failed; retrying later"),
    }
}

/// Deletes the keys of handled events that no delivery can repeat any more, for each consumer
/// group of this process (the module's rules); failures are logged and retried at the next
/// pass. With the in-process bus, call it only after the relays' first passes since the start
/// ([`spawn`] skips its first pass).
pub async fn trim_handled(db: &sea_orm::DatabaseConnection, bus: &Bus, config: &RetentionConfig, service: &str) {
    for (group, topics) in bus.consumer_groups() {
        let Some(before) = handled_before(bus, &topics, config, service, &group).await else { continue };
        match crate::events::trim::trim_processed(db, &group, before).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(service, group = %group, removed, "keys of handled events removed"),
            Err(err) => {
                tracing::warn!(service, group = %group, error = %err, "processed events retention failed; retrying later")
            }
        }
    }
}

/// The instant before which `group`'s keys may go, or `None` when none may this pass.
async fn handled_before(
    bus: &Bus,
    topics: &[String],
    config: &RetentionConfig,
    service: &str,
    group: &str,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut before = chrono::Utc::now() - chrono::Duration::hours(i64::from(config.processed_hours));
    let Bus::Redis(bus) = bus else { return Some(before) };
    for topic in topics {
        match bus.oldest_entry(topic).await {
            Ok(Some(oldest)) => before = before.min(oldest - CLOCK_ALLOWANCE),
            Ok(None) => return None,
            Err(err) => {
                tracing::warn!(service, group, topic = %topic, error = %err, "stream not read; its group's keys kept this pass");
                return None;
            }
        }
    }
    Some(before)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSource;

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Config {
        retention: RetentionConfig,
    }

    impl Validate for Config {
        fn validate(&self, problems: &mut Problems) {
            self.retention.validate(problems);
        }
    }

    #[test]
    fn the_event_tables_keep_their_rows_long_enough_for_a_replay() {
        let config = ConfigSource::new().load::<Config>().unwrap();
        assert_eq!((config.retention.outbox_hours, config.retention.processed_hours), (72, 72));
        let longer = ConfigSource::new().with_env("KAIGO_RETENTION__PROCESSED_HOURS", "200").load::<Config>().unwrap();
        assert_eq!(longer.retention.processed_hours, 200);
        for (pairs, key) in [
            (vec![("KAIGO_RETENTION__OUTBOX_HOURS", "0")], "retention.outbox_hours"),
            (vec![("KAIGO_RETENTION__PROCESSED_HOURS", "71")], "retention.processed_hours"),
            (
                vec![("KAIGO_RETENTION__OUTBOX_HOURS", "100"), ("KAIGO_RETENTION__PROCESSED_HOURS", "99")],
                "retention.processed_hours",
            ),
        ] {
            let source = pairs.iter().fold(ConfigSource::new(), |s, (k, v)| s.with_env(*k, *v));
            let err = source.load::<Config>().unwrap_err();
            assert!(err.key.starts_with(key), "{err}");
        }
    }
}
