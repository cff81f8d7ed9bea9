//! The Prometheus scrape endpoint: the same instruments as OTLP exports, read on demand and
//! written in the Prometheus text format (0.0.4) at `GET /metrics` on the admin listener
//! `telemetry.metrics_listen` (off when empty).
//!
//! Names follow the OpenTelemetry → Prometheus compatibility rules: dots become underscores,
//! the unit is appended (`ms` → `_milliseconds`, `s` → `_seconds`, `By` → `_bytes`), monotonic
//! sums end in `_total`; attribute keys become label names the same way. The listener answers
//! only `GET /metrics` (anything else is 404) and closes each connection after one answer.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A reader the meter provider owns and the scrape endpoint reads through.
#[derive(Debug, Clone)]
pub(crate) struct ScrapeReader(Arc<ManualReader>);

impl ScrapeReader {
    pub(crate) fn new() -> Self {
        // Cumulative: what Prometheus expects of counters and histograms.
        Self(Arc::new(ManualReader::builder().with_temporality(Temporality::Cumulative).build()))
    }

    /// The current value of every instrument, in the Prometheus text format.
    pub(crate) fn scrape(&self) -> String {
        let mut metrics = ResourceMetrics::default();
        match self.0.collect(&mut metrics) {
            Ok(()) => encode(&metrics),
            Err(err) => {
                tracing::warn!(error = %err, "metrics collection failed");
                String::new()
            }
        }
    }
}

impl MetricReader for ScrapeReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// Serves `GET /metrics` on `listener` until the process ends.
pub(crate) fn spawn_endpoint(listener: std::net::TcpListener, reader: ScrapeReader) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let reader = reader.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(10), answer(stream, &reader)).await;
            });
        }
    });
    Ok(())
}

/// Reads one request head (at most 8 KiB) and answers it.
async fn answer(mut stream: tokio::net::TcpStream, reader: &ScrapeReader) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = target.split(|b| *b == b'?').next().unwrap_or_default();
    let (status, content_type, body) = if method == b"GET" && path == b"/metrics" {
        ("200 OK", "text/plain; version=0.0.4; charset=utf-8", reader.scrape())
    } else {
        ("404 Not Found", "text/plain; charset=utf-8", "only GET /metrics is served here\n".to_owned())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// `rpc.server.duration` → `rpc_server_duration`: characters Prometheus does not allow become `_`.
fn sanitize(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The suffix a unit adds to a metric name.
fn unit_suffix(unit: &str) -> Option<&'static str> {
    match unit {
        "ms" => Some("milliseconds"),
        "s" => Some("seconds"),
        "By" => Some("bytes"),
        _ => None,
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn labels(attributes: &[&KeyValue], extra: Option<(&str, String)>) -> String {
    let mut pairs: Vec<String> = attributes
        .iter()
        .map(|kv| format!("{}=\"{}\"", sanitize(kv.key.as_str()), escape(&kv.value.as_str())))
        .collect();
    pairs.sort();
    if let Some((key, value)) = extra {
        pairs.push(format!("{key}=\"{value}\""));
    }
    if pairs.is_empty() { String::new() } else { format!("{{{}}}", pairs.join(",")) }
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
    } else {
        value.to_string()
    }
}

/// One metric family: its type, help and sample lines (instruments of the same name from
/// several meters share one family).
#[derive(Default)]
struct Family {
    kind: &'static str,
    help: String,
    samples: Vec<String>,
}

/// The Prometheus text format of `metrics`.
pub(crate) fn encode(metrics: &ResourceMetrics) -> String {
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for scope in metrics.scope_metrics() {
        for metric in scope.metrics() {
            match metric.data() {
                AggregatedMetrics::F64(data) => add(&mut families, metric, data, |v| *v),
                AggregatedMetrics::U64(data) => add(&mut families, metric, data, |v| *v as f64),
                AggregatedMetrics::I64(data) => add(&mut families, metric, data, |v| *v as f64),
            }
        }
    }
    let mut out = String::new();
    for (name, family) in families {
        let _ = writeln!(out, "# HELP {name} {}", family.help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(out, "# TYPE {name} {}", family.kind);
        for sample in family.samples {
            out.push_str(&sample);
            out.push('\n');
        }
    }
    out
}

fn add<T: Copy>(
    families: &mut BTreeMap<String, Family>,
    metric: &Metric,
    data: &MetricData<T>,
    value: impl Fn(&T) -> f64,
) {
    let mut base = sanitize(metric.name());
    if let Some(suffix) = unit_suffix(metric.unit())
        && !base.ends_with(suffix)
    {
        base = format!("{base}_{suffix}");
    }
    match data {
        MetricData::Sum(sum) => {
            let (name, kind) = if sum.is_monotonic() { (format!("{base}_total"), "counter") } else { (base, "gauge") };
            let family = family(families, &name, kind, metric);
            for point in sum.data_points() {
                let attributes: Vec<&KeyValue> = point.attributes().collect();
                family.samples.push(format!("{name}{} {}", labels(&attributes, None), number(value(&point.value()))));
            }
        }
        MetricData::Gauge(gauge) => {
            let family = family(families, &base, "gauge", metric);
            for point in gauge.data_points() {
                let attributes: Vec<&KeyValue> = point.attributes().collect();
                family.samples.push(format!("{base}{} {}", labels(&attributes, None), number(value(&point.value()))));
            }
        }
        MetricData::Histogram(histogram) => {
            let family = family(families, &base, "histogram", metric);
            for point in histogram.data_points() {
                let attributes: Vec<&KeyValue> = point.attributes().collect();
                let mut cumulative = 0u64;
                let bounds: Vec<f64> = point.bounds().collect();
                for (i, count) in point.bucket_counts().enumerate() {
                    cumulative += count;
                    let le = bounds.get(i).map_or_else(|| "+Inf".to_owned(), |b| number(*b));
                    family.samples.push(format!("{base}_bucket{} {cumulative}", labels(&attributes, Some(("le", le)))));
                }
                family.samples.push(format!("{base}_sum{} {}", labels(&attributes, None), number(value(&point.sum()))));
                family.samples.push(format!("{base}_count{} {}", labels(&attributes, None), point.count()));
            }
        }
        // Not produced by kaigo's instruments (no view asks for exponential buckets).
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn family<'a>(
    families: &'a mut BTreeMap<String, Family>,
    name: &str,
    kind: &'static str,
    metric: &Metric,
) -> &'a mut Family {
    let family = families.entry(name.to_owned()).or_default();
    if family.kind.is_empty() {
        family.kind = kind;
        family.help = metric.description().to_owned();
    }
    family
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    #[test]
    fn the_text_format_has_counters_gauges_and_histograms_named_per_the_compatibility_rules() {
        let reader = ScrapeReader::new();
        let provider = SdkMeterProvider::builder().with_reader(reader.clone()).build();
        let meter = provider.meter("test");
        let histogram = meter.f64_histogram("rpc.server.duration").with_unit("s").with_description("d").build();
        let attributes = [KeyValue::new("rpc.method", "CheckEligibility"), KeyValue::new("rpc.grpc.status_code", 0)];
        histogram.record(0.5, &attributes);
        histogram.record(300.0, &attributes);
        meter
            .u64_counter("kaigo.events.dead_lettered")
            .with_description("c")
            .build()
            .add(2, &[KeyValue::new("topic", "a\"b")]);
        meter.i64_up_down_counter("kaigo.audit.buffered").build().add(-1, &[]);

        let text = reader.scrape();
        assert!(text.contains("# TYPE rpc_server_duration_seconds histogram\n"), "{text}");
        assert!(
            text.contains(
                r#"rpc_server_duration_seconds_bucket{rpc_grpc_status_code="0",rpc_method="CheckEligibility",le="5"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"rpc_server_duration_seconds_bucket{rpc_grpc_status_code="0",rpc_method="CheckEligibility",le="+Inf"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"rpc_server_duration_seconds_sum{rpc_grpc_status_code="0",rpc_method="CheckEligibility"} 300.5"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"rpc_server_duration_seconds_count{rpc_grpc_status_code="0",rpc_method="CheckEligibility"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE kaigo_events_dead_lettered_total counter\n"), "{text}");
        assert!(text.contains(r#"kaigo_events_dead_lettered_total{topic="a\"b"} 2"#), "{text}");
        assert!(text.contains("# TYPE kaigo_audit_buffered gauge\nkaigo_audit_buffered -1\n"), "{text}");
    }

    #[tokio::test]
    async fn the_endpoint_answers_get_metrics_and_nothing_else() {
        let reader = ScrapeReader::new();
        let provider = SdkMeterProvider::builder().with_reader(reader.clone()).build();
        provider.meter("test").u64_counter("kaigo.test.calls").build().add(1, &[]);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        spawn_endpoint(listener, reader).unwrap();

        let get = |request: &'static str| async move {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).await.unwrap();
            answer
        };
        let answer = get("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\r\n\r\n# HELP kaigo_test_calls_total"), "{answer}");
        assert!(answer.contains("kaigo_test_calls_total 1\n"), "{answer}");
        let answer = get("GET /other HTTP/1.1\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
        let answer = get("POST /metrics HTTP/1.1\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
    }
}
