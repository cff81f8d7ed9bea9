//! The audit trail partitioned by month on real PostgreSQL: the migration keeps every record
//! (ids included) and every answer, an insert always finds a partition, and the retention
//! drops whole months.

use chrono::{DateTime, Duration, Utc};
use kaigo_platform::audit::migration::{AuditIndexMigration, AuditPartitionMigration, AuditTableMigration};
use kaigo_platform::audit::partitions::{self, DEFAULT_PARTITION, month_start, next_month, partition_name};
use kaigo_platform::audit::{self, Pruned, ReadRecord};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::idempotency::migration::IdempotencyTableMigration;
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_platform::testkit::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use sea_orm_migration::prelude::*;

/// The migrations before partitioning.
struct Before;

impl MigratorTrait for Before {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(IdempotencyTableMigration), Box::new(AuditTableMigration), Box::new(AuditIndexMigration)]
    }
}

/// The same with partitioning.
struct After;

impl MigratorTrait for After {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = Before::migrations();
        all.push(Box::new(AuditPartitionMigration));
        all
    }
}

fn caller(number: &str) -> Caller {
    Caller {
        subject: format!("clerk-{number}"),
        role: Role::CareOffice,
        insurer: None,
        office: Some(CareOfficeNumber::parse(number).unwrap()),
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

fn read(persons: &[String], resources: &[&str]) -> ReadRecord {
    ReadRecord {
        rpc: "BatchCheckEligibility",
        category: "eligibility",
        purpose: "CARE_PLANNING".to_owned(),
        outcome: audit::ALLOWED,
        persons: persons.to_vec(),
        resources: resources.iter().map(|r| (*r).to_owned()).collect(),
    }
}

fn person(i: usize) -> String {
    audit::person("435073", &format!("{:010}", i % 7 + 1))
}

/// What a person's view and the operators see of the trail, for `persons`.
async fn answers(conn: &DatabaseConnection) -> Vec<(u64, Vec<audit::PositionedRead>)> {
    let mut out = Vec::new();
    for i in 0..7 {
        let key = person(i);
        let count = audit::count_for_person(conn, &key).await.unwrap();
        // Paged as the person's view pages: newest first, continuing from (time, id).
        let mut reads = Vec::new();
        let mut before = None;
        loop {
            let page = audit::reads_of_person_before(conn, &key, before, 5).await.unwrap();
            let Some(last) = page.last() else { break };
            before = Some((last.read.at, last.sequence));
            reads.extend(page);
        }
        out.push((count, reads));
    }
    out
}

async fn scalar(conn: &DatabaseConnection, sql: &str) -> i64 {
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get("", "n").unwrap()
}

async fn rows_in(conn: &DatabaseConnection, table: &str) -> i64 {
    scalar(conn, &format!("SELECT COUNT(*) AS n FROM {table}")).await
}

#[tokio::test]
async fn partitioning_keeps_every_record_its_id_and_every_answer() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "kit").await.unwrap();
    Before::up(&conn, None).await.unwrap();
    // Records over 14 months, several at the same instant (the id orders those), some naming
    // resources; the same persons throughout.
    let now = Utc::now();
    let instants: Vec<DateTime<Utc>> = (0..14).map(|m| now - Duration::days(30 * m) - Duration::minutes(5)).collect();
    let mut written = 0;
    for (m, at) in instants.iter().enumerate() {
        for i in 0..6 {
            let persons = vec![person(m + i), person(m + i + 3)];
            let resources: &[&str] = if i % 3 == 0 { &["app-1"] } else { &[] };
            audit::record_now(&conn, &caller("4371000128"), *at, vec![read(&persons, resources)]).await.unwrap();
            written += 1;
        }
    }
    let before = answers(&conn).await;
    let max_id = scalar(&conn, "SELECT MAX(id) AS n FROM audit_trail").await;
    assert_eq!(audit::count_all(&conn).await.unwrap(), written);

    After::up(&conn, None).await.unwrap();

    assert!(partitions::is_partitioned(&conn).await.unwrap());
    assert_eq!(audit::count_all(&conn).await.unwrap(), written, "rows before == rows after");
    assert_eq!(answers(&conn).await, before, "the same answers, ids (sequences) included");
    // A partition for each month with records, and the current and next month; nothing in
    // the default.
    let mut months: Vec<_> = instants.iter().map(|at| month_start(*at)).collect();
    months.extend([month_start(now), next_month(month_start(now))]);
    months.sort();
    months.dedup();
    assert_eq!(partitions::months(&conn).await.unwrap(), months);
    assert_eq!(rows_in(&conn, DEFAULT_PARTITION).await, 0);
    assert_eq!(rows_in(&conn, &partition_name(month_start(instants[13]))).await, 6);
    // Every partition has the trail's indexes, the persons index with its pending list.
    let partitions_indexed = scalar(
        &conn,
        "SELECT COUNT(DISTINCT i.indrelid) AS n FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid \
         JOIN pg_inherits h ON h.inhrelid = i.indrelid WHERE h.inhparent = 'audit_trail'::regclass \
         AND x.reloptions @> ARRAY['gin_pending_list_limit=16384']",
    )
    .await;
    assert_eq!(partitions_indexed, months.len() as i64 + 1);
    let index_count = scalar(
        &conn,
        &format!("SELECT COUNT(*) AS n FROM pg_indexes WHERE tablename = '{}'", partition_name(months[0])),
    )
    .await;
    assert_eq!(index_count, 4, "key, time (BRIN), persons (GIN), named resources (GIN)");

    // New records continue the ids and land in their month, by COPY as by INSERT.
    let (control, background) = kaigo_platform::service::Background::new();
    let auditor = audit::Auditor::spawn(
        conn.clone(),
        &background,
        kaigo_platform::time::system_clock(),
        audit::AuditOptions::default(),
    );
    auditor.record(&caller("4371000201"), read(&[person(0)], &[])).await;
    control.stop(std::time::Duration::from_secs(10)).await;
    assert_eq!(
        scalar(&conn, "SELECT MIN(id) AS n FROM audit_trail WHERE caller_party = '4371000201'").await,
        max_id + 1
    );
    assert_eq!(rows_in(&conn, &partition_name(month_start(Utc::now()))).await, 7);

    // Rolled back, the same rows and ids in one table.
    After::down(&conn, Some(1)).await.unwrap();
    assert!(!partitions::is_partitioned(&conn).await.unwrap());
    assert_eq!(audit::count_all(&conn).await.unwrap(), written + 1);
    let mut expected = before;
    expected[0].0 += 1;
    let after_down = answers(&conn).await;
    assert_eq!(after_down[1..], expected[1..]);
    assert_eq!(after_down[0].0, expected[0].0);
}

#[tokio::test]
async fn a_record_without_its_month_lands_in_the_default_and_moves_when_the_month_is_made() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "kit").await.unwrap();
    After::up(&conn, None).await.unwrap();
    // Three months ahead: no partition yet (a clock far ahead, or a month the task missed).
    let later = next_month(next_month(next_month(month_start(Utc::now())))) + Duration::days(3);
    audit::record_now(&conn, &caller("4371000128"), later, vec![read(&[person(1)], &[])]).await.unwrap();
    assert_eq!(rows_in(&conn, DEFAULT_PARTITION).await, 1);
    // Made ahead when its time comes: the caught row moves into it.
    assert_eq!(partitions::ensure(&conn, later).await.unwrap(), 2);
    assert_eq!(rows_in(&conn, DEFAULT_PARTITION).await, 0);
    assert_eq!(rows_in(&conn, &partition_name(month_start(later))).await, 1);
    assert_eq!(audit::count_for_person(&conn, &person(1)).await.unwrap(), 1);
    // Nothing to do the second time.
    assert_eq!(partitions::ensure(&conn, later).await.unwrap(), 0);
}

#[tokio::test]
async fn the_retention_drops_whole_months_and_deletes_only_at_the_boundary() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "kit").await.unwrap();
    Before::up(&conn, None).await.unwrap();
    let boundary = month_start(Utc::now()) - Duration::days(20); // inside last month or the one before
    let old_month = month_start(month_start(boundary) - Duration::days(1)); // wholly before the boundary
    let instants = [
        old_month + Duration::days(2),
        month_start(boundary) + Duration::hours(1),
        boundary + Duration::hours(1),
        Utc::now(),
    ];
    for at in instants {
        audit::record_now(&conn, &caller("4371000128"), at, vec![read(&[person(2)], &[])]).await.unwrap();
    }
    After::up(&conn, None).await.unwrap();
    assert!(partitions::months(&conn).await.unwrap().contains(&old_month));

    let pruned = audit::prune(&conn, boundary).await.unwrap();
    // The old month went whole; in the boundary's month only the row before it went.
    assert_eq!(pruned, Pruned { partitions: 1, rows: 1 });
    assert!(!partitions::months(&conn).await.unwrap().contains(&old_month));
    assert_eq!(audit::count_for_person(&conn, &person(2)).await.unwrap(), 2);
    assert_eq!(audit::prune(&conn, boundary).await.unwrap(), Pruned::default());
}

/// A writer of a replica still running during the upgrade holds the trail (its COPY under way)
/// and takes ids from the trail's sequence as it goes. The migration waits for it and then
/// partitions with its record in; it never deadlocks with it (it once took the sequence before
/// the table, and PostgreSQL aborted one of the two).
#[tokio::test]
async fn partitioning_waits_for_a_write_under_way_instead_of_deadlocking_with_it() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "kit").await.unwrap();
    Before::up(&conn, None).await.unwrap();
    let writer = conn.begin().await.unwrap();
    writer.execute_unprepared("LOCK TABLE audit_trail IN ROW EXCLUSIVE MODE").await.unwrap();
    let migrating = {
        let conn = conn.clone();
        tokio::spawn(async move { After::up(&conn, None).await })
    };
    // Long enough for the migration to reach the lock it waits on.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!migrating.is_finished(), "the migration went on beside a write holding the trail");
    writer
        .execute_unprepared(
            "INSERT INTO audit_trail (at, caller_role, caller_party, caller_subject, rpc, category, purpose, outcome, \
             persons, resources) VALUES (now(), 'care_office', '4371000128', 'clerk', 'CheckEligibility', \
             'eligibility', 'CARE_PLANNING', 'allowed', ARRAY['p'], '{}')",
        )
        .await
        .unwrap();
    writer.commit().await.unwrap();
    let migrated = tokio::time::timeout(std::time::Duration::from_secs(30), migrating).await.unwrap().unwrap();
    migrated.unwrap();
    assert!(partitions::is_partitioned(&conn).await.unwrap());
    assert_eq!(audit::count_all(&conn).await.unwrap(), 1);
}
