//! PostgreSQL going away under a running eligibility service with the in-process cache off
//! (issue #21 item 6): an insurer's check is answered UNAVAILABLE with RetryInfo once the
//! pool's acquire timeout (`database.acquire_timeout_ms`) has passed, not left to its
//! deadline; when the database is back the same call answers again.
//!
//! The database is a private server of this test (`testkit::TestPostgres`), stopped and
//! restarted under the service. The time the refusal takes is printed, never asserted (the
//! README states the measured figure).

use std::time::{Duration, Instant};

use kaigo_eligibility::Config;
use kaigo_platform::testkit::{ServiceHarness, TestPostgres, context, eventually};
use kaigo_proto::kaigo::eligibility::v1 as pb;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_client::EligibilityServiceClient;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_server::EligibilityServiceServer;
use sea_orm_migration::MigratorTrait;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::*;

fn request(insured: &str) -> pb::CheckEligibilityRequest {
    pb::CheckEligibilityRequest {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        as_of: Some(date(2025, 6, 1)),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_a_check_fails_fast_with_unavailable_and_recovers() {
    let postgres = tokio::task::spawn_blocking(TestPostgres::start).await.unwrap();
    // The production defaults (acquire 1 s), as `kaigo serve` runs.
    let conn = kaigo_platform::db::connect(&postgres.config(), "eligibility").await.unwrap();
    kaigo_eligibility::Migrator::up(&conn, None).await.unwrap();
    let (ctx, control) = context("eligibility", conn);
    let api = kaigo_eligibility::build(&ctx, &Config { l1_enabled: false, ..Config::default() });
    let harness = ServiceHarness::serve(&ctx, control, None, EligibilityServiceServer::new(api)).await;
    let mut client = EligibilityServiceClient::new(harness.channel(Some(insurer(INSURER))).await);

    create_person(&mut client, "0000000500").await;
    let answered = client.check_eligibility(request("0000000500")).await.unwrap().into_inner();
    assert!(answered.result.is_some(), "answered from the database while it is up");

    tokio::task::block_in_place(|| postgres.stop());
    let started = Instant::now();
    let status =
        client.check_eligibility(tonic::Request::new(request("0000000500"))).await.expect_err("no database, no answer");
    eprintln!("CheckEligibility with PostgreSQL down answered {:?} after {:?}", status.code(), started.elapsed());
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(&status), "DEPENDENCY_UNAVAILABLE");
    assert!(status.get_error_details().retry_info().is_some(), "UNAVAILABLE carries RetryInfo: {status:?}");
    assert!(!status.message().contains("0000000500"), "no insured number in the message");

    tokio::task::block_in_place(|| postgres.resume());
    let recovered = eventually(Duration::from_secs(30), || {
        let mut client = client.clone();
        async move { client.check_eligibility(request("0000000500")).await.ok() }
    })
    .await;
    assert!(recovered.is_some_and(|r| r.into_inner().result.is_some()), "answers again once the database is back");
    harness.shutdown().await;
}
