//! Client spans and a duration metric for every database statement.
//!
//! [`crate::db::connect`] registers [`observe`] on each pool. After each statement it
//! - records `db.client.operation.duration` (histogram, seconds) by `db.system`,
//!   `db.operation` and `db.sql.table`;
//! - when the current trace is sampled, adds a client span `<operation> <table>` under the
//!   current span (the RPC's, the consumer's), with the same attributes and its real start
//!   and end.
//!
//!
//! Redis commands get the same ([`observe_redis`], applied by
//! [`crate::redis::RedisConnection`]): `db.system = redis` and the command's name as
//! `db.operation` (one of a fixed list, else `other`; a pipeline is `PIPELINE`), never a key or
//! a value. Blocking stream reads (`XREADGROUP … BLOCK`) last as long as they wait.
//!
//! [`watch_pool`] adds the pool's connections to `db.client.connections.usage` (by
//! `pool.name`, the service, and `state`, `used` or `idle`) and its size limit to
//! `db.client.connections.max` (the semantic conventions' names up to 1.25; the later
//! `db.client.connection.count` ends in `_count` in Prometheus, which promtool refuses for a
//! gauge).
//!
//! [`watch_wait`] adds the time a caller waits for one of the pool's connections to
//! `db.client.connections.wait_time` (histogram, seconds, by `pool.name`): sqlx offers no hook
//! around a statement's wait, so a probe asks each pool for a connection once a second, as a
//! statement does, and records how long the pool made it wait (its queue is first come, first
//! served, so the probe waits behind every statement already waiting). Only while metrics are
//! exported.
//!
//! Only the statement's first keyword and the table it names are kept, never the statement's
//! parameters or any other part of its text, so nothing a caller sent reaches a span or a label.
//! Both are bounded: the keyword is one of a fixed list (else `other`), the table an identifier
//! of at most 63 characters (else `other`).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Histogram, ObservableGauge};
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use parking_lot::Mutex;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The statement kinds kept as `db.operation`.
const OPERATIONS: [&str; 10] =
    ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "ROLLBACK", "CREATE", "ALTER"];

/// `db.operation` and `db.sql.table` of `sql`: its first keyword, and the table after
/// `FROM` / `INTO` / `UPDATE` (`other` when there is none or it is not a plain identifier).
pub fn describe(sql: &str) -> (&'static str, String) {
    let mut words = sql.split_whitespace();
    let first = words.next().unwrap_or_default();
    let operation = OPERATIONS.iter().find(|op| op.eq_ignore_ascii_case(first)).copied().unwrap_or("other");
    let mut previous = first;
    let mut table = None;
    for word in sql.split_whitespace().skip(1) {
        if ["FROM", "INTO", "UPDATE"].iter().any(|k| k.eq_ignore_ascii_case(previous)) {
            table = Some(word);
            break;
        }
        previous = word;
    }
    if operation == "UPDATE" {
        table = sql.split_whitespace().nth(1);
    }
    let table = table
        .map(|t| t.trim_end_matches([',', ';', '(']).replace('"', ""))
        .filter(|t| {
            !t.is_empty() && t.len() < 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        })
        .unwrap_or_else(|| "other".to_owned());
    (operation, table)
}

fn duration() -> &'static Histogram<f64> {
    static DURATION: OnceLock<Histogram<f64>> = OnceLock::new();
    DURATION.get_or_init(|| {
        opentelemetry::global::meter("kaigo")
            .f64_histogram("db.client.operation.duration")
            .with_unit("s")
            .with_description("duration of database statements")
            .with_boundaries(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            .build()
    })
}

/// The callback [`crate::db::connect`] registers for `system` (`postgresql` or `sqlite`).
pub fn observe(system: &'static str) -> impl Fn(&sea_orm::metric::Info<'_>) + Send + Sync + 'static {
    move |info| {
        let (operation, table) = describe(&info.statement.sql);
        let attributes = [
            KeyValue::new("db.system", system),
            KeyValue::new("db.operation", operation),
            KeyValue::new("db.sql.table", table.clone()),
        ];
        duration().record(info.elapsed.as_secs_f64(), &attributes);
        let name = || format!("{operation} {table}");
        client_span(&tracing::Span::current(), name, &attributes, info.elapsed, info.failed);
    }
}

/// A client span named `name()` that lasted `elapsed` until now, under `parent`, when its
/// trace is sampled. Nothing is built, named or read from the clock otherwise: in a process
/// without an exporter that is every command (loadtest/README.md#client-span-cost).
fn client_span(
    parent: &tracing::Span,
    name: impl FnOnce() -> String,
    attributes: &[KeyValue],
    elapsed: Duration,
    failed: bool,
) {
    if !super::recording() {
        return;
    }
    let parent = parent.context();
    if !parent.span().span_context().is_sampled() {
        return;
    }
    let end = SystemTime::now();
    let start = end.checked_sub(elapsed).unwrap_or(end);
    let name = name();
    let tracer = opentelemetry::global::tracer("kaigo");
    let mut span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Client)
        .with_start_time(start)
        .with_attributes(attributes.to_vec())
        .start_with_context(&tracer, &parent);
    if failed {
        span.set_status(Status::error("failed"));
    }
    span.end();
}

/// The Redis commands kaigo sends, kept as `db.operation`.
const REDIS_COMMANDS: [&str; 34] = [
    "GET",
    "SET",
    "DEL",
    "UNLINK",
    "EXISTS",
    "EXPIRE",
    "PEXPIRE",
    "MGET",
    "MSET",
    "INCR",
    "INCRBY",
    "DECR",
    "HGET",
    "HSET",
    "HDEL",
    "HGETALL",
    "EVAL",
    "EVALSHA",
    "PUBLISH",
    "PING",
    "XADD",
    "XREADGROUP",
    "XREAD",
    "XACK",
    "XCLAIM",
    "XAUTOCLAIM",
    "XPENDING",
    "XGROUP",
    "XRANGE",
    "XLEN",
    "XTRIM",
    "XINFO",
    "SCAN",
    "SCRIPT",
];

/// The name of `cmd` (its first argument) when it is one of [`REDIS_COMMANDS`], else `other`.
pub fn redis_operation(cmd: &redis::Cmd) -> &'static str {
    match cmd.args_iter().next() {
        Some(redis::Arg::Simple(name)) => {
            REDIS_COMMANDS.iter().find(|known| known.as_bytes().eq_ignore_ascii_case(name)).copied().unwrap_or("other")
        }
        _ => "other",
    }
}

/// `command` with the duration metric and, in a sampled trace, a client span `redis <operation>`.
pub fn observe_redis<'a, T: Send + 'a>(
    operation: &'static str,
    command: redis::RedisFuture<'a, T>,
) -> redis::RedisFuture<'a, T> {
    // The span the command was sent under (the RPC's), held only when spans may be recorded.
    let parent = if super::recording() { tracing::Span::current() } else { tracing::Span::none() };
    Box::pin(async move {
        let began = std::time::Instant::now();
        let result = command.await;
        let elapsed = began.elapsed();
        let attributes = [KeyValue::new("db.system", "redis"), KeyValue::new("db.operation", operation)];
        duration().record(elapsed.as_secs_f64(), &attributes);
        client_span(&parent, || format!("redis {operation}"), &attributes, elapsed, result.is_err());
        result
    })
}

/// Reads a pool: (open connections, idle ones, the most it opens), or `None` once it is closed.
pub type PoolProbe = Box<dyn Fn() -> Option<(u32, usize, u32)> + Send + Sync>;

fn pools() -> &'static Mutex<Vec<(String, PoolProbe)>> {
    static POOLS: OnceLock<Mutex<Vec<(String, PoolProbe)>>> = OnceLock::new();
    POOLS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Every open pool's (name, used, idle, max); forgets the closed ones.
fn pool_readings() -> Vec<(String, u64, u64, u64)> {
    let mut readings = Vec::new();
    pools().lock().retain(|(name, probe)| match probe() {
        Some((size, idle, max)) => {
            let idle = idle as u64;
            readings.push((name.clone(), u64::from(size).saturating_sub(idle), idle, u64::from(max)));
            true
        }
        None => false,
    });
    readings
}

/// Reports the connections of pool `name` (the service) while it is open.
pub fn watch_pool(name: &str, probe: PoolProbe) {
    static GAUGES: OnceLock<(ObservableGauge<u64>, ObservableGauge<u64>)> = OnceLock::new();
    pools().lock().push((name.to_owned(), probe));
    GAUGES.get_or_init(|| {
        let meter = opentelemetry::global::meter("kaigo");
        let count = meter
            .u64_observable_gauge("db.client.connections.usage")
            .with_description("database connections of each pool, used and idle")
            .with_callback(|observer| {
                for (name, used, idle, _) in pool_readings() {
                    let pool = KeyValue::new("pool.name", name);
                    observer.observe(used, &[pool.clone(), KeyValue::new("state", "used")]);
                    observer.observe(idle, &[pool, KeyValue::new("state", "idle")]);
                }
            })
            .build();
        let max = meter
            .u64_observable_gauge("db.client.connections.max")
            .with_description("the most connections each pool opens")
            .with_callback(|observer| {
                for (name, _, _, max) in pool_readings() {
                    observer.observe(max, &[KeyValue::new("pool.name", name)]);
                }
            })
            .build();
        (count, max)
    });
}

/// How often [`watch_wait`] asks a pool for a connection.
const WAIT_PROBE_INTERVAL: Duration = Duration::from_secs(1);

fn wait_time() -> &'static Histogram<f64> {
    static WAIT: OnceLock<Histogram<f64>> = OnceLock::new();
    WAIT.get_or_init(|| {
        opentelemetry::global::meter("kaigo")
            .f64_histogram("db.client.connections.wait_time")
            .with_unit("s")
            .with_description("time a caller waits for a connection from the pool (probed once a second)")
            .with_boundaries(vec![
                0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .build()
    })
}

/// Records in `db.client.connections.wait_time` how long pool `name` (the service) makes a
/// caller wait for a connection, probed once a second until the pool closes (module docs).
pub fn watch_wait<DB: sea_orm::sqlx::Database>(name: &str, pool: sea_orm::sqlx::Pool<DB>) {
    if !super::metrics::exporting() {
        return;
    }
    let attributes = [KeyValue::new("pool.name", name.to_owned())];
    tokio::spawn(async move {
        probe_waits(&pool, WAIT_PROBE_INTERVAL, |seconds| wait_time().record(seconds, &attributes)).await;
    });
}

/// Asks `pool` for a connection every `interval`, gives it back at once and tells `record`
/// how long the pool took to hand it over (or to refuse it: a timed-out wait is a wait too),
/// until the pool is closed.
async fn probe_waits<DB: sea_orm::sqlx::Database>(
    pool: &sea_orm::sqlx::Pool<DB>,
    interval: Duration,
    record: impl Fn(f64),
) {
    while !pool.is_closed() {
        let began = std::time::Instant::now();
        match pool.acquire().await {
            Ok(connection) => {
                record(began.elapsed().as_secs_f64());
                drop(connection);
            }
            Err(sea_orm::sqlx::Error::PoolClosed) => return,
            Err(_) => record(began.elapsed().as_secs_f64()),
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_keyword_and_the_table_are_kept() {
        let cases = [
            ("SELECT seq, event_id FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1", "SELECT", "outbox"),
            (
                r#"SELECT "people"."insured_number" FROM "eligibility"."people" WHERE "people"."insured_number" = $1"#,
                "SELECT",
                "eligibility.people",
            ),
            ("INSERT INTO processed_events (consumer_group, event_id) VALUES ($1, $2)", "INSERT", "processed_events"),
            ("UPDATE outbox SET published_at = $1 WHERE seq = $2", "UPDATE", "outbox"),
            (r#"update "certification"."applications" SET "status" = $1"#, "UPDATE", "certification.applications"),
            ("DELETE FROM audit_reads WHERE at < $1", "DELETE", "audit_reads"),
            ("BEGIN", "BEGIN", "other"),
            ("SELECT 1", "SELECT", "other"),
            (
                "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.outbox_relay')) AS locked",
                "SELECT",
                "other",
            ),
            // A literal where a table would be is not an identifier: nothing of it is kept.
            ("SELECT * FROM '0000000001'", "SELECT", "other"),
            ("VACUUM people", "other", "other"),
            ("", "other", "other"),
        ];
        for (sql, operation, table) in cases {
            assert_eq!(describe(sql), (operation, table.to_owned()), "{sql}");
        }
    }

    #[test]
    fn a_redis_command_is_named_never_its_keys() {
        assert_eq!(redis_operation(redis::cmd("get").arg("kaigo:person:435073:0000000001")), "GET");
        assert_eq!(redis_operation(redis::cmd("XREADGROUP").arg("GROUP").arg("g")), "XREADGROUP");
        assert_eq!(redis_operation(redis::cmd("CLIENT").arg("LIST")), "other");
        assert_eq!(redis_operation(&redis::Cmd::new()), "other");
    }

    #[test]
    fn a_pool_is_read_while_it_is_open() {
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = open.clone();
        let name = format!("test-{}", uuid::Uuid::new_v4().simple());
        watch_pool(&name, Box::new(move || flag.load(std::sync::atomic::Ordering::SeqCst).then_some((5, 2, 16))));
        let mine = |readings: Vec<(String, u64, u64, u64)>| readings.into_iter().find(|r| r.0 == name);
        assert_eq!(mine(pool_readings()), Some((name.clone(), 3, 2, 16)));
        open.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(mine(pool_readings()), None);
        assert!(pools().lock().iter().all(|(n, _)| *n != name), "a closed pool is forgotten");
    }

    #[tokio::test]
    async fn the_wait_probe_waits_behind_a_held_connection_and_stops_with_the_pool() {
        use sea_orm::sqlx::sqlite::SqlitePoolOptions;
        let pool = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
        let held = pool.acquire().await.unwrap();
        let waits = std::sync::Arc::new(Mutex::new(Vec::new()));
        let probe = {
            let (pool, waits) = (pool.clone(), waits.clone());
            tokio::spawn(async move {
                probe_waits(&pool, Duration::from_millis(10), move |s| waits.lock().push(s)).await;
            })
        };
        // The only connection is held for 300 ms: the probe's first wait lasts at least that.
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while waits.lock().len() < 2 {
            assert!(std::time::Instant::now() < until, "the probe goes on once the connection is back");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(waits.lock()[0] >= 0.3, "{:?}", waits.lock());
        pool.close().await;
        tokio::time::timeout(Duration::from_secs(10), probe).await.expect("the probe ends with its pool").unwrap();
    }
}
