//! The one idempotency contract (kaigo_platform::idempotency) on this service's writes: an
//! identical retry replays, a reused request_id with another body is REQUEST_ID_REUSED, another
//! caller's request_id is its own write, a caller not authorised for the resource is refused
//! even with a request_id someone authorised already used, and a retry after the opinion chain
//! moved on still replays. Also: the answers stored before the move survive the migration.

use kaigo_documents::seed::sample_opinion;
use kaigo_platform::auth::Caller;
use kaigo_platform::testkit::{IdempotentWrite, idempotency_contract};
use kaigo_proto::kaigo::common::v1::InsuredCategory;
use kaigo_proto::kaigo::documents::v1::*;
use prost::Message;
use sea_orm::ConnectionTrait;
use sea_orm_migration::MigratorTrait;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::flow::{new_request, request, today};
use crate::harness::*;

/// An institution caller told apart from another of the same organisation by its subject.
fn named(mut caller: Caller, subject: &str) -> Caller {
    caller.subject = subject.to_owned();
    caller
}

#[tokio::test]
async fn submit_opinion_keeps_the_idempotency_contract() {
    let server = TestServer::start().await;
    let ours = request(&server, "app-idem-1").await;
    // A request addressed to the other institution, for its own write.
    let mut city = server.client(insurer(INSURER)).await;
    let mut theirs = new_request("app-idem-2", InsuredCategory::First);
    theirs.opinion_request.as_mut().unwrap().institution_code = OTHER_INSTITUTION.to_owned();
    let theirs = city.request_opinion(theirs).await.unwrap().into_inner().opinion_request.unwrap();

    let other = named(institution(OTHER_INSTITUTION), "other-writer");
    let srv = &server;
    idempotency_contract(IdempotentWrite {
        rpc: "SubmitOpinion",
        allowed: institution(INSTITUTION),
        other: other.clone(),
        // Not asked for `ours`: refused whatever request_id it brings.
        refused: institution(OTHER_INSTITUTION),
        write: |caller: Caller, request_id: String, variant: u8| {
            let target =
                if caller.subject == other.subject { &theirs.opinion_request_id } else { &ours.opinion_request_id };
            let mut opinion = sample_opinion(target, today());
            if variant == 1 {
                opinion.remarks = "another body".to_owned();
            }
            async move {
                let mut client = srv.client(caller).await;
                let request = SubmitOpinionRequest { request_id, opinion: Some(opinion) };
                client.submit_opinion(request).await.map(|r| r.into_inner().encode_to_vec())
            }
        },
        stale_version: None,
    })
    .await;
    assert_eq!(server.count("opinions").await, 2, "one by each institution");
    server.shutdown().await;
}

#[tokio::test]
async fn cancel_opinion_request_keeps_the_idempotency_contract() {
    let server = TestServer::start().await;
    let ours = request(&server, "app-idem-3").await;
    let mut other_city = server.client(insurer(OTHER_INSURER)).await;
    let theirs = other_city
        .request_opinion(new_request("app-idem-4", InsuredCategory::First))
        .await
        .unwrap()
        .into_inner()
        .opinion_request
        .unwrap();
    let srv = &server;
    idempotency_contract(IdempotentWrite {
        rpc: "CancelOpinionRequest",
        allowed: insurer(INSURER),
        other: insurer(OTHER_INSURER),
        // Another insurer than the one that asked.
        refused: insurer("131011"),
        write: |caller: Caller, request_id: String, variant: u8| {
            let own = caller.insurer.as_ref().is_some_and(|i| i.as_str() == OTHER_INSURER);
            let target = if own { theirs.opinion_request_id.clone() } else { ours.opinion_request_id.clone() };
            let reason = if variant == 1 { "another reason" } else { "withdrawn" };
            async move {
                let mut client = srv.client(caller).await;
                let request =
                    CancelOpinionRequestRequest { request_id, opinion_request_id: target, reason: reason.into() };
                client.cancel_opinion_request(request).await.map(|r| r.into_inner().encode_to_vec())
            }
        },
        stale_version: None,
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_retry_after_the_chain_moved_on_replays_and_a_refused_write_stores_nothing() {
    let server = TestServer::start().await;
    let req = request(&server, "app-idem-5").await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let first =
        SubmitOpinionRequest { request_id: rid(), opinion: Some(sample_opinion(&req.opinion_request_id, today())) };
    let v1 = doctor.submit_opinion(first.clone()).await.unwrap().into_inner();
    let v1_id = v1.opinion.as_ref().unwrap().opinion_id.clone();
    let mut correction = sample_opinion(&req.opinion_request_id, today());
    correction.previous_opinion_id = v1_id.clone();
    let v2 = doctor
        .submit_opinion(SubmitOpinionRequest { request_id: rid(), opinion: Some(correction.clone()) })
        .await
        .unwrap()
        .into_inner();
    // The first submission, retried now that it is no longer the latest version: its answer.
    assert_eq!(doctor.submit_opinion(first).await.unwrap().into_inner(), v1);

    // A correction of the stale version is refused and nothing is remembered for it: the same
    // request_id then carries the correction of the latest version.
    let stale = SubmitOpinionRequest { request_id: rid(), opinion: Some(correction) };
    let err = doctor.submit_opinion(stale.clone()).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::FailedPrecondition, "PREVIOUS_OPINION_NOT_LATEST"));
    let mut fixed = stale;
    fixed.opinion.as_mut().unwrap().previous_opinion_id = v2.opinion.unwrap().opinion_id;
    let v3 = doctor.submit_opinion(fixed).await.unwrap().into_inner().opinion.unwrap();
    assert_eq!(v3.revision, 3);
    server.shutdown().await;
}

/// Migrations up to the last one of the previous version.
const PREVIOUS_MIGRATIONS: u32 = 3;

#[tokio::test]
async fn answers_and_reads_stored_before_the_move_survive_it() {
    let db = kaigo_platform::testkit::TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), kaigo_documents::NAME).await.unwrap();
    kaigo_documents::Migrator::up(&conn, Some(PREVIOUS_MIGRATIONS)).await.unwrap();
    // A RequestOpinion answered by the previous version: its row as that version wrote it.
    let call = new_request("app-idem-6", InsuredCategory::First);
    let stored = RequestOpinionResponse {
        opinion_request: Some(OpinionRequest {
            opinion_request_id: "0192f0c1-7a3b-7c00-8000-0000000fee01".to_owned(),
            application_id: "app-idem-6".to_owned(),
            insurer_number: INSURER.to_owned(),
            ..Default::default()
        }),
    };
    let hash = hex::encode(Sha256::digest(call.encode_to_vec()));
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO idempotency (request_id, rpc, caller_org, request_hash, response, created_at) \
         VALUES ($1, 'RequestOpinion', $2, $3, $4, now())",
        [call.request_id.clone().into(), INSURER.into(), hash.into(), stored.encode_to_vec().into()],
    ))
    .await
    .unwrap();
    // Two reads it audited: a party's, and an operator's refused before the lookup.
    conn.execute_unprepared(&format!(
        "INSERT INTO audit_log (at, actor_role, actor_subject, actor_org, action, resource_kind, resource_id, \
         insurer_number, insured_number, purpose, outcome) VALUES \
         (now() - interval '1 day', 'medical_institution', 'dr-1', '{INSTITUTION}', 'GetOpinion', 'opinion', 'op-1', \
          '{INSURER}', '{INSURED}', 5, 'allowed'), \
         (now(), 'operator', 'ops-1', '', 'GetOpinion', 'opinion', 'op-1', '', '', 0, 'denied')"
    ))
    .await
    .unwrap();

    let (config, dir) = local_config(1024 * 1024);
    let server = TestServer::start_on(config, Some(dir), db, conn).await;
    let mut city = server.client(insurer(INSURER)).await;
    // The retry gets the stored answer and writes nothing.
    assert_eq!(city.request_opinion(call.clone()).await.unwrap().into_inner(), stored);
    assert_eq!(server.count("opinion_requests").await, 0);
    // The stored hash is the platform's: another body under that request_id is refused.
    let mut changed = call;
    changed.opinion_request.as_mut().unwrap().physician_name = "別の医師".into();
    let err = city.request_opinion(changed).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::AlreadyExists, "REQUEST_ID_REUSED"));
    let manager = sea_orm_migration::SchemaManager::new(server.db());
    assert!(!manager.has_table("idempotency").await.unwrap(), "the old table is gone");
    assert!(!manager.has_table("audit_log").await.unwrap(), "the old trail is gone");

    // Both reads are in the platform's trail, the person's with its purpose by name.
    assert_eq!(kaigo_platform::audit::count_all(server.db()).await.unwrap(), 2);
    let person = kaigo_platform::audit::person(INSURER, INSURED);
    let reads = kaigo_platform::audit::reads_of_person(server.db(), &person, 10).await.unwrap();
    let read = reads.iter().map(|r| (&*r.caller_party, &*r.rpc, &*r.purpose, &*r.outcome)).collect::<Vec<_>>();
    assert_eq!(read, [(INSTITUTION, "GetOpinion", "PURPOSE_OPINION_WRITING", "allowed")]);
    let row = server
        .db()
        .query_one_raw(sea_orm::Statement::from_string(
            server.db().get_database_backend(),
            "SELECT caller_party, cardinality(persons) AS persons FROM audit_trail WHERE caller_role = 'operator'",
        ))
        .await
        .unwrap()
        .unwrap();
    let party: String = row.try_get("", "caller_party").unwrap();
    let persons: i32 = row.try_get("", "persons").unwrap();
    assert_eq!((party.as_str(), persons), ("operator:ops-1", 0));
    server.shutdown().await;
}
