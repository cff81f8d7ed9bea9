//! Malformed requests at the door: each gets its own precise answer, and the connection it
//! came on keeps serving. (`services/kaigo/tests/cli/bad_input.rs` sends generated bodies to
//! every RPC of the real services; these pin each rule at the gateway.)

use std::net::SocketAddr;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kaigo_gateway::GatewayConfig;
use kaigo_proto::kaigo::subsidies::v1 as subs;
use prost::Message;
use tonic::Code;

use crate::support::*;

const LIST_PROGRAMMES: &str = "/kaigo.subsidies.v1.SubsidyService/ListProgrammes";

async fn door() -> (Door, String) {
    let door = Door::open(GatewayConfig::default(), &["subsidies"]).await;
    let token = door.office_token("u1");
    (door, token)
}

/// The grpc-status code and message of a raw call: from the headers (trailers-only), the
/// trailers, or a gRPC-Web trailer frame.
async fn raw_call(addr: SocketAddr, http2: bool, content_type: &str, token: &str, body: Vec<u8>) -> (Code, String) {
    let mut builder = Client::builder(TokioExecutor::new());
    builder.http2_only(http2);
    let client = builder.build_http::<Full<Bytes>>();
    let request = http::Request::post(format!("http://{addr}{LIST_PROGRAMMES}"))
        .header("content-type", content_type)
        .header("te", "trailers")
        .header("accept", content_type)
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let mut bytes = collected.to_bytes().to_vec();
    // tonic-web answers in text when the client accepts it (`accept`), binary otherwise.
    let text = parts.headers.get("content-type").is_some_and(|t| t.to_str().is_ok_and(|t| t.contains("grpc-web-text")));
    if text {
        // Each frame is encoded on its own: padding may end any chunk.
        let engine = &base64::engine::general_purpose::STANDARD;
        let mut decoded = Vec::new();
        let mut start = 0;
        for i in 0..bytes.len() {
            if bytes[i] == b'=' && bytes.get(i + 1) != Some(&b'=') {
                decoded.extend(engine.decode(&bytes[start..=i]).unwrap());
                start = i + 1;
            }
        }
        decoded.extend(engine.decode(&bytes[start..]).unwrap());
        bytes = decoded;
    }
    let mut fields: Vec<(String, String)> = Vec::new();
    for map in [&parts.headers, &trailers] {
        for (name, value) in map {
            fields.push((name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()));
        }
    }
    let mut rest = &bytes[..];
    while rest.len() >= 5 {
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        if rest[0] & 0x80 != 0 {
            for line in String::from_utf8_lossy(&rest[5..5 + len]).lines() {
                if let Some((name, value)) = line.split_once(':') {
                    fields.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                }
            }
        }
        rest = &rest[5 + len..];
    }
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let code = field("grpc-status").unwrap_or_else(|| panic!("no grpc-status: {fields:?}"));
    let message = field("grpc-message").unwrap_or_default();
    (Code::from_i32(code.parse().unwrap()), message)
}

#[tokio::test]
async fn malformed_bodies_are_the_callers_mistake_natively_and_as_grpc_web() {
    let (door, token) = door().await;
    let valid = subs::ListProgrammesRequest::default().encode_to_vec();
    let cases: Vec<(&str, Vec<u8>, Code)> = vec![
        ("wire type 7", framed(0, b"\xff\x01\x02garbage"), Code::InvalidArgument),
        ("a field longer than the message", framed(0, b"\x0a\x09ab"), Code::InvalidArgument),
        ("a message cut short", framed(0, b"\x0a\x02ab")[..6].to_vec(), Code::InvalidArgument),
        ("a prefix cut short", vec![0, 0, 0], Code::InvalidArgument),
        ("a trailers frame from the client", framed(0x80, b"grpc-status: 0"), Code::InvalidArgument),
        ("flag 0x42", framed(0x42, &valid), Code::InvalidArgument),
        ("no message", Vec::new(), Code::Unimplemented),
        ("two messages", [framed(0, &valid), framed(0, &valid)].concat(), Code::Unimplemented),
    ];
    for (name, body, expected) in cases {
        for (http2, content_type) in [(true, "application/grpc"), (false, "application/grpc-web+proto")] {
            let (code, message) = raw_call(door.addr(), http2, content_type, &token, body.clone()).await;
            assert_eq!(code, expected, "{name} as {content_type}: {message}");
        }
        let text = base64::engine::general_purpose::STANDARD.encode(&body).into_bytes();
        let (code, message) = raw_call(door.addr(), false, "application/grpc-web-text", &token, text).await;
        assert_eq!(code, expected, "{name} as grpc-web-text: {message}");
    }
    let (code, message) =
        raw_call(door.addr(), false, "application/grpc-web-text", &token, b"not base64!*".to_vec()).await;
    assert_eq!(code, Code::InvalidArgument, "invalid base64: {message}");

    // The valid body still passes, on every transport: refusals neither open the service's
    // circuit breaker nor count as its failures.
    let text = base64::engine::general_purpose::STANDARD.encode(framed(0, &valid)).into_bytes();
    for (http2, content_type, body) in [
        (true, "application/grpc", framed(0, &valid)),
        (false, "application/grpc-web+proto", framed(0, &valid)),
        (false, "application/grpc-web-text", text),
    ] {
        let (code, message) = raw_call(door.addr(), http2, content_type, &token, body).await;
        assert_eq!(code, Code::Ok, "{content_type}: {message}");
    }
    assert!(!door.gw.gateway.circuit_open("subsidies"), "refused bodies must not open the breaker");
}

#[tokio::test]
async fn one_credential_per_call_with_the_scheme_in_any_case() {
    let (door, token) = door().await;
    let channel = channel(door.addr()).await;
    let operator = TestKey::ed25519("ed-other");
    let mut client = subs::subsidy_service_client::SubsidyServiceClient::new(channel.clone());

    let mut request = tonic::Request::new(subs::ListProgrammesRequest::default());
    let metadata = request.metadata_mut();
    metadata.append("authorization", format!("Bearer {}", token).parse().unwrap());
    metadata.append("authorization", format!("Bearer {}", operator.sign(&office_claims("u2"))).parse().unwrap());
    let status = client.list_programmes(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("more than one authorization header"), "{status:?}");

    for scheme in ["Bearer", "bearer", "BEARER"] {
        let mut request = tonic::Request::new(subs::ListProgrammesRequest::default());
        request.metadata_mut().insert("authorization", format!("{scheme} {}", token).parse().unwrap());
        let response = client.list_programmes(request).await;
        assert!(response.is_ok(), "{scheme}: {response:?}");
    }
}

#[tokio::test]
async fn a_huge_header_is_refused_alone_and_the_connection_keeps_serving() {
    let (door, token) = door().await;
    // One tonic channel is one HTTP/2 connection: the refused call shares it with the others.
    let channel = channel(door.addr()).await;
    let huge = "a".repeat(100 * 1024);
    let refused = list_programmes(&channel, Some(&token), &[("x-padding", &huge)]).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(reason(&refused), "HEADERS_TOO_LARGE");
    let huge_token = format!("{}{huge}", token);
    let refused = list_programmes(&channel, Some(&huge_token), &[]).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    let served = list_programmes(&channel, Some(&token), &[]).await;
    assert!(served.is_ok(), "the connection must still serve: {served:?}");
}
