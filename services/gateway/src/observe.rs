//! What every call leaves behind: a span (service, method, status, caller role), RED metrics
//! (`kaigo.gateway.calls` by service, method, code and role; `kaigo.gateway.duration`), and one
//! access-log line (JSON, target `kaigo_gateway::access`) with the call's request id, which is
//! also returned to the caller as `x-request-id`. Never personal data: the token subject, the
//! message bodies and the organisation numbers stay out.

use std::borrow::Cow;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use kaigo_platform::auth::Role;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

/// The request id header, taken from the client when well-formed, else generated.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request id of a call: the client's if it is 1–128 visible ASCII characters, else a new
/// UUIDv7 (time-ordered, so log searches by id stay cheap). Marked [`unique_per_call`].
pub(crate) fn request_id(headers: &http::HeaderMap) -> http::HeaderValue {
    let mut id = headers
        .get(REQUEST_ID_HEADER)
        .filter(|v| {
            let bytes = v.as_bytes();
            !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
        })
        .cloned()
        .unwrap_or_else(new_request_id);
    unique_per_call(&mut id);
    id
}

/// A new UUIDv7: the time in milliseconds and 74 random bits from the thread's generator
/// (`Uuid::now_v7` would ask the kernel for them, a system call per call), written as a header
/// value without an intermediate string.
fn new_request_id() -> http::HeaderValue {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &rand::random::<[u8; 10]>()).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid.hyphenated().encode_lower(&mut text);
    http::HeaderValue::from_str(text).unwrap_or_else(|_| http::HeaderValue::from_static("invalid"))
}

/// Marks a header value that differs from call to call (request id, trace context, deadline)
/// so that HTTP/2 sends it as a literal and never adds it to the connection's HPACK table
/// (RFC 7541 §6.2.3): indexed, every call would insert one entry and evict an older one —
/// work on each end for an entry no later call can use, pushing out the headers that repeat.
pub(crate) fn unique_per_call(value: &mut http::HeaderValue) {
    value.set_sensitive(true);
}

/// What the layers learn about a call while it runs (in the request extensions).
#[derive(Debug, Default)]
pub(crate) struct CallInfo {
    role: OnceLock<Role>,
}

impl CallInfo {
    /// The authenticated caller's role (recorded on the span too).
    pub(crate) fn set_role(&self, role: Role) {
        if self.role.set(role).is_ok() {
            tracing::Span::current().record("kaigo.role", role.as_str());
        }
    }

    fn role(&self) -> &'static str {
        self.role.get().map_or("none", |r| r.as_str())
    }
}

/// The gateway's RED instruments (exported over OTLP when telemetry has an endpoint).
#[derive(Clone)]
pub(crate) struct Metrics {
    calls: Counter<u64>,
    duration: Histogram<f64>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let meter = opentelemetry::global::meter("kaigo-gateway");
        Self {
            calls: meter.u64_counter("kaigo.gateway.calls").with_description("calls by outcome").build(),
            duration: meter
                .f64_histogram("kaigo.gateway.duration")
                .with_unit("s")
                .with_description("call duration until the last byte of the answer")
                // Seconds: the SDK's default boundaries (0, 5, 10 … 10000) suit milliseconds and
                // would put every call in the first bucket.
                .with_boundaries(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ])
                .build(),
        }
    }
}

/// One call's record, finished when its response has been sent (or dropped).
pub(crate) struct Record {
    pub metrics: Metrics,
    pub span: tracing::Span,
    pub info: Arc<CallInfo>,
    pub service: Cow<'static, str>,
    pub method: Cow<'static, str>,
    /// The request id as sent back to the caller (a cheap clone of its bytes).
    pub request_id: http::HeaderValue,
    pub started: Instant,
    /// grpc-status from the response head (a trailers-only answer), if any.
    pub status: Option<String>,
}

impl Record {
    fn finish(&mut self, status: &str) {
        let elapsed = self.started.elapsed();
        let role = self.info.role();
        self.span.record("rpc.grpc.status_code", status);
        let attributes = [
            KeyValue::new("rpc.service", self.service.clone()),
            KeyValue::new("rpc.method", self.method.clone()),
            KeyValue::new("rpc.grpc.status_code", status_label(status)),
            KeyValue::new("kaigo.role", role),
        ];
        self.metrics.calls.add(1, &attributes);
        self.metrics.duration.record(elapsed.as_secs_f64(), &attributes);
        // The access-log line is an event of its own (no parent): the call's span already
        // carries the same fields, so the line is not copied into the trace as a span event.
        tracing::info!(
            target: "kaigo_gateway::access",
            parent: None,
            request_id = self.request_id.to_str().unwrap_or_default(),
            service = self.service.as_ref(),
            method = self.method.as_ref(),
            grpc_status = status,
            role,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "call"
        );
    }
}

/// The gRPC status codes as static label values.
const STATUS_CODES: [&str; 17] =
    ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"];

/// A status code label: one of gRPC's 17 without a copy, anything else as it came.
fn status_label(status: &str) -> opentelemetry::StringValue {
    match STATUS_CODES.iter().find(|code| **code == status) {
        Some(code) => (*code).into(),
        None => status.to_owned().into(),
    }
}

pin_project_lite::pin_project! {
    /// A response body that finishes the call's record at its end: at the trailers (the usual
    /// grpc-status), at the end of a trailers-only answer, or, if the client went away, on drop
    /// (status 1, CANCELLED).
    pub(crate) struct Observed<B> {
        #[pin]
        inner: B,
        record: Option<Record>,
    }

    impl<B> PinnedDrop for Observed<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(mut record) = this.record.take() {
                let status = record.status.take().unwrap_or_else(|| "1".to_owned());
                record.finish(&status);
            }
        }
    }
}

impl<B> Observed<B> {
    pub(crate) fn new(inner: B, record: Record) -> Self {
        Self { inner, record: Some(record) }
    }
}

impl<B: Body<Data = Bytes>> Body for Observed<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(mut record) = this.record.take()
                {
                    let status = trailers.get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("2");
                    record.finish(status);
                }
            }
            Poll::Ready(None) => {
                if let Some(mut record) = this.record.take() {
                    // Ended without trailers: a trailers-only answer (status in the head), or a
                    // broken stream (UNKNOWN).
                    let status = record.status.take().unwrap_or_else(|| "2".to_owned());
                    record.finish(&status);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some(mut record) = this.record.take() {
                    record.finish("14");
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    /// A body that holds something (a concurrency permit) until it is dropped.
    pub(crate) struct Guarded<B, G> {
        #[pin]
        inner: B,
        guard: G,
    }
}

impl<B, G> Guarded<B, G> {
    pub(crate) fn new(inner: B, guard: G) -> Self {
        Self { inner, guard }
    }
}

impl<B: Body<Data = Bytes>, G> Body for Guarded<B, G> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_request_id_is_kept_and_a_bad_one_replaced() {
        let mut headers = http::HeaderMap::new();
        headers.insert(REQUEST_ID_HEADER, http::HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&headers), "abc-123");
        headers.insert(REQUEST_ID_HEADER, http::HeaderValue::from_static("has space"));
        let generated = request_id(&headers);
        assert_ne!(generated, "has space");
        assert_eq!(generated.len(), 36);
        assert_eq!(request_id(&http::HeaderMap::new()).len(), 36);
        let id = uuid::Uuid::parse_str(generated.to_str().unwrap()).unwrap();
        assert_eq!(id.get_version(), Some(uuid::Version::SortRand));
        let (seconds, _) = id.get_timestamp().unwrap().to_unix();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!(seconds.abs_diff(now) <= 60, "time-ordered: {seconds} vs {now}");
        assert_ne!(request_id(&http::HeaderMap::new()), request_id(&http::HeaderMap::new()));
    }
}
