//! The platform write kit on real PostgreSQL (and SQLite, as `kaigo dev` runs it): idempotency
//! records, the read audit trail and their data-preserving migrations.

use std::time::Duration;

use chrono::Utc;

use kaigo_platform::audit::migration::{AuditIndexMigration, AuditPartitionMigration, AuditTableMigration};
use kaigo_platform::audit::{self, AuditOptions, Auditor, ReadRecord};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::idempotency::migration::{IdempotencyTableMigration, LegacyTable, copy_legacy};
use kaigo_platform::idempotency::{self, IdempotencyKey};
use kaigo_platform::ids::{CareOfficeNumber, InsurerNumber};
use kaigo_platform::service::Background;
use kaigo_platform::testkit::TestDatabase;
use kaigo_platform::time::{Clock, SetClock, SystemClock};
use kaigo_proto::google::r#type::Date;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use sea_orm_migration::prelude::*;
use tonic::Code;

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(IdempotencyTableMigration),
            Box::new(AuditTableMigration),
            Box::new(AuditIndexMigration),
            Box::new(AuditPartitionMigration),
        ]
    }
}

fn office(number: &str) -> Caller {
    Caller {
        subject: "clerk-1".to_owned(),
        role: Role::CareOffice,
        insurer: None,
        office: Some(CareOfficeNumber::parse(number).unwrap()),
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

fn insurer() -> Caller {
    Caller {
        subject: "municipal-1".to_owned(),
        role: Role::Insurer,
        insurer: Some(InsurerNumber::parse("435073").unwrap()),
        office: None,
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

async fn postgres(db: &TestDatabase) -> DatabaseConnection {
    let conn = kaigo_platform::db::connect(&db.config(), "kit").await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    conn
}

async fn sqlite(dir: &std::path::Path) -> DatabaseConnection {
    let config = kaigo_platform::config::DatabaseConfig {
        url: kaigo_platform::config::Secret::new(format!("sqlite://{}", dir.display())),
        ..kaigo_platform::config::DatabaseConfig::default()
    };
    let conn = kaigo_platform::db::connect(&config, "kit").await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    conn
}

const REQUEST_ID: &str = "0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b00";

fn date(day: i32) -> Date {
    Date { year: 2026, month: 12, day }
}

#[tokio::test]
async fn a_retry_replays_and_a_reuse_is_refused_per_caller() {
    let db = TestDatabase::create().await;
    let conn = postgres(&db).await;
    let a = office("4371000128");
    let key = IdempotencyKey::new("SendBundle", &a, REQUEST_ID, &date(4));
    assert_eq!(key.replay(&conn).await.unwrap(), None);

    let txn = conn.begin().await.unwrap();
    key.remember_message(&txn, Utc::now(), &date(31)).await.unwrap();
    txn.commit().await.unwrap();
    let replayed: Date = key.replay_as(&conn).await.unwrap().unwrap();
    assert_eq!(replayed, date(31));

    // Same caller, same id, another request: refused with the reason.
    let other_body = IdempotencyKey::new("SendBundle", &a, REQUEST_ID, &date(5));
    let err = other_body.replay(&conn).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(err.reason(), "REQUEST_ID_REUSED");

    // Another caller's request id never finds this caller's answer, and may be used.
    let b = office("4371000201");
    let theirs = IdempotencyKey::new("SendBundle", &b, REQUEST_ID, &date(4));
    assert_eq!(theirs.replay(&conn).await.unwrap(), None);
    theirs.remember_message(&conn, Utc::now(), &date(1)).await.unwrap();
    assert_eq!(theirs.replay_as::<Date>(&conn).await.unwrap(), Some(date(1)));
    assert_eq!(key.replay_as::<Date>(&conn).await.unwrap(), Some(date(31)));

    // Another RPC with the same id is another key.
    let rpc = IdempotencyKey::new("AcknowledgeBundle", &a, REQUEST_ID, &date(4));
    assert_eq!(rpc.replay(&conn).await.unwrap(), None);
}

#[tokio::test]
async fn a_concurrent_retry_gets_the_first_answer() {
    let db = TestDatabase::create().await;
    let conn = postgres(&db).await;
    let key = IdempotencyKey::new("SubmitApplication", &insurer(), REQUEST_ID, &date(4));
    // The first retry commits while the second is inside its own transaction.
    let second = conn.begin().await.unwrap();
    assert_eq!(key.replay(&second).await.unwrap(), None);
    key.remember_message(&conn, Utc::now(), &date(10)).await.unwrap();
    let err = key.remember_message(&second, Utc::now(), &date(11)).await.unwrap_err();
    drop(second);
    let answer: Date = key.after_conflict_as(&conn, err).await.unwrap();
    assert_eq!(answer, date(10));
}

#[tokio::test]
async fn old_rows_are_pruned_after_the_retention() {
    let db = TestDatabase::create().await;
    let conn = postgres(&db).await;
    let key = IdempotencyKey::new("SubmitApplication", &insurer(), REQUEST_ID, &date(4));
    key.remember_message(&conn, Utc::now(), &date(10)).await.unwrap();
    let removed = idempotency::prune(&conn, chrono::Utc::now() - chrono::Duration::hours(1)).await.unwrap();
    assert_eq!(removed, 0);
    let removed = idempotency::prune(&conn, chrono::Utc::now() + chrono::Duration::seconds(1)).await.unwrap();
    assert_eq!(removed, 1);
    assert_eq!(key.replay(&conn).await.unwrap(), None);
}

/// The shape certification's table had before `idempotency_records`: no caller, another hash.
struct LegacyMigrator;

struct CreateLegacy;

impl MigrationName for CreateLegacy {
    fn name(&self) -> &str {
        "m20261129_legacy"
    }
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for CreateLegacy {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE idempotency_keys (request_id varchar(64) PRIMARY KEY, rpc varchar(64) NOT NULL, \
                 request_hash varchar(64) NOT NULL, response bytea NOT NULL, created_at timestamptz NOT NULL); \
                 CREATE TABLE read_audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL, role varchar NOT NULL, \
                 org varchar NOT NULL, subject varchar NOT NULL, rpc varchar NOT NULL, application_id varchar NOT NULL, \
                 outcome varchar NOT NULL)",
            )
            .await
            .map(|_| ())
    }
}

struct CopyLegacy;

impl MigrationName for CopyLegacy {
    fn name(&self) -> &str {
        "m20261204_copy_legacy"
    }
}

#[async_trait::async_trait]
#[allow(elided_lifetimes_in_paths)] // the signature as sea-orm-migration declares it
impl MigrationTrait for CopyLegacy {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        copy_legacy(
            manager,
            LegacyTable {
                table: "idempotency_keys",
                party_column: None,
                rpc_column: Some("rpc"),
                rpc_default: "",
                response_column: "response",
                created_column: "created_at",
                compatible_hash_column: None,
            },
        )
        .await?;
        audit::migration::copy_legacy(
            manager,
            "read_audit",
            "SELECT at, role AS caller_role, org AS caller_party, subject AS caller_subject, rpc, \
             'application' AS category, '' AS purpose, outcome, '' AS person, application_id AS resource FROM read_audit",
        )
        .await
    }
}

impl MigratorTrait for LegacyMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(CreateLegacy),
            Box::new(IdempotencyTableMigration),
            Box::new(AuditTableMigration),
            Box::new(AuditIndexMigration),
            Box::new(CopyLegacy),
        ]
    }
}

#[tokio::test]
async fn the_previous_tables_are_copied_without_loss() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "kit").await.unwrap();
    // The previous version's migrations, then rows written by it.
    LegacyMigrator::up(&conn, Some(1)).await.unwrap();
    conn.execute_unprepared(
        "INSERT INTO idempotency_keys VALUES ('0191d3c8-5f4e-7c2a-9b1d-2f6a8e4c1b00', 'SubmitApplication', \
         'old-scheme-hash', '\\x08ea0f', now()); \
         INSERT INTO read_audit (at, role, org, subject, rpc, application_id, outcome) VALUES \
         (now() - interval '1 day', 'care_office', '4371000128', 'clerk-1', 'GetApplication', 'app-1', 'ok'), \
         (now(), 'insurer', '435073', 'municipal-1', 'GetApplication', 'app-2', 'denied')",
    )
    .await
    .unwrap();
    LegacyMigrator::up(&conn, None).await.unwrap();
    let manager = SchemaManager::new(&conn);
    assert!(!manager.has_table("idempotency_keys").await.unwrap());
    assert!(!manager.has_table("read_audit").await.unwrap());

    // The migrated answer replays for the RPC and id (its old hash cannot be compared).
    let key = IdempotencyKey::new("SubmitApplication", &insurer(), REQUEST_ID, &date(4));
    assert_eq!(key.replay(&conn).await.unwrap(), Some(vec![0x08, 0xea, 0x0f]));
    // Both audit rows arrived, in time order, with their resource.
    assert_eq!(audit::count_all(&conn).await.unwrap(), 2);
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT caller_party, outcome, resources[1] AS resource FROM audit_trail ORDER BY id",
        ))
        .await
        .unwrap();
    let first: (String, String, String) = (
        rows[0].try_get("", "caller_party").unwrap(),
        rows[0].try_get("", "outcome").unwrap(),
        rows[0].try_get("", "resource").unwrap(),
    );
    assert_eq!(first, ("4371000128".to_owned(), "ok".to_owned(), "app-1".to_owned()));
}

fn read(persons: &[&str]) -> ReadRecord {
    ReadRecord {
        rpc: "BatchCheckEligibility",
        category: "eligibility",
        purpose: "CARE_PLANNING".to_owned(),
        outcome: audit::ALLOWED,
        persons: persons.iter().map(|p| (*p).to_owned()).collect(),
        resources: vec![],
    }
}

async fn every_record_lands(conn: DatabaseConnection) {
    let (control, background) = Background::new();
    let auditor =
        Auditor::spawn(conn.clone(), &background, kaigo_platform::time::system_clock(), AuditOptions::default());
    let person = audit::person("435073", "0000000001");
    let caller = office("4371000128");
    for i in 0..250 {
        let other = audit::person("435073", &format!("{:010}", i + 2));
        auditor.record(&caller, read(&[person.as_str(), other.as_str()])).await;
    }
    // Shutdown drains what is still buffered.
    control.stop(Duration::from_secs(10)).await;
    assert_eq!(audit::count_all(&conn).await.unwrap(), 250);
    assert_eq!(audit::count_for_person(&conn, &person).await.unwrap(), 250);
    assert_eq!(audit::count_for_person(&conn, &audit::person("435073", "0000000100")).await.unwrap(), 1);
    let reads = audit::reads_of_person(&conn, &person, 3).await.unwrap();
    assert_eq!(reads.len(), 3);
    assert_eq!(reads[0].caller_party, "4371000128");
    assert_eq!(reads[0].rpc, "BatchCheckEligibility");
    assert!(reads[0].at >= reads[2].at);
}

#[tokio::test]
async fn every_audited_read_lands_on_postgres() {
    let db = TestDatabase::create().await;
    every_record_lands(postgres(&db).await).await;
}

#[tokio::test]
async fn every_audited_read_lands_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("kaigo-kit-{}", uuid::Uuid::new_v4().simple()));
    every_record_lands(sqlite(&dir).await).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_full_buffer_slows_readers_and_loses_nothing() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "kit").await.unwrap();
    // No table yet: every write fails, as when the database refuses.
    let (control, background) = Background::new();
    let options = AuditOptions { buffer: 4, batch: 2 };
    let auditor = Auditor::spawn(conn.clone(), &background, kaigo_platform::time::system_clock(), options);
    let caller = office("4371000128");
    let person = audit::person("435073", "0000000001");
    let writer = {
        let auditor = auditor.clone();
        let caller = caller.clone();
        let person = person.clone();
        tokio::spawn(async move {
            for _ in 0..20 {
                auditor.record(&caller, read(&[person.as_str()])).await;
            }
        })
    };
    // The writer holds a batch of 2 and the buffer 4: the 20 calls cannot all have returned.
    let stalled = kaigo_platform::testkit::eventually(Duration::from_secs(10), || {
        let auditor = auditor.clone();
        async move { (auditor.pending() == 4).then_some(()) }
    })
    .await;
    assert!(stalled.is_some(), "the buffer never filled");
    assert!(!writer.is_finished(), "readers went on while the trail could not be written");
    // The database recovers: every call completes and every record lands.
    Migrator::up(&conn, None).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), writer).await.unwrap().unwrap();
    control.stop(Duration::from_secs(10)).await;
    assert_eq!(audit::count_for_person(&conn, &person).await.unwrap(), 20);
}

/// The buffer is bounded by the reads it holds, not the records: a batch record of many
/// persons takes their room, so memory stays bounded whatever the records' sizes, and a record
/// larger than the whole buffer still fits once the buffer is empty.
#[tokio::test]
async fn a_batch_record_takes_the_room_of_its_persons() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "kit").await.unwrap();
    // No table yet: every write fails, so no room comes back.
    let (control, background) = Background::new();
    let options = AuditOptions { buffer: 100, batch: 10 };
    let auditor = Auditor::spawn(conn.clone(), &background, kaigo_platform::time::system_clock(), options);
    let caller = office("4371000128");
    let persons: Vec<String> = (1..=500).map(|n| audit::person("435073", &format!("{n:010}"))).collect();
    let names: Vec<&str> = persons.iter().map(String::as_str).collect();
    auditor.record(&caller, read(&names[..60])).await;
    assert_eq!(auditor.pending(), 60);
    // Another 60 do not fit beside them, nor does a record of 500 (it needs the whole buffer).
    let waiting = {
        let auditor = auditor.clone();
        let caller = caller.clone();
        let persons = persons.clone();
        tokio::spawn(async move {
            let names: Vec<&str> = persons.iter().map(String::as_str).collect();
            auditor.record(&caller, read(&names[60..120])).await;
            auditor.record(&caller, read(&names)).await;
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a record entered a buffer without room for its persons");
    // The waiting record holds the rest of the room until the writer frees enough.
    assert_eq!(auditor.pending(), 100);
    // The database recovers: each record lands as one row, the room comes back.
    Migrator::up(&conn, None).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), waiting).await.unwrap().unwrap();
    control.stop(Duration::from_secs(10)).await;
    assert_eq!(audit::count_all(&conn).await.unwrap(), 3);
    assert_eq!(audit::count_for_person(&conn, &persons[0]).await.unwrap(), 2);
    assert_eq!(audit::count_for_person(&conn, &persons[499]).await.unwrap(), 1);
}

#[tokio::test]
async fn records_past_their_retention_are_trimmed() {
    let db = TestDatabase::create().await;
    let conn = postgres(&db).await;
    let caller = office("4371000128");
    let person = audit::person("435073", "0000000001");
    let long_ago = chrono::Utc::now() - chrono::Duration::days(400);
    audit::record_now(&conn, &caller, long_ago, vec![read(&[person.as_str()])]).await.unwrap();
    audit::record_now(&conn, &caller, chrono::Utc::now(), vec![read(&[person.as_str()])]).await.unwrap();
    let key = IdempotencyKey::new("SendBundle", &caller, REQUEST_ID, &date(4));
    key.remember_message(&conn, Utc::now(), &date(4)).await.unwrap();

    // Audit kept forever by default; idempotency records younger than the retention stay.
    let keep = kaigo_platform::retention::RetentionConfig::default();
    kaigo_platform::retention::trim(&conn, &keep, "kit", &SystemClock).await;
    assert_eq!(audit::count_all(&conn).await.unwrap(), 2);
    assert!(key.replay(&conn).await.unwrap().is_some());

    let year = kaigo_platform::retention::RetentionConfig { audit_days: 365, ..keep };
    kaigo_platform::retention::trim(&conn, &year, "kit", &SystemClock).await;
    assert_eq!(audit::count_for_person(&conn, &person).await.unwrap(), 1);
    assert!(key.replay(&conn).await.unwrap().is_some());
}

/// A record is stamped by the service's clock and trimmed by the same clock: a service whose
/// clock stands years before the system's keeps its records for the retention of its own time,
/// and loses them once its own time has passed it (with either side on the system clock, the
/// record would be kept here or trimmed at once).
#[tokio::test]
async fn idempotency_records_are_stamped_and_trimmed_by_the_service_clock() {
    let db = TestDatabase::create().await;
    let conn = postgres(&db).await;
    let caller = office("4371000128");
    let at = chrono::DateTime::parse_from_rfc3339("2020-01-06T09:00:00+09:00").unwrap().to_utc();
    let clock = SetClock::new(at);
    let key = IdempotencyKey::new("SendBundle", &caller, REQUEST_ID, &date(4));
    key.remember_message(&conn, clock.now(), &date(4)).await.unwrap();
    let keep = kaigo_platform::retention::RetentionConfig::default();

    clock.set(at + chrono::Duration::days(6));
    kaigo_platform::retention::trim(&conn, &keep, "kit", &clock).await;
    assert!(key.replay(&conn).await.unwrap().is_some(), "six days on the service's clock: kept");

    clock.set(at + chrono::Duration::days(8));
    kaigo_platform::retention::trim(&conn, &keep, "kit", &clock).await;
    assert!(key.replay(&conn).await.unwrap().is_none(), "eight days on the service's clock: past the 7 days");
}
