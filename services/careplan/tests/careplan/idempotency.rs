//! The one idempotency contract (kaigo_platform::idempotency) on this service's writes: an
//! identical retry replays, a reused request_id with another body is REQUEST_ID_REUSED, another
//! caller's request_id is its own write, a caller not authorised for the resource is refused
//! even with a request_id someone authorised already used, and a retry after the version moved
//! on still replays. Also: the answers stored before the move survive the migration.

use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::testkit::{IdempotentWrite, idempotency_contract};
use kaigo_proto::kaigo::careplan::v1::{
    AcknowledgeBundleRequest, Licence, RegisterLicenceRequest, RegisterLicenceResponse, SendUnitKind,
};
use prost::Message;
use sea_orm::ConnectionTrait;
use sea_orm_migration::MigratorTrait;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::exchange::{CARE, OTHER, PROV, golden, licensed, rid, usage_files, usage_request};
use crate::harness::{TestServer, office, reason};

fn office_of(caller: &Caller) -> String {
    caller.office.as_ref().map(|o| o.as_str().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn register_licence_keeps_the_idempotency_contract() {
    let server = TestServer::start().await;
    let srv = &server;
    idempotency_contract(IdempotentWrite {
        rpc: "RegisterLicence",
        allowed: office(Role::CareOffice, CARE),
        other: office(Role::ServiceProvider, PROV),
        // Another office, on the care office's licence.
        refused: office(Role::CareOffice, OTHER),
        write: |caller: Caller, request_id: String, variant: u8| {
            let own = office_of(&caller);
            let number = if own == OTHER { CARE.to_owned() } else { own };
            let payment_reference = if variant == 1 { "INV-2" } else { "INV-1" }.to_owned();
            async move {
                let mut client = srv.client(Some(caller)).await;
                let request = RegisterLicenceRequest {
                    request_id,
                    office_number: number,
                    payment_reference,
                    expected_version: 0,
                    ..Default::default()
                };
                client.register_licence(request).await.map(|r| r.into_inner().encode_to_vec())
            }
        },
        stale_version: Some("VERSION_MISMATCH"),
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn acknowledge_bundle_keeps_the_idempotency_contract() {
    let server = TestServer::start().await;
    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let (mut prov, _) = licensed(&server, Role::ServiceProvider, PROV).await;
    // A unit to the provider, and 実績 back to the care office: one bundle for each receiver.
    let to_provider =
        care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap().into_inner().bundle.unwrap();
    let actuals = format!("UPJSK_202505_{PROV}_11_{CARE}_43_20250601090000.CSV");
    let mut back = usage_request(&rid(), vec![golden("valid", &actuals)]);
    if let Some(b) = back.bundle.as_mut() {
        (b.sender_office_number, b.sender_service_type) = (PROV.to_owned(), "11".to_owned());
        (b.receiver_office_number, b.receiver_service_type) = (CARE.to_owned(), "43".to_owned());
        b.kind = SendUnitKind::Actuals as i32;
        b.file_sequence = "20250601090000".to_owned();
    }
    let to_care = prov.send_bundle(back).await.unwrap().into_inner().bundle.unwrap();
    let srv = &server;
    idempotency_contract(IdempotentWrite {
        rpc: "AcknowledgeBundle",
        allowed: office(Role::ServiceProvider, PROV),
        other: office(Role::CareOffice, CARE),
        // Not the receiver of the provider's bundle.
        refused: office(Role::ServiceProvider, OTHER),
        write: |caller: Caller, request_id: String, variant: u8| {
            let bundle_id =
                if office_of(&caller) == CARE { to_care.bundle_id.clone() } else { to_provider.bundle_id.clone() };
            let note = if variant == 1 { "another note" } else { "" }.to_owned();
            async move {
                let mut client = srv.client(Some(caller)).await;
                let request = AcknowledgeBundleRequest { request_id, bundle_id, note };
                client.acknowledge_bundle(request).await.map(|r| r.into_inner().encode_to_vec())
            }
        },
        stale_version: None,
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_retry_after_the_version_moved_on_replays_and_a_refused_write_stores_nothing() {
    let server = TestServer::start().await;
    let mut care = server.client(Some(office(Role::CareOffice, CARE))).await;
    let first = RegisterLicenceRequest { request_id: rid(), office_number: CARE.to_owned(), ..Default::default() };
    let answer = care.register_licence(first.clone()).await.unwrap().into_inner();
    assert_eq!(answer.licence.as_ref().unwrap().version, 1);
    // Its expected_version 0 is stale now; the retry still gets the first answer.
    assert_eq!(care.register_licence(first.clone()).await.unwrap().into_inner(), answer);
    // A new write on the stale version is ABORTED and remembered nowhere: the same request_id,
    // re-sent on the version read again, goes through.
    let stale = RegisterLicenceRequest { request_id: rid(), ..first };
    let err = care.register_licence(stale.clone()).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::Aborted, "VERSION_MISMATCH"));
    let fresh = RegisterLicenceRequest { expected_version: 1, ..stale };
    let renewed = care.register_licence(fresh).await.unwrap().into_inner().licence.unwrap();
    assert_eq!((renewed.version, renewed.periods.len()), (2, 2));
    server.shutdown().await;
}

/// Migrations up to the last one of the previous version.
const PREVIOUS_MIGRATIONS: u32 = 2;

#[tokio::test]
async fn answers_and_reads_stored_before_the_move_survive_it() {
    let db = kaigo_platform::testkit::TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), kaigo_careplan::NAME).await.unwrap();
    kaigo_careplan::Migrator::up(&conn, Some(PREVIOUS_MIGRATIONS)).await.unwrap();
    // A RegisterLicence answered by the previous version: its row as that version wrote it.
    let call = RegisterLicenceRequest { request_id: rid(), office_number: CARE.to_owned(), ..Default::default() };
    let stored = RegisterLicenceResponse {
        licence: Some(Licence { office_number: CARE.to_owned(), version: 1, ..Default::default() }),
    };
    let hash = hex::encode(Sha256::digest(call.encode_to_vec()));
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO idempotency (request_id, rpc, caller_org, request_hash, response, created_at) \
         VALUES ($1, 'RegisterLicence', $2, $3, $4, now())",
        [call.request_id.clone().into(), CARE.into(), hash.into(), stored.encode_to_vec().into()],
    ))
    .await
    .unwrap();
    // Two bundle reads it audited: the receiver's, and an operator's refusal.
    let bundle = "0192f0c1-7a3b-7c00-8000-00000000b001";
    conn.execute_unprepared(&format!(
        "INSERT INTO read_audit (at, actor_role, actor_subject, actor_org, action, bundle_id, outcome) VALUES \
         (now() - interval '1 day', 'service_provider', 'prov-1', '{PROV}', 'DownloadBundle', '{bundle}', 'allowed'), \
         (now(), 'operator', 'ops-1', '', 'GetBundle', '{bundle}', 'denied')"
    ))
    .await
    .unwrap();

    let server = TestServer::start_on(conn, Some(db)).await;
    let mut care = server.client(Some(office(Role::CareOffice, CARE))).await;
    // The retry gets the stored answer and writes nothing.
    assert_eq!(care.register_licence(call.clone()).await.unwrap().into_inner(), stored);
    assert!(kaigo_careplan::store::get_office(&server.conn, CARE).await.unwrap().is_none());
    // The stored hash is the platform's: another body under that request_id is refused.
    let changed = RegisterLicenceRequest { payment_reference: "INV-9".to_owned(), ..call };
    let err = care.register_licence(changed).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (Code::AlreadyExists, "REQUEST_ID_REUSED"));
    let manager = sea_orm_migration::SchemaManager::new(&server.conn);
    assert!(!manager.has_table("idempotency").await.unwrap(), "the old table is gone");
    assert!(!manager.has_table("read_audit").await.unwrap(), "the old trail is gone");
    // Both reads are in the platform's trail, in order, the operator by account.
    let trail = server.trail(bundle, 2).await;
    let reads: Vec<_> = trail.iter().map(|r| (r.rpc.as_str(), r.party.as_str(), r.outcome.as_str())).collect();
    assert_eq!(reads, [("DownloadBundle", PROV, "allowed"), ("GetBundle", "operator:ops-1", "denied")]);
    server.shutdown().await;
}
