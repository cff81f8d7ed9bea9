//! Traces and metrics of running `kaigo serve` processes, received as an operator's tools would:
//! an OTLP/gRPC trace receiver on loopback (the collector's own protocol, from
//! `opentelemetry-proto`) and a scrape of the Prometheus endpoint.

use std::sync::Arc;
use std::time::Duration;

use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::certification::v1 as cert;
use kaigo_proto::kaigo::certification::v1::certification_service_client::CertificationServiceClient;
use kaigo_proto::kaigo::eligibility::v1 as elig;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_client::EligibilityServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Bearer, Stack, free_port, mint};

/// A span as received, with the `service.name` of the process that sent it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    span: Span,
}

/// An OTLP trace receiver keeping every span it is sent.
#[derive(Clone, Default)]
struct Receiver(Arc<tokio::sync::Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().await;
        for resource_spans in request.into_inner().resource_spans {
            let attributes = resource_spans.resource.map(|r| r.attributes).unwrap_or_default();
            let service = string_attribute(&attributes, "service.name").unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|span| Received { service: service.clone(), span }));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

impl Receiver {
    /// Listens on a free loopback port; returns the receiver and its endpoint URL.
    async fn start() -> (Self, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let receiver = Self::default();
        let service = TraceServiceServer::new(receiver.clone());
        tokio::spawn(async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let _ = tonic::transport::Server::builder().add_service(service).serve_with_incoming(incoming).await;
        });
        (receiver, url)
    }

    async fn spans(&self) -> Vec<Received> {
        self.0.lock().await.clone()
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attribute(attributes, key) {
        Some(Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

/// `GET /metrics` of a Prometheus endpoint, the body only.
async fn scrape(addr: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: kaigo\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// The span named `name` sent by `service`, and the span of `parent_service` it is a child of.
fn child_of(spans: &[Received], service: &str, name: &str, parent_service: &str) -> Option<(Received, Received)> {
    spans.iter().filter(|r| r.service == service && r.span.name == name).find_map(|child| {
        let parent =
            spans.iter().find(|p| p.service == parent_service && p.span.span_id == child.span.parent_span_id)?;
        Some((parent.clone(), child.clone()))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_covers_gateway_service_and_database_and_certification_asking_eligibility() {
    let (receiver, otlp) = Receiver::start().await;
    let mut stack = Stack::new(&["eligibility", "certification"]).await;
    let metrics = format!("127.0.0.1:{}", free_port());
    let otel = ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.clone());
    stack.start_with("eligibility", &[otel.clone(), ("KAIGO_TELEMETRY__METRICS_LISTEN", metrics.clone())]).await;
    let eligibility = format!("http://{}", stack.addr("eligibility"));
    stack.start_with("certification", &[otel.clone(), ("KAIGO_CERTIFICATION__ELIGIBILITY_URL", eligibility)]).await;
    stack.start_with("gateway", &[otel]).await;

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", stack.addr("gateway")))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = Bearer::new(&mint(&stack.key, "insurer", Some("435073")));
    let mut client = EligibilityServiceClient::with_interceptor(channel.clone(), token.clone());
    let request = elig::CheckEligibilityRequest {
        insurer_number: "435073".into(),
        insured_number: "0000900001".into(),
        purpose: kaigo_proto::kaigo::common::v1::Purpose::Certification as i32,
        ..Default::default()
    };
    // Whatever the verdict (this person is unknown), the call is answered by the service.
    let answer = client.check_eligibility(request).await;
    let code = answer.as_ref().err().map_or(0, |status| status.code() as i64);

    // A SubmitApplication: certification asks eligibility about the applicant, whatever it answers.
    let mut certification = CertificationServiceClient::with_interceptor(channel, token);
    let application = cert::Application {
        insurer_number: "435073".into(),
        insured_number: "0000900002".into(),
        r#type: cert::ApplicationType::New as i32,
        application_date: Some(kaigo_proto::from_naive_date(kaigo_platform::time::today_jst())),
        applicant: Some(cert::Applicant {
            kind: cert::ApplicantKind::Family as i32,
            family_member_name: "山田 花子".into(),
            family_relationship: "長女".into(),
            office_number: String::new(),
        }),
        insured_category: kaigo_proto::kaigo::common::v1::InsuredCategory::First as i32,
        ..Default::default()
    };
    let request =
        cert::SubmitApplicationRequest { request_id: uuid::Uuid::new_v4().to_string(), application: Some(application) };
    let _ = certification.submit_application(request).await;

    // The batch exporters send within seconds; every process's spans of the calls arrive.
    const CHECK: &str = "kaigo.eligibility.v1.EligibilityService/CheckEligibility";
    const SUBMIT: &str = "kaigo.certification.v1.CertificationService/SubmitApplication";
    let traces = eventually(Duration::from_secs(30), || async {
        let spans = receiver.spans().await;
        let (gateway, check) = child_of(&spans, "kaigo-eligibility", CHECK, "kaigo-gateway")?;
        let query = spans.iter().find(|r| {
            r.service == "kaigo-eligibility"
                && r.span.parent_span_id == check.span.span_id
                && r.span.kind == SpanKind::Client as i32
        })?;
        let (submit, asked) = child_of(&spans, "kaigo-eligibility", CHECK, "kaigo-certification")?;
        let (front, _) = child_of(&spans, "kaigo-certification", SUBMIT, "kaigo-gateway")?;
        (front.span.trace_id == submit.span.trace_id).then_some(())?;
        Some((gateway, check, query.clone(), submit, asked))
    })
    .await;
    let received = receiver.spans().await;
    let Some((gateway, check, query, submit, asked)) = traces else {
        panic!(
            "the traces are incomplete; received {:?}\neligibility log:\n{}\ncertification log:\n{}\ngateway log:\n{}",
            received.iter().map(|r| (&r.service, &r.span.name, r.span.kind)).collect::<Vec<_>>(),
            stack.log("eligibility"),
            stack.log("certification"),
            stack.log("gateway")
        )
    };
    // gateway → eligibility → database, one trace.
    assert_eq!(gateway.span.trace_id, check.span.trace_id, "one trace");
    assert_eq!(query.span.trace_id, check.span.trace_id, "one trace");
    assert_eq!(gateway.span.kind, SpanKind::Server as i32);
    assert_eq!(check.span.kind, SpanKind::Server as i32);
    let attributes = &check.span.attributes;
    assert_eq!(string_attribute(attributes, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(string_attribute(attributes, "rpc.service").as_deref(), Some("kaigo.eligibility.v1.EligibilityService"));
    assert_eq!(string_attribute(attributes, "rpc.method").as_deref(), Some("CheckEligibility"));
    assert_eq!(attribute(attributes, "rpc.grpc.status_code"), Some(&Value::IntValue(code)));
    assert_eq!(string_attribute(&query.span.attributes, "db.system").as_deref(), Some("postgresql"));
    assert!(string_attribute(&query.span.attributes, "db.operation").is_some(), "{:?}", query.span);
    // gateway → certification → eligibility, one trace.
    assert_eq!(submit.span.trace_id, asked.span.trace_id, "one trace");
    assert_eq!(submit.span.name, SUBMIT);
    // No personal data on any span: the insured numbers appear in no name or attribute.
    for received in &received {
        let text = format!("{:?}", received.span);
        assert!(!text.contains("0000900001") && !text.contains("0000900002"), "{text}");
    }

    // The call in the RPC duration histogram, scraped from eligibility's admin port: the one
    // through the gateway and the one certification made.
    let body = scrape(&metrics).await;
    let count: u64 = body
        .lines()
        .filter(|l| {
            l.starts_with("rpc_server_duration_milliseconds_count{") && l.contains(r#"rpc_method="CheckEligibility""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(count, 2, "{body}");
    assert!(body.contains("# TYPE rpc_server_duration_milliseconds histogram"), "{body}");
    assert!(body.contains("# TYPE db_client_operation_duration_seconds histogram"), "{body}");
}
