//! Logs, traces and metrics.
//!
//! Logs are JSON lines through `tracing` (or text for a terminal). Every process has an
//! OpenTelemetry tracer so that errors can quote a trace id; spans and metrics are exported over
//! OTLP/gRPC only when `telemetry.otlp_endpoint` (`OTEL_EXPORTER_OTLP_ENDPOINT`) is set. Trace
//! context travels between processes as W3C `traceparent` headers in gRPC metadata.
//!
//! - Every RPC a service serves has a server span and the `rpc.server.duration` histogram
//!   ([`rpc`], applied by [`crate::server::GrpcServices::with_service`]).
//! - Traces are sampled parent-based: a call whose caller sampled it is recorded, a call whose
//!   caller did not is not, and a new trace (the gateway's, a background task's) is recorded
//!   with probability `telemetry.sample_ratio` (1.0 records all).
//! - Metrics are also served for Prometheus at `GET /metrics` on `telemetry.metrics_listen`
//!   ([`prometheus`]) when set, independently of OTLP.
//! - Every database statement has a client span (when the trace is sampled) and
//!   `db.client.operation.duration` ([`db`]).
//! - The outbox, the event consumers and the read audit have instruments of their own
//!   (`kaigo.outbox.lag`, `kaigo.events.lag`, `kaigo.events.dead_lettered`,
//!   `kaigo.audit.buffered`, `kaigo.audit.flush.duration`, `kaigo.audit.write_failures`).

pub mod db;
pub mod log_writer;
pub(crate) mod metrics;
pub mod prometheus;
pub mod rpc;

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry::{KeyValue, global};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::TelemetryConfig;

/// Flushes and stops exporters when the process ends.
#[must_use = "call shutdown() before exiting so buffered spans and metrics are sent"]
pub struct TelemetryGuard {
    tracer: SdkTracerProvider,
    meter: Option<SdkMeterProvider>,
    /// The JSON log's writer thread, flushed last.
    log: Option<log_writer::BufferedStderr>,
}

impl TelemetryGuard {
    /// Flushes buffered spans and metrics; errors are reported on stderr (logging may be gone).
    pub async fn shutdown(self) {
        let joined = tokio::task::spawn_blocking(move || {
            let mut errors = Vec::new();
            if let Err(err) = self.tracer.shutdown() {
                errors.push(format!("tracer: {err}"));
            }
            if let Some(meter) = self.meter
                && let Err(err) = meter.shutdown()
            {
                errors.push(format!("meter: {err}"));
            }
            errors
        })
        .await;
        if let Some(log) = &self.log {
            log.flush(std::time::Duration::from_secs(5));
        }
        if let Ok(errors) = joined {
            for err in errors {
                eprintln!("telemetry shutdown: {err}");
            }
        }
    }
}

/// Installs the global subscriber, tracer, meter and propagator. Call once, from `main`.
///
/// `component` names the process (`gateway`, `eligibility`, `dev` …) when
/// `telemetry.service_name` is not set.
pub fn init(
    config: &TelemetryConfig,
    component: &str,
) -> Result<TelemetryGuard, Box<dyn std::error::Error + Send + Sync>> {
    let service_name = config.service_name.clone().unwrap_or_else(|| format!("kaigo-{component}"));
    let resource = Resource::builder()
        .with_service_name(service_name)
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();

    let sampler = sampler(config);
    RECORDING.store(config.otlp_endpoint.is_some(), Ordering::Relaxed);
    let mut tracer_builder = SdkTracerProvider::builder().with_resource(resource.clone()).with_sampler(sampler);
    let mut meter_builder = None;
    if let Some(endpoint) = &config.otlp_endpoint {
        let spans = opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
        tracer_builder = tracer_builder.with_batch_exporter(spans);
        let metrics = opentelemetry_otlp::MetricExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
        meter_builder = Some(SdkMeterProvider::builder().with_periodic_exporter(metrics));
    }
    if !config.metrics_listen.is_empty() {
        // Bound here, so that a port in use stops the start with a message naming the key.
        let listener = std::net::TcpListener::bind(&config.metrics_listen)
            .map_err(|e| format!("telemetry.metrics_listen {}: {e}", config.metrics_listen))?;
        let reader = prometheus::ScrapeReader::new();
        prometheus::spawn_endpoint(listener, reader.clone())?;
        meter_builder = Some(meter_builder.unwrap_or_default().with_reader(reader));
    }
    let meter = meter_builder.map(|builder| builder.with_resource(resource).build());
    if let Some(provider) = &meter {
        global::set_meter_provider(provider.clone());
        metrics::set_exporting();
    }
    let tracer_provider = tracer_builder.build();
    global::set_tracer_provider(tracer_provider.clone());
    global::set_text_map_propagator(TraceContextPropagator::new());

    // Transport crates log at debug per frame; keep them quiet unless asked for by name.
    let filter = EnvFilter::try_new(&config.log_level)?
        .add_directive("h2=warn".parse()?)
        .add_directive("hyper=warn".parse()?)
        .add_directive("tower=warn".parse()?)
        .add_directive("sqlx=warn".parse()?)
        .add_directive("sea_orm=warn".parse()?)
        .add_directive("opentelemetry=warn".parse()?);
    let mut log = None;
    let fmt = if config.log_format == "json" {
        // Lines go out through a writer thread (telemetry::log_writer), and this layer sees
        // events only: JSON lines carry no span fields, so spans are not formatted at all.
        let writer = log_writer::BufferedStderr::start()?;
        log = Some(writer.clone());
        let json = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer);
        EventsOnly(json).boxed()
    } else {
        // Colours only for a terminal: a log redirected to a file or a pipe stays plain text.
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        tracing_subscriber::fmt::layer().with_ansi(terminal).with_writer(std::io::stderr).boxed()
    };
    // Per call, the span carries what the RPC conventions name and nothing the layer adds by
    // default: no source location or thread attributes (five attributes, one of them an
    // allocated thread name, on every span), no busy/idle timing (two clock reads on every
    // poll) and no OpenTelemetry context attached on every poll (kaigo reads a span's context
    // through the tracing span, never `Context::current`). Profiled on the eligibility hot
    // path: loadtest/README.md#span-cost.
    let otel = tracing_opentelemetry::layer()
        .with_tracer(tracer_provider.tracer("kaigo"))
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false);
    tracing_subscriber::registry().with(filter).with(fmt).with(otel).try_init()?;
    Ok(TelemetryGuard { tracer: tracer_provider, meter, log })
}

/// Whether this process records spans at all: only with an exporter ([`sampler`]). A client
/// span's builder asks this first, so that a process that records nothing spends nothing on
/// them (telemetry::db).
static RECORDING: AtomicBool = AtomicBool::new(false);

/// True when this process may record spans: [`init`] was given an exporter.
pub(crate) fn recording() -> bool {
    RECORDING.load(Ordering::Relaxed)
}

/// Which spans this process records. Without an exporter none: a recorded span would be
/// built, ended and dropped on every call and every database or Redis command (the SDK has no
/// shortcut for a provider without processors): a few per cent of a cached check's CPU
/// (loadtest/README.md#unexported-spans). Trace ids are kept all the same:
/// a span that is not recorded still carries its caller's trace id (or a new one), so log lines
/// and error messages quote it and outgoing calls pass it on, marked not sampled — which is
/// why every process of a deployment is given the same endpoint (the chart's
/// `global.otlp.endpoint`). With an exporter: parent-based, new traces at `sample_ratio`.
fn sampler(config: &TelemetryConfig) -> Sampler {
    if config.otlp_endpoint.is_none() {
        return Sampler::AlwaysOff;
    }
    Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(config.sample_ratio)))
}

/// The JSON log layer, shown events only: JSON lines carry no span fields, so the layer is
/// never told of spans (it would format and store every span's fields for nothing).
///
/// A wrapper rather than a per-layer `Filter`: a filter that turns spans away while the
/// OpenTelemetry layer takes them makes `tracing` ask every filter again at every span of
/// every call (the callsite's interest becomes "sometimes") and keep per-thread filter state
/// for each; this layer objects to nothing, so every callsite's interest stays cached
/// (loadtest/README.md#span-cost).
struct EventsOnly<L>(L);

impl<S, L> Layer<S> for EventsOnly<L>
where
    S: tracing::Subscriber,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        self.0.on_event(event, ctx);
    }
}

/// The current trace id as 32 hex digits, or a fresh random id when there is no trace (so that
/// an error message and its log line still share an id).
pub fn current_trace_id() -> String {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    if span_context.is_valid() {
        span_context.trace_id().to_string()
    } else {
        uuid::Uuid::new_v4().simple().to_string()
    }
}

/// Writes the current span's trace context into outgoing headers (gRPC metadata).
pub fn inject_context(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// Writes the current span's trace context into the metadata of an outgoing tonic request
/// (a service calling another: certification asking eligibility).
pub fn inject_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    for (key, value) in current_context_fields() {
        if let (Ok(key), Ok(value)) =
            (tonic::metadata::MetadataKey::from_bytes(key.as_bytes()), tonic::metadata::MetadataValue::try_from(value))
        {
            metadata.insert(key, value);
        }
    }
}

/// A span (named `name`) whose trace is never recorded, nor anything under it: work that would
/// flood the traces and says nothing about calls, such as seeding demo data. Events written
/// under it carry the unsampled context, so their consumption is not recorded either.
pub fn unsampled_span(name: &'static str) -> tracing::Span {
    let span = tracing::info_span!("unsampled", otel.name = name);
    let ids = uuid::Uuid::new_v4();
    let span_id = uuid::Uuid::new_v4().as_u64_pair().0.max(1);
    let parent = SpanContext::new(
        TraceId::from_bytes(*ids.as_bytes()),
        SpanId::from_bytes(span_id.to_be_bytes()),
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    // An error here only means the span is disabled; nothing to do.
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent));
    span
}

/// Makes `span` a child of the trace context carried by incoming headers, if any.
pub fn set_parent_from(headers: &http::HeaderMap, span: &tracing::Span) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        // An error here only means the span is disabled; nothing to do.
        let _ = span.set_parent(parent);
    }
}

/// The W3C trace context of the current span as (header, value) pairs, for event envelopes.
pub fn current_context_fields() -> Vec<(String, String)> {
    let mut headers = http::HeaderMap::new();
    inject_context(&mut headers);
    headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned()))).collect()
}

/// Makes `span` a child of a trace context stored as (header, value) pairs.
pub fn set_parent_from_fields(fields: &[(String, String)], span: &tracing::Span) {
    let mut headers = http::HeaderMap::new();
    for (k, v) in fields {
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(k.as_str()), http::HeaderValue::try_from(v.as_str()))
        {
            headers.insert(name, value);
        }
    }
    set_parent_from(&headers, span);
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(key), http::HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::SpanKind;
    use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};

    use super::*;

    /// The decision for a new span whose caller sent a context marked sampled (or not).
    fn decide(config: &TelemetryConfig, caller_sampled: Option<bool>) -> SamplingDecision {
        let trace_id = TraceId::from_bytes([7; 16]);
        let parent = match caller_sampled {
            Some(sampled) => {
                let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
                let remote = SpanContext::new(trace_id, SpanId::from_bytes([3; 8]), flags, true, TraceState::default());
                opentelemetry::Context::new().with_remote_span_context(remote)
            }
            None => opentelemetry::Context::new(),
        };
        sampler(config).should_sample(Some(&parent), trace_id, "rpc.server", &SpanKind::Server, &[], &[]).decision
    }

    #[test]
    fn without_an_exporter_nothing_is_recorded_not_even_a_sampled_callers_trace() {
        let config = TelemetryConfig { otlp_endpoint: None, sample_ratio: 1.0, ..TelemetryConfig::default() };
        for caller in [None, Some(true), Some(false)] {
            assert_eq!(decide(&config, caller), SamplingDecision::Drop, "{caller:?}");
        }
    }

    #[test]
    fn with_an_exporter_the_callers_decision_holds_and_new_traces_follow_the_ratio() {
        let endpoint = Some("http://127.0.0.1:4317".to_owned());
        let all = TelemetryConfig { otlp_endpoint: endpoint.clone(), sample_ratio: 1.0, ..TelemetryConfig::default() };
        assert_eq!(decide(&all, None), SamplingDecision::RecordAndSample);
        assert_eq!(decide(&all, Some(true)), SamplingDecision::RecordAndSample);
        assert_eq!(decide(&all, Some(false)), SamplingDecision::Drop);
        let none = TelemetryConfig { otlp_endpoint: endpoint, sample_ratio: 0.0, ..TelemetryConfig::default() };
        assert_eq!(decide(&none, None), SamplingDecision::Drop);
        assert_eq!(decide(&none, Some(true)), SamplingDecision::RecordAndSample);
    }
}
