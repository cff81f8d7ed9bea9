//! The upgrade onto the platform's write kit keeps what the previous version stored: a database
//! migrated as that version left it, with rows written the way it wrote them, is migrated to
//! the latest, and a retry of a write from before the upgrade still gets its stored answer.

use kaigo_certification::{Migrator, NAME};
use kaigo_platform::testkit::{TestDatabase, TestRedis};
use kaigo_proto::kaigo::certification::v1 as pb;
use prost::Message;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};
use sea_orm_migration::MigratorTrait;
use sha2::{Digest, Sha256};

use crate::support::{Harness, INSURER, TestRedisTarget, d, insurer_caller, new_application, reason, signed};

/// The migrations the previous version shipped (the platform's event tables and the
/// certification tables, with `idempotency_keys` and `read_audit`).
const RELEASED: u32 = 2;

async fn exec(conn: &DatabaseConnection, sql: &str, values: Vec<Value>) {
    conn.execute_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await.unwrap();
}

async fn table_exists(conn: &DatabaseConnection, table: &str) -> bool {
    let sql = format!("SELECT to_regclass('{table}') IS NOT NULL AS present");
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get("", "present").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_stored_before_the_upgrade_still_replays_after_it() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), NAME).await.unwrap();
    Migrator::up(&conn, Some(RELEASED)).await.unwrap();

    // A submission answered by the previous version: its response under the request id, with
    // that version's hash (SHA-256 of the RPC name, a zero byte and the request).
    let request_id = "0190a000-0000-7000-8000-0000000a0001".to_owned();
    let request = pb::SubmitApplicationRequest {
        request_id: request_id.clone(),
        application: Some(new_application("0000095001", d(2026, 4, 1), "")),
    };
    let mut old_hash = Sha256::new();
    old_hash.update(b"SubmitApplication");
    old_hash.update([0]);
    old_hash.update(request.encode_to_vec());
    let stored = pb::SubmitApplicationResponse {
        application: Some(pb::Application {
            application_id: "0190a000-0000-7000-8000-0000000a0002".to_owned(),
            version: 1,
            ..new_application("0000095001", d(2026, 4, 1), "")
        }),
    };
    exec(
        &conn,
        "INSERT INTO idempotency_keys (request_id, rpc, request_hash, response, created_at) VALUES ($1, $2, $3, $4, $5)",
        vec![
            request_id.clone().into(),
            "SubmitApplication".into(),
            hex::encode(old_hash.finalize()).into(),
            stored.encode_to_vec().into(),
            chrono::Utc::now().into(),
        ],
    )
    .await;

    let h = Harness::on_database(d(2026, 4, 10), db, TestRedisTarget::Shared(TestRedis::create().await)).await;
    assert!(!table_exists(&h.conn, "idempotency_keys").await, "the old table is dropped once copied");
    let replica = h.replica().await;
    let mut client = replica.client.clone();
    let replayed = client
        .submit_application(signed(&h.keys, &insurer_caller(INSURER), "SubmitApplication", request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed, stored, "the retry across the upgrade gets the answer stored before it");
    // The copied row has no caller: it answers only callers authorised for the write.
    let err = client
        .submit_application(signed(&h.keys, &insurer_caller("122192"), "SubmitApplication", request))
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err)), (tonic::Code::PermissionDenied, "SUBMIT_NOT_ALLOWED".to_owned()));
    replica.stop().await;
}
