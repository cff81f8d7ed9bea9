//! The platform's idempotency contract on the subsidy writes, and the answers stored by the
//! previous version surviving the upgrade.

use kaigo_platform::auth::Caller;
use kaigo_platform::testkit::{IdempotentWrite, TestDatabase, idempotency_contract};
use kaigo_proto::kaigo::subsidies::v1 as pb;
use prost::Message;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;
use tonic::Code;

use crate::harness::*;

fn redraft(
    id: &str,
    number: &str,
    request_id: &str,
    connection_yen: i64,
    version: i64,
) -> pb::UpdateApplicationRequest {
    pb::UpdateApplicationRequest {
        request_id: request_id.to_owned(),
        application: Some(pb::Application {
            application_id: id.to_owned(),
            costs: Some(pb::application::Costs::CareOffice(care_costs(
                number,
                &["residential"],
                &[(1, 10_000)],
                connection_yen,
                0,
            ))),
            ..Default::default()
        }),
        expected_version: version,
    }
}

#[tokio::test]
async fn retries_replay_for_their_caller_only_and_only_once_authorised() {
    let svc = Service::start().await;
    let (mine, theirs) = (office("21", 71), office("21", 72));
    let mut owner = svc.office_client(&mine).await;
    let mut other = svc.office_client(&theirs).await;
    let create = |number: &str| create_care(care_costs(number, &["residential"], &[(1, 10_000)], 10_000, 0));
    let my_app = owner.create_application(create(&mine)).await.unwrap().into_inner().application.unwrap();
    let their_app = other.create_application(create(&theirs)).await.unwrap().into_inner().application.unwrap();

    // An identical retry gets the first answer, though the version it names is stale by then.
    let request_id = new_id();
    let first = owner
        .update_application(redraft(&my_app.application_id, &mine, &request_id, 20_000, 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.application.as_ref().unwrap().version, 2);
    let retry = owner
        .update_application(redraft(&my_app.application_id, &mine, &request_id, 20_000, 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retry, first);

    // A new write that names the stale version is refused.
    let status =
        owner.update_application(redraft(&my_app.application_id, &mine, &new_id(), 20_000, 1)).await.unwrap_err();
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(reason(&status), "VERSION_MISMATCH");

    // The same request id with another body.
    let status =
        owner.update_application(redraft(&my_app.application_id, &mine, &request_id, 30_000, 2)).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(reason(&status), "REQUEST_ID_REUSED");

    // Another office's write with the same request id is its own write, on its own application.
    let theirs_updated = other
        .update_application(redraft(&their_app.application_id, &theirs, &request_id, 20_000, 1))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(theirs_updated.application.as_ref().unwrap().application_id, their_app.application_id);
    assert_ne!(theirs_updated, first);

    // A caller who may not touch the owner's application is refused, even when it repeats a
    // request id (and a body) the owner's write was answered under.
    let submit_id = new_id();
    let submit = pb::SubmitApplicationRequest {
        request_id: submit_id,
        application_id: my_app.application_id,
        expected_version: 2,
    };
    let submitted = owner.submit_application(submit.clone()).await.unwrap().into_inner();
    assert_eq!(submitted.application.unwrap().status, pb::ApplicationStatus::Submitted as i32);
    let status = other.submit_application(submit.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "NOT_OWN_APPLICATION");
    let status = svc.insurer().await.submit_application(submit).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

/// Rows of `application_reads` as the version before `audit_trail` wrote them: an office's read
/// of its application and an operator's report.
async fn insert_old_reads(db: &sea_orm::DatabaseConnection, application_id: &str, office_number: &str) {
    for (rpc, subject, role, organization, application, purpose) in [
        ("GetApplication", "office-user", "care_office", office_number, application_id, "own_application"),
        ("GetReport", "operator-1", "operator", "", "", "subsidy_report"),
    ] {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO application_reads (read_at, rpc, subject, role, organization, application_id, purpose, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'granted')",
            [
                in_window().into(),
                rpc.into(),
                subject.into(),
                role.into(),
                organization.into(),
                application.into(),
                purpose.into(),
            ],
        ))
        .await
        .unwrap();
    }
}

/// A row of `idempotency_keys` as the version before `idempotency_records` wrote it (its hash
/// mixed in the RPC and the caller).
async fn insert_old_answer(db: &sea_orm::DatabaseConnection, request_id: &str, response: Vec<u8>) {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO idempotency_keys (request_id, request_hash, response, created_at) VALUES ($1, $2, $3, $4)",
        [request_id.into(), "9f".repeat(32).into(), response.into(), in_window().into()],
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn answers_stored_before_the_upgrade_still_replay() {
    let database = TestDatabase::create().await;
    let db = kaigo_platform::db::connect(&database.config(), kaigo_subsidies::NAME).await.unwrap();
    // The schema of the version before: the events tables and the application tables.
    kaigo_subsidies::Migrator::up(&db, Some(2)).await.unwrap();

    // That version answered a CreateApplication and stored the answer.
    let number = office("21", 81);
    let request = create_care(care_costs(&number, &["residential"], &[(1, 10_000)], 10_000, 0));
    let stored = pb::CreateApplicationResponse {
        application: Some(pb::Application {
            application_id: uuid::Uuid::now_v7().to_string(),
            programme_id: "fy2025".to_owned(),
            status: pb::ApplicationStatus::Draft as i32,
            version: 1,
            ..Default::default()
        }),
    };
    insert_old_answer(&db, &request.request_id, stored.encode_to_vec()).await;
    let stored_id = stored.application.as_ref().unwrap().application_id.clone();
    insert_old_reads(&db, &stored_id, &number).await;

    kaigo_subsidies::Migrator::up(&db, None).await.unwrap();
    let svc = Service::serve(database, db).await;
    let mut client = svc.office_client(&number).await;

    // The retry after the upgrade gets the stored answer, and nothing is created.
    let replayed = client.create_application(request.clone()).await.unwrap().into_inner();
    assert_eq!(replayed, stored);
    assert_eq!(svc.application_count().await, 0);

    // The old answer belongs to its RPC's key: a new create with another id is a new write.
    let mut fresh = request;
    fresh.request_id = new_id();
    let created = client.create_application(fresh).await.unwrap().into_inner();
    assert_ne!(created.application.unwrap().application_id, stored_id);
    assert_eq!(svc.application_count().await, 1);

    // The reads recorded before the upgrade are in the platform's trail.
    let reads = kaigo_platform::audit::reads_of_resource(&svc.db, &stored_id).await.unwrap();
    let seen: Vec<_> = reads
        .iter()
        .map(|r| (r.rpc.as_str(), r.caller_role.as_str(), r.caller_party.as_str(), r.outcome.as_str(), r.at))
        .collect();
    assert_eq!(seen, [("GetApplication", "care_office", number.as_str(), "allowed", in_window())]);
    assert_eq!(kaigo_platform::audit::count_all(&svc.db).await.unwrap(), 2, "the report's read too");
}

#[tokio::test]
async fn submit_keeps_the_platform_idempotency_contract() {
    let svc = Service::start().await;
    let (mine, theirs, stranger) = (office("21", 91), office("21", 92), office("21", 93));
    let mut ids = std::collections::HashMap::new();
    for number in [&mine, &theirs] {
        let created = svc
            .office_client(number)
            .await
            .create_application(create_care(care_costs(number, &["residential"], &[(1, 10_000)], 10_000, 0)))
            .await
            .unwrap()
            .into_inner();
        ids.insert(number.clone(), created.application.unwrap().application_id);
    }
    let (svc, ids, mine_ref) = (&svc, &ids, &mine);
    idempotency_contract(IdempotentWrite {
        rpc: "SubmitApplication",
        allowed: office_caller(&mine),
        other: office_caller(&theirs),
        // A third office, on the first office's application.
        refused: office_caller(&stranger),
        write: |caller: Caller, request_id: String, variant: u8| async move {
            let own = caller.organization().unwrap_or_default().to_owned();
            let application_id = ids.get(&own).unwrap_or(&ids[mine_ref]).clone();
            // Variant 1 names another version: the same request id with another body.
            let request = pb::SubmitApplicationRequest {
                request_id,
                application_id,
                expected_version: if variant == 1 { 9 } else { 1 },
            };
            svc.client(caller).await.submit_application(request).await.map(|r| r.into_inner().encode_to_vec())
        },
        stale_version: Some("VERSION_MISMATCH"),
    })
    .await;
}
