//! The platform's idempotency contract on the insurer writes, and the answers stored by the
//! previous version surviving the upgrade.

use kaigo_platform::auth::Caller;
use kaigo_platform::auth::Role;
use kaigo_platform::testkit::{IdempotentWrite, TestDatabase, idempotency_contract};
use kaigo_proto::kaigo::eligibility::v1 as pb;
use prost::Message;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;

use crate::support::*;

fn copay(
    insurer_number: &str,
    insured: &str,
    request_id: &str,
    version: i64,
    ratio: pb::CopaymentRatio,
) -> pb::RecordCopaymentRatioRequest {
    pb::RecordCopaymentRatioRequest {
        request_id: request_id.to_owned(),
        insurer_number: insurer_number.into(),
        insured_number: insured.into(),
        expected_version: version,
        copayment: Some(pb::CopaymentPeriod {
            ratio: ratio as i32,
            period: period(date(2025, 8, 1), Some(date(2026, 7, 31))),
        }),
    }
}

#[tokio::test]
async fn retries_replay_for_their_caller_only_and_only_once_authorised() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut mine = server.client(insurer(INSURER)).await;
    let mut theirs = server.client(insurer(OTHER_INSURER)).await;
    let v = create_person(&mut mine, "0000000200").await;
    let w = create_person_at(&mut theirs, OTHER_INSURER, "0000000201").await;

    // An identical retry gets the first answer, though the version it names is stale by then.
    let request_id = rid();
    let request = copay(INSURER, "0000000200", &request_id, v, pb::CopaymentRatio::OneTenth);
    let first = mine.record_copayment_ratio(request.clone()).await.unwrap().into_inner();
    assert_eq!(first.person_version, v + 1);
    let retry = mine.record_copayment_ratio(request.clone()).await.unwrap().into_inner();
    assert_eq!(retry, first);

    // A new write naming the stale version is refused.
    let err = mine
        .record_copayment_ratio(copay(INSURER, "0000000200", &rid(), v, pb::CopaymentRatio::OneTenth))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Aborted);
    assert_eq!(reason(&err), "STALE_VERSION");

    // The same request id with another body.
    let err = mine
        .record_copayment_ratio(copay(INSURER, "0000000200", &request_id, v, pb::CopaymentRatio::TwoTenths))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists);
    assert_eq!(reason(&err), "REQUEST_ID_REUSED");

    // Another insurer's write with the same request id is its own write, on its own person.
    let other = theirs
        .record_copayment_ratio(copay(OTHER_INSURER, "0000000201", &request_id, w, pb::CopaymentRatio::OneTenth))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.person_version, w + 1);
    assert_ne!(other.record, first.record);

    // Callers who may not write this person are refused, even repeating the request id and
    // body that were answered for its insurer.
    let err = theirs.record_copayment_ratio(request.clone()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert_eq!(reason(&err), "WRITE_OWN_INSURED_ONLY");
    let mut office_client = server.client(office(Role::CareOffice, OFFICE)).await;
    let err = office_client.record_copayment_ratio(request).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    // A request id is a UUID.
    let err = mine
        .record_copayment_ratio(copay(INSURER, "0000000200", "retry-1", v + 1, pb::CopaymentRatio::OneTenth))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test]
async fn answers_stored_before_the_upgrade_still_replay() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    // The schema of the version before: the events tables and the eligibility tables.
    kaigo_eligibility::Migrator::up(&conn, Some(2)).await.unwrap();

    // That version answered a RecordCopaymentRatio and stored the answer in `requests`, with
    // SHA-256 of the encoded request as its hash.
    let request = copay(INSURER, "0000000300", &rid(), 3, pb::CopaymentRatio::OneTenth);
    let stored = pb::RecordCopaymentRatioResponse {
        record: Some(pb::EligibilityRecord { record_id: "77".into(), ..Default::default() }),
        person_version: 4,
    };
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO requests (request_id, operation, request_hash, response, created_at) VALUES ($1, $2, $3, $4, now())",
        [
            request.request_id.clone().into(),
            "RecordCopaymentRatio".into(),
            kaigo_platform::idempotency::request_hash(&request).into(),
            stored.encode_to_vec().into(),
        ],
    ))
    .await
    .unwrap();

    // …and audited reads in `audit_log`: a check and a refused history read.
    for (role, org, rpc, outcome) in [
        ("care_office", OFFICE, "CheckEligibility", "ELIGIBLE"),
        ("insurer", OTHER_INSURER, "GetEligibilityHistory", "DENIED"),
    ] {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO audit_log (at, caller_role, caller_org, caller_subject, rpc, purpose, insurer_number, \
             insured_number, outcome) VALUES (now(), $1, $2, 'care-software', $3, 'PURPOSE_CARE_PLANNING', $4, \
             '0000000300', $5)",
            [role.into(), org.into(), rpc.into(), INSURER.into(), outcome.into()],
        ))
        .await
        .unwrap();
    }

    kaigo_eligibility::Migrator::up(&conn, None).await.unwrap();
    let person = kaigo_platform::audit::person(INSURER, "0000000300");
    let mut reads = kaigo_platform::audit::reads_of_person(&conn, &person, 10).await.unwrap();
    reads.sort_by(|a, b| a.rpc.cmp(&b.rpc));
    let seen: Vec<_> = reads
        .iter()
        .map(|r| (r.rpc.as_str(), r.caller_party.as_str(), r.outcome.as_str(), r.category.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("CheckEligibility", OFFICE, "ELIGIBLE", "eligibility"),
            ("GetEligibilityHistory", OTHER_INSURER, "denied", "eligibility"),
        ]
    );
    let server = Server::serve(conn, None).await;
    let mut client = server.client(insurer(INSURER)).await;

    // The retry after the upgrade gets the stored answer (the person is not even there now).
    let replayed = client.record_copayment_ratio(request.clone()).await.unwrap().into_inner();
    assert_eq!(replayed, stored);
    // The old hash still tells a different body apart.
    let mut changed = request.clone();
    changed.copayment.as_mut().unwrap().ratio = pb::CopaymentRatio::ThreeTenths as i32;
    let err = client.record_copayment_ratio(changed).await.unwrap_err();
    assert_eq!(reason(&err), "REQUEST_ID_REUSED");
    // And the replay still comes only after the caller is authorised.
    let err = server.client(insurer(OTHER_INSURER)).await.record_copayment_ratio(request).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    server.stop().await;
}

#[tokio::test]
async fn record_copayment_keeps_the_platform_idempotency_contract() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let v = create_person(&mut server.client(insurer(INSURER)).await, "0000000500").await;
    let w = create_person_at(&mut server.client(insurer(OTHER_INSURER)).await, OTHER_INSURER, "0000000501").await;
    let server_ref = &server;
    idempotency_contract(IdempotentWrite {
        rpc: "RecordCopaymentRatio",
        allowed: insurer(INSURER),
        other: insurer(OTHER_INSURER),
        // A care office, on the insurer's person.
        refused: office(Role::CareOffice, OFFICE),
        write: |caller: Caller, request_id: String, variant: u8| async move {
            let (insurer_number, insured, version) = match caller.organization() {
                Some(OTHER_INSURER) => (OTHER_INSURER, "0000000501", w),
                _ => (INSURER, "0000000500", v),
            };
            let ratio = if variant == 1 { pb::CopaymentRatio::ThreeTenths } else { pb::CopaymentRatio::OneTenth };
            let request = copay(insurer_number, insured, &request_id, version, ratio);
            let mut client = server_ref.client(caller).await;
            client.record_copayment_ratio(request).await.map(|r| r.into_inner().encode_to_vec())
        },
        stale_version: Some("STALE_VERSION"),
    })
    .await;
    server.stop().await;
}
