//! The platform's own instruments (events and the read audit), created once per process from
//! the global meter that [`super::init`] sets (before any service starts). Labels are topics
//! and consumer groups: names fixed in code, never data.
//!
//! | instrument | kind, unit | labels | what |
//! |---|---|---|---|
//! | `kaigo.outbox.lag` | histogram, s | `topic` | commit of an event → its publication by the relay |
//! | `kaigo.events.lag` | histogram, s | `topic`, `group` | commit of an event → its handling by a consumer group |
//! | `kaigo.events.dead_lettered` | counter | `topic`, `group` | events moved to the dead-letter stream |
//! | `kaigo.audit.buffered` | gauge | — | read records waiting for the audit writer (every service of the process) |
//! | `kaigo.audit.flush.duration` | histogram, s | — | one batch written to the audit table, retries included |
//! | `kaigo.audit.write_failures` | counter | — | failed attempts to write a batch (each is retried) |

use std::sync::OnceLock;

use opentelemetry::metrics::{Counter, Histogram, ObservableGauge};
use parking_lot::Mutex;

/// Boundaries (seconds) for lags that are milliseconds when all is well and minutes when not.
const LAG_BOUNDARIES: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

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
}
