//! `kaigo dev`: everything in one process, reachable through the gateway.

use std::time::Duration;

use kaigo_platform::testkit::eventually;
use tokio_stream::StreamExt;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::support::{Running, SERVING, free_port, health, kaigo};

/// The files one reflection request answers with.
async fn reflect(
    client: &mut ServerReflectionClient<tonic::transport::Channel>,
    request: MessageRequest,
) -> Vec<prost_types::FileDescriptorProto> {
    use prost::Message as _;
    let request = ServerReflectionRequest { host: String::new(), message_request: Some(request) };
    let mut responses = client.server_reflection_info(tokio_stream::once(request)).await.unwrap().into_inner();
    let Some(Ok(response)) = responses.next().await else { panic!("no reflection answer") };
    match response.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => files
            .file_descriptor_proto
            .iter()
            .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap())
            .collect(),
        other => panic!("reflection answered {other:?}"),
    }
}

const SERVICES: [&str; 6] = [
    "kaigo.eligibility.v1.EligibilityService",
    "kaigo.certification.v1.CertificationService",
    "kaigo.documents.v1.DocumentService",
    "kaigo.careplan.v1.CarePlanService",
    "kaigo.subsidies.v1.SubsidyService",
    "kaigo.registry.v1.RegistryService",
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

    // Reflection lists the six services, health and reflection.
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

    // Reflection also serves the error-detail types every error carries (google.rpc.ErrorInfo,
    // BadRequest …) and what they import, so grpcurl decodes them instead of printing base64.
    for symbol in ["google.rpc.ErrorInfo", "google.rpc.BadRequest", "google.rpc.RetryInfo", "google.rpc.Status"] {
        let files = reflect(&mut client, MessageRequest::FileContainingSymbol(symbol.to_owned())).await;
        let file = files.first().unwrap_or_else(|| panic!("no file for {symbol}"));
        let package_and_name = symbol.rsplit_once('.').unwrap();
        assert_eq!(file.package(), package_and_name.0);
        assert!(file.message_type.iter().any(|m| m.name() == package_and_name.1), "{symbol} not in {}", file.name());
        for dependency in &file.dependency {
            let found = reflect(&mut client, MessageRequest::FileByFilename(dependency.clone())).await;
            assert!(
                found.iter().any(|f| f.name() == dependency),
                "{dependency} (imported by {}) not served",
                file.name()
            );
        }
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

/// A newcomer's path: `kaigo dev` on the address of `KAIGO_SERVER__LISTEN`, `kaigo health` with
/// the `host:port` grpcurl takes, then an import whose bad rows are all reported on a pipe.
#[tokio::test]
async fn dev_on_the_configured_address_answers_health_and_imports_report_every_rejected_row() {
    let data = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    // Only loopback, whichever way the address is given.
    let out =
        kaigo().args(["dev", "--data-dir"]).arg(data.path()).env("KAIGO_SERVER__LISTEN", "0.0.0.0:1").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.listen (KAIGO_SERVER__LISTEN"), "{out:?}");
    let out = kaigo().args(["dev", "--listen", "0.0.0.0:1", "--data-dir"]).arg(data.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    // kaigo dev logs text; written to a file, it has no terminal colours.
    let log = data.path().join("dev.log");
    let child = kaigo()
        .args(["dev", "--data-dir"])
        .arg(data.path())
        .env("KAIGO_SERVER__LISTEN", &addr)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _running = Running(child);
    let service = "kaigo.eligibility.v1.EligibilityService";
    let up =
        eventually(Duration::from_secs(20), || async { health(&addr, service).await.filter(|s| *s == SERVING) }).await;
    assert_eq!(up, Some(SERVING), "kaigo dev did not serve on KAIGO_SERVER__LISTEN {addr}");

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains(" INFO "), "{logged}");
    assert!(!logged.contains('\u{1b}'), "terminal escapes in a log file: {logged:?}");

    for endpoint in [addr.clone(), format!("http://{addr}")] {
        let out = kaigo().args(["health", "--endpoint", &endpoint, "--service", service]).output().unwrap();
        assert!(out.status.success(), "kaigo health --endpoint {endpoint}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{service}: Serving"));
    }

    let out = kaigo()
        .arg("token")
        .arg("--data-dir")
        .arg(data.path())
        .args(["--role", "insurer", "--insurer", "435073"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let out = kaigo().args(["gen", "insured", "--count", "3", "--insurer", "435073", "--seed", "25"]).output().unwrap();
    assert!(out.status.success());
    let extract = String::from_utf8(out.stdout).unwrap();
    let mut lines = extract.lines();
    let header = lines.next().unwrap();
    let good: Vec<&str> = lines.collect();
    assert_eq!(good.len(), 3);
    // Line 3 cannot be read here; line 5 reads but its insured number is refused by the server.
    let mut fields: Vec<&str> = good[1].split(',').collect();
    fields[1] = "12345";
    let server_bad = fields.join(",");
    let file = data.path().join("persons.csv");
    std::fs::write(&file, [header, good[0], "not,a,row", good[2], &server_bad, ""].join("\n")).unwrap();
    let rejects = data.path().join("rejects.jsonl");
    let import = |file: &std::path::Path, rejects: Option<&std::path::Path>| {
        let mut cmd = kaigo();
        cmd.args(["import", "insured"]).arg(file).args(["--endpoint", &addr]).env("KAIGO_TOKEN", &token);
        if let Some(rejects) = rejects {
            cmd.arg("--rejects").arg(rejects);
        }
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
    };

    // Standard error is a pipe here: the reasons are there all the same, and the exit code
    // says rows were rejected.
    let (code, stdout, stderr) = import(&file, Some(&rejects));
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("4 rows") && stdout.contains("2 rejected"), "{stdout}");
    assert!(stderr.contains("line 3: UNREADABLE_ROW expected"), "{stderr}");
    assert!(stderr.lines().any(|l| l.starts_with("line 5: ") && l.contains("insured_number")), "{stderr}");
    assert!(stderr.contains("2 rows rejected"), "{stderr}");
    let report: Vec<serde_json::Value> =
        std::fs::read_to_string(&rejects).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut lines: Vec<i64> = report.iter().map(|r| r["line"].as_i64().unwrap()).collect();
    lines.sort_unstable();
    assert_eq!(lines, [3, 5], "{report:?}");
    let server = report.iter().find(|r| r["line"] == 5).unwrap();
    assert!(!server["reason"].as_str().unwrap().is_empty());
    assert!(
        server["violations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["field"].as_str().unwrap().contains("insured_number"))
    );

    // The same rows without the bad ones: exit 0 and nothing rejected.
    let clean = data.path().join("clean.csv");
    std::fs::write(&clean, [header, good[0], good[2], ""].join("\n")).unwrap();
    let (code, stdout, stderr) = import(&clean, None);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("0 rejected"), "{stdout}");

    // Every row bad: said so, nothing sent; the server's complaint about a headerless stream
    // never reaches the operator.
    let hopeless = data.path().join("hopeless.csv");
    std::fs::write(&hopeless, [header, "a,b", "c,d", ""].join("\n")).unwrap();
    let (code, _, stderr) = import(&hopeless, None);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("every one of the 2 rows failed local checks"), "{stderr}");
    assert!(stderr.contains("line 2: ") && stderr.contains("line 3: "), "{stderr}");
    assert!(!stderr.contains("header"), "{stderr}");
    let empty = data.path().join("empty.csv");
    std::fs::write(&empty, format!("{header}\n")).unwrap();
    let (code, _, stderr) = import(&empty, None);
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("no data rows"), "{stderr}");
}
