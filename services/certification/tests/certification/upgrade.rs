//! The upgrade onto the platform's write kit keeps what the previous version stored: a database
//! migrated as that version left it, with rows written the way it wrote them, is migrated to
//! the latest; a retry of a write from before the upgrade still gets its stored answer, and the
//! reads audited before it are in the platform's trail, findable by the person.

use kaigo_certification::domain::record::{Applicant, ApplicationRecord};
use kaigo_certification::domain::types::ApplicationType;
use kaigo_certification::domain::workflow::Workflow;
use kaigo_certification::{Migrator, NAME};
use kaigo_platform::audit;
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

    // An application and three reads of it as the previous version audited them (one row per
    // application read, the organisation of the caller, `ok` or `denied`), and a read of an
    // application that is not there.
    let application_id = "0190a000-0000-7000-8000-0000000a0003";
    insert_application(&conn, application_id, "0000095002").await;
    let audited = [
        ("insurer", "acct-insurer", INSURER, "GetApplication", application_id, "ok"),
        ("care_office", "acct-office", "4371000128", "WatchApplication", application_id, "ok"),
        ("operator", "acct-operator", "", "GetApplicationProgress", application_id, "denied"),
        ("insurer", "acct-insurer", INSURER, "GetApplication", "0190a000-0000-7000-8000-0000000a0004", "ok"),
    ];
    for (role, subject, organization, rpc, id, outcome) in audited {
        exec(
            &conn,
            "INSERT INTO read_audit (read_at, rpc, caller_role, caller_subject, caller_organization, application_id, \
             outcome) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                chrono::Utc::now().into(),
                rpc.into(),
                role.into(),
                subject.into(),
                organization.into(),
                id.into(),
                outcome.into(),
            ],
        )
        .await;
    }

    let h = Harness::on_database(d(2026, 4, 10), db, TestRedisTarget::Shared(TestRedis::create().await)).await;
    for old in ["idempotency_keys", "read_audit"] {
        assert!(!table_exists(&h.conn, old).await, "{old} is dropped once copied");
    }
    assert_eq!(audit::count_all(&h.conn).await.unwrap(), 4, "every audited read was copied");
    let person = audit::person(INSURER, "0000095002");
    let reads = audit::reads_of_person(&h.conn, &person, 10).await.unwrap();
    let mut seen: Vec<(String, String, String)> =
        reads.into_iter().map(|r| (r.rpc, r.caller_party, r.outcome)).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("GetApplication".to_owned(), INSURER.to_owned(), audit::ALLOWED.to_owned()),
            ("GetApplicationProgress".to_owned(), "operator:acct-operator".to_owned(), audit::DENIED.to_owned()),
            ("WatchApplication".to_owned(), "4371000128".to_owned(), audit::ALLOWED.to_owned()),
        ]
    );
    let replica = h.replica().await;
    let mut client = replica.client.clone();
    let replayed = client
        .submit_application(signed(&replica.keys, &insurer_caller(INSURER), "SubmitApplication", request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed, stored, "the retry across the upgrade gets the answer stored before it");
    // The copied row has no caller: it answers only callers authorised for the write.
    let err = client
        .submit_application(signed(&replica.keys, &insurer_caller("122192"), "SubmitApplication", request))
        .await
        .unwrap_err();
    assert_eq!((err.code(), reason(&err)), (tonic::Code::PermissionDenied, "SUBMIT_NOT_ALLOWED".to_owned()));
    // The application from before the upgrade reads as it did; the new read joins the old ones.
    let get = pb::GetApplicationRequest { application_id: application_id.to_owned() };
    let read = client
        .get_application(signed(&replica.keys, &insurer_caller(INSURER), "GetApplication", get))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!((read.insured_number.as_str(), read.version), ("0000095002", 1));
    replica.stop().await;
    assert_eq!(audit::count_for_person(&h.conn, &person).await.unwrap(), 4);
}

/// An application row as the previous version stored it: the queried columns and the record
/// as its JSON body.
async fn insert_application(conn: &DatabaseConnection, id: &str, insured: &str) {
    let at = chrono::Utc::now();
    let record = ApplicationRecord {
        id: id.to_owned(),
        insurer_number: INSURER.to_owned(),
        insured_number: insured.to_owned(),
        kind: ApplicationType::New,
        application_date: d(2026, 4, 1),
        applicant: Applicant {
            kind: pb::ApplicantKind::Self_ as i32,
            family_member_name: String::new(),
            family_relationship: String::new(),
            office_number: String::new(),
        },
        acting_office_number: None,
        insured_category: 1,
        previous: None,
        in_force_until: None,
        transfer: None,
        consent_reference: String::new(),
        person_subject: None,
        workflow: Workflow::RECEIVED,
        survey: Default::default(),
        opinion: Default::default(),
        primary: None,
        board: None,
        decision: None,
        notified_date: None,
        closure: None,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    exec(
        conn,
        "INSERT INTO applications (id, insurer_number, insured_number, acting_office_number, status, \
         application_date, decision_date, legal_deadline, effective_deadline, version, body, created_at, updated_at) \
         VALUES ($1, $2, $3, NULL, 'received', $4, NULL, $5, $5, 1, $6, $7, $7)",
        vec![
            id.into(),
            INSURER.into(),
            insured.into(),
            d(2026, 4, 1).into(),
            d(2026, 5, 1).into(),
            serde_json::to_value(&record).unwrap().into(),
            at.into(),
        ],
    )
    .await;
    exec(
        conn,
        "INSERT INTO application_steps (application_id, sequence, kind, occur_time, record_time, actor_role, \
         actor_subject, actor_organization, summary) VALUES ($1, 1, $2, $3, $3, $4, 'acct-insurer', $5, 'received')",
        vec![
            id.into(),
            (pb::StepKind::Received as i32).into(),
            at.into(),
            (kaigo_proto::kaigo::common::v1::Role::Insurer as i32).into(),
            INSURER.into(),
        ],
    )
    .await;
}
