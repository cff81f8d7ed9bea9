//! The platform's own instruments (events and the read audit), created once per process from
//! the global meter that [`super::init`] sets (before any service starts). Labels are topics
//! and consumer groups: names fixed in code, never data.
//!
//! | instrument | kind, unit | labels | what |
//! |---|---|---|---|
//! | `kaigo.outbox.lag` | histogram, s | `topic` | commit of an event → its publication by the relay |
//! | `kaigo.events.lag` | histogram, s | `topic`, `group` | commit of an event → its handling by a consumer group |
//! | `kaigo.events.dead_lettered` | counter | `topic`, `group` | events moved to the dead-letter stream |
//! | `kaigo.events.backlog` | gauge | `topic`, `group` | entries of the topic's stream the group has not acknowledged (undelivered and pending), read every 15 s |
//! | `kaigo.audit.buffered` | gauge | — | read records waiting for the audit writer (every service of the process) |
//! | `kaigo.audit.flush.duration` | histogram, s | — | one batch written to the audit table, retries included |
//! | `kaigo.audit.write_failures` | counter | — | failed attempts to write a batch (each is retried) |

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, ObservableGauge};
use parking_lot::Mutex;

/// Boundaries (seconds) for lags that are milliseconds when all is well and minutes when not.
const LAG_BOUNDARIES: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// Whether a meter provider exports (OTLP or Prometheus): probes that cost a query or a
/// command ([`super::db::watch_wait`]) run only then.
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks the process's metrics as exported ([`super::init`]).
pub(crate) fn set_exporting() {
    EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`set_exporting`] was called.
pub(crate) fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// Event instruments.
pub(crate) struct EventMetrics {
    pub outbox_lag: Histogram<f64>,
    pub lag: Histogram<f64>,
    pub dead_lettered: Counter<u64>,
}

pub(crate) fn events() -> &'static EventMetrics {
    static METRICS: OnceLock<EventMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("kaigo");
        EventMetrics {
            outbox_lag: meter
                .f64_histogram("kaigo.outbox.lag")
                .with_unit("s")
                .with_description("time from an event's commit to its publication")
                .with_boundaries(LAG_BOUNDARIES.to_vec())
                .build(),
            lag: meter
                .f64_histogram("kaigo.events.lag")
                .with_unit("s")
                .with_description("time from an event's commit to its handling by a consumer group")
                .with_boundaries(LAG_BOUNDARIES.to_vec())
                .build(),
            dead_lettered: meter
                .u64_counter("kaigo.events.dead_lettered")
                .with_description("events moved to the dead-letter stream")
                .build(),
        }
    })
}

/// How often each process reads the backlog of the streams it consumes or publishes to.
pub(crate) const BACKLOG_INTERVAL: Duration = Duration::from_secs(15);
/// A reading not renewed for this long is dropped (its stream or its reader is gone).
const BACKLOG_STALE: Duration = Duration::from_secs(60);
/// At most this many groups a topic are reported; group names come from Redis, not from code.
const MAX_GROUPS_PER_TOPIC: usize = 16;

type BacklogReadings = HashMap<(String, String), (u64, Instant)>;

fn backlogs() -> &'static Mutex<BacklogReadings> {
    static BACKLOGS: OnceLock<Mutex<BacklogReadings>> = OnceLock::new();
    BACKLOGS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The gauge over [`backlogs`], created with the first reading.
fn backlog_gauge() -> &'static ObservableGauge<u64> {
    static GAUGE: OnceLock<ObservableGauge<u64>> = OnceLock::new();
    GAUGE.get_or_init(|| {
        opentelemetry::global::meter("kaigo")
            .u64_observable_gauge("kaigo.events.backlog")
            .with_description(
                "entries of a topic's stream a consumer group has not acknowledged (undelivered and pending)",
            )
            .with_callback(|observer| {
                for (topic, group, n) in backlog_readings() {
                    observer.observe(n, &[KeyValue::new("topic", topic), KeyValue::new("group", group)]);
                }
            })
            .build()
    })
}

/// A group name fit for a label: what kaigo's own groups look like (`eligibility-cache` …).
fn plausible_group(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Replaces the backlog readings of `topic` (a name from code) with `groups`' (from XINFO
/// GROUPS): at most [`MAX_GROUPS_PER_TOPIC`] groups, each named like kaigo's own.
pub(crate) fn record_backlog(topic: &str, groups: Vec<(String, u64)>) {
    let _ = backlog_gauge();
    let now = Instant::now();
    let mut readings = backlogs().lock();
    readings.retain(|(t, _), _| t != topic);
    for (group, n) in groups.into_iter().filter(|(g, _)| plausible_group(g)).take(MAX_GROUPS_PER_TOPIC) {
        readings.insert((topic.to_owned(), group), (n, now));
    }
}

/// The fresh backlog readings (topic, group, entries); forgets the stale ones.
fn backlog_readings() -> Vec<(String, String, u64)> {
    let mut readings = backlogs().lock();
    readings.retain(|_, (_, at)| at.elapsed() < BACKLOG_STALE);
    readings.iter().map(|((topic, group), (n, _))| (topic.clone(), group.clone(), *n)).collect()
}

/// Seconds since `created_at` (0 when the clocks disagree).
pub(crate) fn seconds_since(created_at: chrono::DateTime<chrono::Utc>) -> f64 {
    (chrono::Utc::now() - created_at).num_microseconds().map_or(0.0, |us| us.max(0) as f64 / 1e6)
}

/// Audit instruments.
pub(crate) struct AuditMetrics {
    pub flush: Histogram<f64>,
    pub failures: Counter<u64>,
    _buffered: ObservableGauge<u64>,
}

/// How full each audit buffer of the process is; `None` once its writer is gone.
type BufferProbe = Box<dyn Fn() -> Option<usize> + Send + Sync>;

fn buffers() -> &'static Mutex<Vec<BufferProbe>> {
    static BUFFERS: OnceLock<Mutex<Vec<BufferProbe>>> = OnceLock::new();
    BUFFERS.get_or_init(|| Mutex::new(Vec::new()))
}

pub(crate) fn audit() -> &'static AuditMetrics {
    static METRICS: OnceLock<AuditMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("kaigo");
        AuditMetrics {
            flush: meter
                .f64_histogram("kaigo.audit.flush.duration")
                .with_unit("s")
                .with_boundaries(LAG_BOUNDARIES.to_vec())
                .with_description("time to write one batch of read records, retries included")
                .build(),
            failures: meter
                .u64_counter("kaigo.audit.write_failures")
                .with_description("failed attempts to write a batch of read records (each is retried)")
                .build(),
            _buffered: meter
                .u64_observable_gauge("kaigo.audit.buffered")
                .with_description("read records waiting for the audit writer")
                .with_callback(|observer| observer.observe(buffered_total() as u64, &[]))
                .build(),
        }
    })
}

/// The records waiting in every audit buffer of the process; forgets the buffers gone.
fn buffered_total() -> usize {
    let mut total = 0;
    buffers().lock().retain(|probe| probe().inspect(|n| total += n).is_some());
    total
}

/// Counts `probe`'s records in `kaigo.audit.buffered` while it answers `Some`.
pub(crate) fn watch_audit_buffer(probe: BufferProbe) {
    let _ = audit();
    buffers().lock().push(probe);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_buffer_stops_counting() {
        buffers().lock().clear();
        let alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = alive.clone();
        watch_audit_buffer(Box::new(move || flag.load(std::sync::atomic::Ordering::SeqCst).then_some(7)));
        watch_audit_buffer(Box::new(|| Some(3)));
        assert_eq!(buffered_total(), 10);
        alive.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(buffered_total(), 3);
        assert_eq!(buffers().lock().len(), 1);
    }

    #[test]
    fn backlog_labels_stay_bounded_whatever_groups_redis_lists() {
        let topic = format!("test.backlog.{}", uuid::Uuid::new_v4().simple());
        let mut groups: Vec<(String, u64)> = (0..100).map(|i| (format!("group-{i}"), i)).collect();
        groups.push(("0000000001 山田".to_owned(), 5));
        groups.push(("x".repeat(65), 5));
        record_backlog(&topic, groups);
        let mine = || backlog_readings().into_iter().filter(|(t, ..)| *t == topic).collect::<Vec<_>>();
        let readings = mine();
        assert_eq!(readings.len(), MAX_GROUPS_PER_TOPIC, "{readings:?}");
        assert!(readings.iter().all(|(_, g, _)| plausible_group(g)), "{readings:?}");
        // A new reading of the topic replaces the old one: groups gone in Redis go here too.
        record_backlog(&topic, vec![("eligibility-cache".to_owned(), 3)]);
        assert_eq!(mine(), vec![(topic.clone(), "eligibility-cache".to_owned(), 3)]);
    }
}
