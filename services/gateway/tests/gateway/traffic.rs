//! Traffic control: balancing, rate limits, message size, deadlines, the circuit breaker.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kaigo_gateway::{GatewayConfig, RoleLimits};
use kaigo_platform::auth::CallerKeys;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::*;

#[tokio::test]
async fn calls_are_balanced_over_replicas_and_reads_survive_a_dead_one() {
    let ed = TestKey::ed25519("ed-1");
    let jwks_server = JwksServer::start(jwks(&[&ed])).await;
    let keys = CallerKeys::generate();
    let (a, _a) = start_upstream("127.0.0.1:0", &keys, "a").await;
    let (b, b_server) = start_upstream("127.0.0.1:0", &keys, "b").await;
    let gw =
        start_gateway(auth_config(&jwks_server.url), GatewayConfig::default(), &keys, &[("subsidies", vec![a, b])])
            .await;
    let channel = channel(gw.addr).await;
    let token = ed.sign(&office_claims("u"));
    let mut seen = BTreeMap::new();
    for _ in 0..10 {
        let response = list_programmes(&channel, Some(&token), &[]).await.unwrap();
        let tag = response.metadata().get("x-upstream").unwrap().to_str().unwrap().to_owned();
        *seen.entry(tag).or_insert(0) += 1;
    }
    assert_eq!(seen.get("a"), Some(&5), "round robin per request over one connection each: {seen:?}");
    assert_eq!(seen.get("b"), Some(&5), "{seen:?}");

    // One replica dies: ListProgrammes (an idempotent read) is retried on the other, and the
    // dead address is ejected, so every call still succeeds.
    b_server.kill().await;
    for _ in 0..10 {
        let response = list_programmes(&channel, Some(&token), &[]).await.unwrap();
        assert_eq!(response.metadata().get("x-upstream").unwrap(), "a");
    }
}

#[tokio::test]
async fn each_caller_has_a_rate_limit_answered_with_a_retry_delay() {
    let mut config = GatewayConfig::default();
    config.roles.insert("care_office".to_owned(), RoleLimits { rate_per_sec: 0.5, burst: 3, ..RoleLimits::default() });
    let door = Door::open(config, &["subsidies"]).await;
    let (gw, ed) = (&door.gw, &door.key);
    let channel = channel(gw.addr).await;
    let token = ed.sign(&office_claims("busy"));
    for _ in 0..3 {
        list_programmes(&channel, Some(&token), &[]).await.unwrap();
    }
    let status = list_programmes(&channel, Some(&token), &[]).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(reason(&status), "RATE_LIMITED");
    let delay = status.get_error_details().retry_info().unwrap().retry_delay.unwrap();
    assert!(delay > Duration::from_millis(1000) && delay <= Duration::from_secs(2), "{delay:?}");
    // Another caller of the same role has its own bucket.
    list_programmes(&channel, Some(&ed.sign(&office_claims("calm"))), &[]).await.unwrap();
}

#[tokio::test]
async fn oversized_messages_are_refused_and_deadlines_capped() {
    let config = GatewayConfig {
        limits: RoleLimits { max_message_bytes: 1024, max_timeout_ms: 2000, ..RoleLimits::default() },
        ..GatewayConfig::default()
    };
    let door = Door::open(config, &["subsidies"]).await;
    let (gw, ed) = (&door.gw, &door.key);
    let channel = channel(gw.addr).await;
    let token = ed.sign(&office_claims("u"));

    let mut client =
        kaigo_proto::kaigo::subsidies::v1::subsidy_service_client::SubsidyServiceClient::new(channel.clone());
    let mut request = tonic::Request::new(kaigo_proto::kaigo::subsidies::v1::ListProgrammesRequest {
        page_token: "x".repeat(2000),
        ..Default::default()
    });
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let status = client.list_programmes(request).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");

    // A one-hour deadline is capped at the role's 2 s and passed on; a shorter one is kept.
    let response = list_programmes(&channel, Some(&token), &[("grpc-timeout", "1H")]).await.unwrap();
    let seen = response.metadata().get("x-seen-timeout").unwrap().to_str().unwrap();
    let millis: u64 = seen.trim_end_matches('m').parse().unwrap();
    assert!(millis <= 2000 && millis > 1500, "{seen}");
    let response = list_programmes(&channel, Some(&token), &[("grpc-timeout", "700m")]).await.unwrap();
    let millis: u64 =
        response.metadata().get("x-seen-timeout").unwrap().to_str().unwrap().trim_end_matches('m').parse().unwrap();
    assert!(millis <= 700, "{millis}");

    // Every answer carries the request id: the client's, or a generated one.
    let response = list_programmes(&channel, Some(&token), &[("x-request-id", "req-42")]).await.unwrap();
    assert_eq!(response.metadata().get("x-request-id").unwrap(), "req-42");
    let status = list_programmes(&channel, None, &[]).await.unwrap_err();
    assert_eq!(status.metadata().get("x-request-id").unwrap().len(), 36);
}

#[tokio::test]
async fn a_dead_service_fails_fast_behind_its_breaker_while_others_answer() {
    let ed = TestKey::ed25519("ed-1");
    let jwks_server = JwksServer::start(jwks(&[&ed])).await;
    let keys = CallerKeys::generate();
    let (subsidies, _subsidies) = start_upstream("127.0.0.1:0", &keys, "s").await;
    let (eligibility, eligibility_server) = start_upstream("127.0.0.1:0", &keys, "e").await;
    let config = GatewayConfig { breaker_failures: 3, breaker_open_ms: 60_000, ..GatewayConfig::default() };
    let gw = start_gateway(
        auth_config(&jwks_server.url),
        config,
        &keys,
        &[("subsidies", vec![subsidies]), ("eligibility", vec![eligibility])],
    )
    .await;
    let channel = channel(gw.addr).await;
    let token = ed.sign(&office_claims("u"));
    check_eligibility(&channel, &token).await.unwrap();

    eligibility_server.kill().await;
    for _ in 0..3 {
        let status = check_eligibility(&channel, &token).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    assert!(gw.gateway.circuit_open("eligibility"));
    assert!(!gw.gateway.circuit_open("subsidies"));

    // Something listens on the dead service's port again, counting connection attempts: the
    // open breaker answers without trying it.
    let listener = tokio::net::TcpListener::bind(eligibility).await.unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let _accepting = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let status = check_eligibility(&channel, &token).await.unwrap_err();
        slowest = slowest.max(started.elapsed());
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(reason(&status), "UPSTREAM_CIRCUIT_OPEN");
        assert!(status.get_error_details().retry_info().is_some());
    }
    println!("open breaker: slowest of 20 refusals through the gateway took {slowest:?}");
    assert_eq!(attempts.load(Ordering::SeqCst), 0, "the open breaker must not connect");

    // The other service keeps answering.
    let response = list_programmes(&channel, Some(&token), &[]).await.unwrap();
    assert_eq!(response.metadata().get("x-upstream").unwrap(), "s");
}

#[tokio::test]
async fn unknown_services_are_unimplemented() {
    let door = Door::open(GatewayConfig::default(), &[]).await;
    let (gw, ed) = (&door.gw, &door.key);
    let channel = channel(gw.addr).await;
    // No subsidies route configured in this gateway.
    let status = list_programmes(&channel, Some(&ed.sign(&office_claims("u"))), &[]).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

#[tokio::test]
async fn a_bidirectional_stream_goes_back_and_forth_through_the_gateway() {
    let door = Door::open(GatewayConfig::default(), &["eligibility"]).await;
    let (gw, ed) = (&door.gw, &door.key);
    let mut client = kaigo_proto::kaigo::eligibility::v1::eligibility_service_client::EligibilityServiceClient::new(
        channel(gw.addr).await,
    );
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let requests = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
    let mut request = tonic::Request::new(requests);
    let token = ed.sign(&office_claims("u"));
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let message = kaigo_proto::kaigo::eligibility::v1::ImportInsuredPersonsRequest::default;
    // The first message goes before the call's answer has begun; each next one only after the
    // answer to the one before it came back: the request is still streaming while the answer
    // does, in both directions through the gateway. (A gateway that sent the request body only
    // up to the answer's head, or only after the answer, would never answer the second.)
    tx.send(message()).await.unwrap();
    let response = client.import_insured_persons(request).await.unwrap();
    let mut answers = response.into_inner();
    for expected in 1..=3 {
        let answer = tokio::time::timeout(Duration::from_secs(10), answers.message()).await;
        let answer = answer.expect("an answer to each message").unwrap().unwrap();
        let Some(kaigo_proto::kaigo::eligibility::v1::import_insured_persons_response::Event::Progress(progress)) =
            answer.event
        else {
            panic!("progress expected: {answer:?}");
        };
        assert_eq!(progress.rows_received, expected);
        if expected < 3 {
            tx.send(message()).await.unwrap();
        }
    }
    drop(tx);
    let end = tokio::time::timeout(Duration::from_secs(10), answers.message()).await;
    assert!(matches!(end, Ok(Ok(None))), "the answer ends with OK once the request has: {end:?}");
}
