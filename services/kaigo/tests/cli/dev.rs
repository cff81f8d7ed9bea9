//! `kaigo dev`: everything in one process, reachable through the gateway.

use std::time::Duration;

use kaigo_platform::testkit::eventually;
use tokio_stream::StreamExt;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::support::{Running, SERVING, free_port, health, kaigo};

const SERVICES: [&str; 5] = [
    "kaigo.eligibility.v1.EligibilityService",
    "kaigo.certification.v1.CertificationService",
    "kaigo.documents.v1.DocumentService",
    "kaigo.careplan.v1.CarePlanService",
    "kaigo.subsidies.v1.SubsidyService",
];

#[tokio::test]
async fn dev_serves_every_service_health_and_reflection_through_one_port() {
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let child = kaigo()
        .args(["dev", "--listen", &addr, "--data-dir"])
        .arg(data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _running = Running(child);

    // Done when: serving within 10 s of start.
    let up = eventually(Duration::from_secs(10), || health(&addr, "")).await;
    assert_eq!(up, Some(SERVING), "kaigo dev did not serve within 10 s");
    for service in SERVICES {
        let status =
            eventually(Duration::from_secs(10), || async { health(&addr, service).await.filter(|s| *s == SERVING) })
                .await;
        assert_eq!(status, Some(SERVING), "{service} is not SERVING");
    }

    // Reflection lists the five services, health and reflection.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut client = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client.server_reflection_info(tokio_stream::once(request)).await.unwrap().into_inner();
    let Some(Ok(response)) = responses.next().await else { panic!("no reflection answer") };
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in SERVICES.iter().chain(&["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]) {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }

    // The dev key mints tokens for each role; calls without one are refused at the gateway.
    let roles: [&[&str]; 6] = [
        &["--role", "insurer", "--insurer", "435073"],
        &["--role", "care_office", "--office", "0300000106"],
        &["--role", "service_provider", "--office", "0300000007"],
        &["--role", "medical_institution", "--institution", "0110113719"],
        &["--role", "insured_person"],
        &["--role", "operator"],
    ];
    for args in roles {
        let out = kaigo().arg("token").arg("--data-dir").arg(data.path()).args(args).output().unwrap();
        assert!(out.status.success(), "token {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8(out.stdout).unwrap().trim().split('.').count(), 3);
    }
    let out = kaigo()
        .arg("token")
        .arg("--data-dir")
        .arg(data.path())
        .args(["--role", "insurer", "--insurer", "001220"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "a bad insurer number is refused when minting");

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    let mut health_client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    assert!(health_client.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.is_ok());
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/kaigo.subsidies.v1.SubsidyService/ListProgrammes");
    let codec = tonic_prost::ProstCodec::<
        kaigo_proto::kaigo::subsidies::v1::ListProgrammesRequest,
        kaigo_proto::kaigo::subsidies::v1::ListProgrammesResponse,
    >::default();
    let status = grpc.unary(tonic::Request::new(Default::default()), path, codec).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
}
