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

use crate::support::{Bearer, Running, SERVING, Stack, free_port, health, kaigo, mint};

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
                && string_attribute(&r.span.attributes, "db.system").as_deref() == Some("postgresql")
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
    // eligibility's L2 cache lookup: a Redis client span in the same trace, named by its command.
    let redis: Vec<&Received> = received
        .iter()
        .filter(|r| r.span.trace_id == check.span.trace_id)
        .filter(|r| string_attribute(&r.span.attributes, "db.system").as_deref() == Some("redis"))
        .collect();
    assert!(!redis.is_empty(), "no Redis span in the CheckEligibility trace: {received:?}");
    assert!(redis.iter().all(|r| r.span.name.starts_with("redis ") && !r.span.name.contains(':')), "{redis:?}");
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
            l.starts_with("rpc_server_duration_seconds_count{") && l.contains(r#"rpc_method="CheckEligibility""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(count, 2, "{body}");
    assert!(body.contains("# TYPE rpc_server_duration_seconds histogram"), "{body}");
    assert!(body.contains("# TYPE db_client_operation_duration_seconds histogram"), "{body}");
    // eligibility's pool: its size limit (database.max_connections, 16 by default) and its
    // connections by state.
    assert!(body.contains(r#"db_client_connections_max{pool_name="eligibility"} 16"#), "{body}");
    assert!(body.contains(r#"db_client_connections_usage{pool_name="eligibility",state="idle"} "#), "{body}");
    // Prometheus's own linter accepts the exposition (promtool: Debian's prometheus, which CI
    // installs; scripts/image/install-tools.sh).
    match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut promtool) => {
            use std::io::Write;
            promtool.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
            let out = promtool.wait_with_output().unwrap();
            let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{body}");
        }
        Err(err) => println!("promtool not run ({err}): apt-get install prometheus to lint the exposition"),
    }
}

/// `kaigo dev` seeds hundreds of rows and events before it serves: none of that is traced, so
/// the spans an operator receives are those of the calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kaigo_dev_sends_the_spans_of_calls_and_none_of_seeding() {
    let (receiver, otlp) = Receiver::start().await;
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("dev.log");
    let addr = format!("127.0.0.1:{}", free_port());
    let child = kaigo()
        .args(["dev", "--listen", &addr, "--data-dir"])
        .arg(data.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _running = Running(child);
    let service = "kaigo.eligibility.v1.EligibilityService";
    let up =
        eventually(Duration::from_secs(60), || async { health(&addr, service).await.filter(|s| *s == SERVING) }).await;
    assert_eq!(up, Some(SERVING), "kaigo dev not serving; log:\n{}", std::fs::read_to_string(&log).unwrap());

    let key = kaigo_gateway::DevKey::load_or_create(data.path()).unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut client =
        EligibilityServiceClient::with_interceptor(channel, Bearer::new(&mint(&key, "insurer", Some("435073"))));
    let request = elig::CheckEligibilityRequest {
        insurer_number: "435073".into(),
        insured_number: "0000000001".into(),
        purpose: kaigo_proto::kaigo::common::v1::Purpose::Certification as i32,
        ..Default::default()
    };
    client.check_eligibility(request).await.expect("the demo person is known");

    const CHECK: &str = "kaigo.eligibility.v1.EligibilityService/CheckEligibility";
    let call = eventually(Duration::from_secs(30), || async {
        let spans = receiver.spans().await;
        child_of(&spans, "kaigo-dev", CHECK, "kaigo-dev").map(|(gateway, _)| gateway.span.trace_id)
    })
    .await;
    let received = receiver.spans().await;
    let Some(trace_id) = call else {
        panic!(
            "no CheckEligibility under the gateway's span; received {:?}",
            received.iter().map(|r| &r.span.name).collect::<Vec<_>>()
        )
    };
    // Every span received belongs to the call: seeding's statements, outbox rows and event
    // handling sent none.
    // (The test's health checks while kaigo dev started are calls too, each its own trace.)
    let health =
        |r: &&Received| string_attribute(&r.span.attributes, "rpc.service").as_deref() == Some("grpc.health.v1.Health");
    let others: Vec<&String> =
        received.iter().filter(|r| r.span.trace_id != trace_id && !health(r)).map(|r| &r.span.name).collect();
    assert!(others.is_empty(), "spans outside the call's trace: {others:?}");
    assert!(
        received.len() >= 3,
        "gateway, service and database spans: {:?}",
        received.iter().map(|r| &r.span.name).collect::<Vec<_>>()
    );
}
