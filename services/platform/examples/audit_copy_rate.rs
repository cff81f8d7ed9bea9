//! Rows per second the audit writer lands (`COPY` batches of 1,000 through [`Auditor`]) into
//! the trail as one table and as monthly partitions, alternating, on the PostgreSQL of
//! `KAIGO_TEST_DATABASE_URL` (a fresh database each run, dropped after); then bytes per record
//! of the trail with its indexes. A measurement, not a test: it prints, asserts nothing about
//! speed (loadtest/README.md#growth-and-retention).
//!
//! `cargo run --release -p kaigo-platform --features testkit --example audit_copy_rate -- [records] [rounds]`

use std::time::{Duration, Instant};

use kaigo_platform::audit::migration::{AuditIndexMigration, AuditPartitionMigration, AuditTableMigration};
use kaigo_platform::audit::{self, AuditOptions, Auditor, ReadRecord};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_platform::service::Background;
use kaigo_platform::testkit::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::prelude::*;

struct Single;

impl MigratorTrait for Single {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(AuditTableMigration), Box::new(AuditIndexMigration)]
    }
}

struct Partitioned;

impl MigratorTrait for Partitioned {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(AuditTableMigration), Box::new(AuditIndexMigration), Box::new(AuditPartitionMigration)]
    }
}

fn caller() -> Caller {
    Caller {
        subject: "clerk-00017".to_owned(),
        role: Role::CareOffice,
        insurer: None,
        office: Some(CareOfficeNumber::parse("4371000128").unwrap_or_else(|_| unreachable!())),
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

/// A CheckEligibility record: one person, no resource.
fn check(i: u64) -> ReadRecord {
    ReadRecord {
        rpc: "CheckEligibility",
        category: "eligibility",
        purpose: "CARE_PLANNING".to_owned(),
        outcome: audit::ALLOWED,
        persons: vec![audit::person("435073", &format!("{:010}", i % 5_000_000))],
        resources: vec![],
    }
}

async fn scalar(conn: &DatabaseConnection, sql: &str) -> i64 {
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await;
    row.ok().flatten().and_then(|r| r.try_get::<i64>("", "n").ok()).unwrap_or(-1)
}

/// Writes `records` through a fresh auditor; returns rows/s and bytes per row.
async fn run(partitioned: bool, records: u64) -> (f64, f64) {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "rate").await.unwrap_or_else(|e| panic!("connect: {e}"));
    let migrated = if partitioned { Partitioned::up(&conn, None).await } else { Single::up(&conn, None).await };
    migrated.unwrap_or_else(|e| panic!("migrate: {e}"));
    let (control, background) = Background::new();
    let auditor =
        Auditor::spawn(conn.clone(), &background, kaigo_platform::time::system_clock(), AuditOptions::default());
    let caller = caller();
    let started = Instant::now();
    for i in 0..records {
        auditor.record(&caller, check(i)).await;
    }
    // Shutdown drains the buffer: the clock stops when the last row is written.
    control.stop(Duration::from_secs(120)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let rows = audit::count_all(&conn).await.unwrap_or(0);
    assert_eq!(rows, records, "every record lands");
    // The pending GIN entries merged, then the size with every index (partitions included).
    let _ = conn.execute_unprepared("VACUUM ANALYZE audit_trail").await;
    let bytes = scalar(
        &conn,
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint AS n FROM pg_class c \
         WHERE c.oid = 'audit_trail'::regclass OR c.oid IN \
         (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'audit_trail'::regclass)",
    )
    .await;
    drop(conn);
    drop(db);
    (records as f64 / elapsed, bytes as f64 / records as f64)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let records: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    println!("records per run: {records}");
    for round in 1..=rounds {
        for partitioned in [false, true] {
            let (rate, bytes) = run(partitioned, records).await;
            let layout = if partitioned { "partitioned" } else { "one table" };
            println!("round {round} {layout:<11}  {rate:>9.0} rows/s  {bytes:>6.1} bytes/row (heap + indexes)");
        }
    }
}
