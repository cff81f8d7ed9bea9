//! The server side of every RPC, once for every service: a span and the RPC duration metric.
//!
//! [`crate::server::GrpcServices::with_service`] wraps each service it is given in [`Observed`],
//! so no service writes this itself. For each call it
//! - opens a server span following the OpenTelemetry semantic conventions for gRPC
//!   (`rpc.system = grpc`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`, kind server,
//!   named `<service>/<method>`), a child of the W3C `traceparent` the caller sent (the gateway,
//!   or certification calling eligibility), and runs the handler inside it, so that events the
//!   handler writes carry the trace ([`crate::events`]) and its logs quote it;
//! - records `rpc.server.duration` (histogram, in seconds as the conventions now measure every
//!   duration, and as Prometheus expects) by service, method and status code when the
//!   answer's last byte has been produced.
//!
//! Label values are bounded: the method is one of the service's own methods, read from the
//! compiled contracts, or `other` (a path that names no method of the service); the status code
//! is one of gRPC's 17. Nothing from the messages or the caller goes into the span or the
//! labels.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;
use tonic::server::NamedService;

/// The method label of a path that names none of the service's methods.
pub const OTHER_METHOD: &str = "other";

/// The name of the RPC duration histogram (OpenTelemetry semantic conventions for RPC).
pub const RPC_SERVER_DURATION: &str = "rpc.server.duration";

/// Every method of every kaigo service, from the compiled contracts (service → methods).
fn methods_by_service() -> &'static HashMap<String, Vec<String>> {
    static METHODS: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    METHODS.get_or_init(|| {
        use prost::Message;
        let mut methods = HashMap::new();
        // The set is compiled into the binary by kaigo-proto's build; a test covers its decoding.
        if let Ok(set) = prost_types::FileDescriptorSet::decode(kaigo_proto::FILE_DESCRIPTOR_SET) {
            for file in &set.file {
                for service in &file.service {
                    let names = service.method.iter().map(|m| m.name().to_owned()).collect();
                    methods.insert(format!("{}.{}", file.package(), service.name()), names);
                }
            }
        }
        methods
    })
}

/// The bounded `rpc.method` label of `path` for `service`: the method when it is one of the
/// service's own, else [`OTHER_METHOD`].
pub fn method_label(service: &str, path: &str) -> &'static str {
    let method = path.strip_prefix('/').and_then(|p| p.strip_prefix(service)).and_then(|p| p.strip_prefix('/'));
    match (method, methods_by_service().get(service)) {
        (Some(method), Some(known)) => known.iter().find(|m| m.as_str() == method).map_or(OTHER_METHOD, String::as_str),
        _ => OTHER_METHOD,
    }
}

/// Whether a gRPC status code marks the server span as an error (semantic conventions: the
/// codes that say the server failed, not that the caller asked wrongly).
fn is_server_error(code: i64) -> bool {
    matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
}

/// A service wrapped with its span and metric per call (see the module docs).
#[derive(Clone)]
pub struct Observed<S> {
    inner: S,
    duration: Histogram<f64>,
}

impl<S: NamedService> Observed<S> {
    /// Wraps `inner`; instruments come from the global meter set by [`super::init`].
    pub fn new(inner: S) -> Self {
        let duration = opentelemetry::global::meter("kaigo")
            .f64_histogram(RPC_SERVER_DURATION)
            .with_unit("s")
            .with_description("duration of inbound RPCs, until the answer's last byte")
            // 250 ms is the CheckEligibility latency objective's boundary (the chart's alerts).
            .with_boundaries(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0])
            .build();
        Self { inner, duration }
    }
}

impl<S: NamedService> NamedService for Observed<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for Observed<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>
        + NamedService,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let service = S::NAME;
        let method = method_label(service, request.uri().path());
        let span = tracing::info_span!(
            "rpc.server",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = tracing::field::Empty,
        );
        super::set_parent_from(request.headers(), &span);
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        let record = Record { duration: self.duration.clone(), span: span.clone(), service, method, started };
        Box::pin(tracing::Instrument::instrument(
            async move {
                let response = match future.await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                let head = response.headers().get("grpc-status").and_then(|v| v.to_str().ok()?.parse::<i64>().ok());
                Ok(response
                    .map(|body| tonic::body::Body::new(ObservedBody { inner: body, record: Some(record), head })))
            },
            span,
        ))
    }
}

/// One call's measurements, finished when the answer ends.
struct Record {
    duration: Histogram<f64>,
    span: tracing::Span,
    service: &'static str,
    method: &'static str,
    started: Instant,
}

impl Record {
    fn finish(self, code: i64) {
        self.span.record("rpc.grpc.status_code", code);
        if is_server_error(code) {
            self.span.record("otel.status_code", "error");
        }
        let attributes = [
            KeyValue::new("rpc.system", "grpc"),
            KeyValue::new("rpc.service", self.service),
            KeyValue::new("rpc.method", self.method),
            KeyValue::new("rpc.grpc.status_code", code),
        ];
        self.duration.record(self.started.elapsed().as_secs_f64(), &attributes);
    }
}

pin_project_lite::pin_project! {
    /// An answer body that finishes the call's record at its end: at the trailers (the usual
    /// grpc-status), at the end of a trailers-only answer (status in the head), or on drop if
    /// the caller went away (CANCELLED).
    struct ObservedBody<B> {
        #[pin]
        inner: B,
        record: Option<Record>,
        head: Option<i64>,
    }

    impl<B> PinnedDrop for ObservedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(record) = this.record.take() {
                record.finish(this.head.unwrap_or(1));
            }
        }
    }
}

impl<B: Body<Data = Bytes>> Body for ObservedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        // A streamed answer is produced while the body is polled: inside the call's span.
        let polled = match this.record.as_ref() {
            Some(record) => record.span.in_scope(|| this.inner.poll_frame(cx)),
            None => this.inner.poll_frame(cx),
        };
        let finished = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|trailers| {
                trailers.get("grpc-status").and_then(|v| v.to_str().ok()?.parse::<i64>().ok()).unwrap_or(2)
            }),
            // Ended without trailers: a trailers-only answer, or a broken stream (UNKNOWN).
            Poll::Ready(None) => Some(this.head.unwrap_or(2)),
            Poll::Ready(Some(Err(_))) => Some(2),
            Poll::Pending => None,
        };
        if let Some(code) = finished
            && let Some(record) = this.record.take()
        {
            record.finish(code);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_label_is_one_of_the_services_methods_or_other() {
        let service = "kaigo.eligibility.v1.EligibilityService";
        assert_eq!(
            method_label(service, "/kaigo.eligibility.v1.EligibilityService/CheckEligibility"),
            "CheckEligibility"
        );
        // Anything else a client may put in a path collapses into one label value.
        for path in [
            "/kaigo.eligibility.v1.EligibilityService/CheckEligibility0000000001",
            "/kaigo.eligibility.v1.EligibilityService/",
            "/kaigo.eligibility.v1.EligibilityService",
            "/kaigo.certification.v1.CertificationService/SubmitApplication",
            "/other.Service/CheckEligibility",
            "",
        ] {
            assert_eq!(method_label(service, path), OTHER_METHOD, "{path}");
        }
        assert_eq!(method_label("test.Unknown", "/test.Unknown/Anything"), OTHER_METHOD);
    }

    #[test]
    fn every_kaigo_service_has_its_methods_in_the_table_and_the_label_set_is_bounded() {
        let table = methods_by_service();
        for service in kaigo_proto::SERVICE_NAMES {
            let methods = table.get(service).unwrap_or_else(|| panic!("{service} missing"));
            assert!(!methods.is_empty(), "{service} has no methods");
            for method in methods {
                assert_eq!(method_label(service, &format!("/{service}/{method}")), method.as_str());
            }
        }
        // The label values of one service: its methods and `other`, nothing a caller can grow.
        let service = kaigo_proto::SERVICE_NAMES[0];
        let labels: std::collections::HashSet<&str> =
            (0..10_000).map(|i| method_label(service, &format!("/{service}/M{i}"))).collect();
        assert_eq!(labels.into_iter().collect::<Vec<_>>(), vec![OTHER_METHOD]);
    }

    #[test]
    fn server_errors_are_the_codes_a_server_answers_for() {
        let errors: Vec<i64> = (0..17).filter(|c| is_server_error(*c)).collect();
        assert_eq!(errors, vec![2, 4, 12, 13, 14, 15]);
    }
}
