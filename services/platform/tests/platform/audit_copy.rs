//! The audit writer's binary `COPY` on real PostgreSQL: what lands reads back exactly as it was
//! recorded — texts PostgreSQL's text format would have had to escape, non-ASCII, empty and
//! thousand-element lists, timestamps to the microsecond, and the partition by month.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kaigo_platform::audit::migration::{AuditIndexMigration, AuditPartitionMigration, AuditTableMigration};
use kaigo_platform::audit::{self, AuditOptions, Auditor, ReadRecord};
use kaigo_platform::auth::Role;
use kaigo_platform::service::Background;
use kaigo_platform::testkit::TestDatabase;
use kaigo_platform::time::{Clock, SetClock};
use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::prelude::*;

struct Trail;

impl MigratorTrait for Trail {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(AuditTableMigration), Box::new(AuditIndexMigration), Box::new(AuditPartitionMigration)]
    }
}

/// A row as the table holds it.
type Stored = (DateTime<Utc>, String, String, String, String, String, String, String, Vec<String>, Vec<String>);

#[tokio::test]
async fn what_the_writer_copies_reads_back_exactly() {
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "kit").await.unwrap();
    Trail::up(&conn, None).await.unwrap();
    // Now, to the microsecond PostgreSQL keeps (the writer makes this month's partition).
    let at = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
    let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(SetClock::new(at));
    let (control, background) = Background::new();
    let auditor = Auditor::spawn(conn.clone(), &background, clock, AuditOptions { buffer: 5_000, batch: 3 });
    let mut caller = kaigo_platform::testkit::caller_for(Role::Insurer, "435073");
    caller.subject = "clerk\twith\ttabs\\and\nnewline \"quoted\" 職員".to_owned();
    let many: Vec<String> = (1..=1_000).map(|i| audit::person("435073", &format!("{i:010}"))).collect();
    let records = [
        (vec![audit::person("435073", "0000000001")], vec![]),
        (many.clone(), vec![]),
        (vec![], vec!["app-1".to_owned(), "a,b{c}\"d\\e".to_owned(), String::new()]),
        (vec!["{\"x\"}".to_owned(), "NULL".to_owned()], vec!["設定".to_owned()]),
    ];
    for (persons, resources) in &records {
        let read = ReadRecord {
            rpc: "BatchCheckEligibility",
            category: "eligibility",
            purpose: "CARE\tPLANNING\r\n".to_owned(),
            outcome: audit::ALLOWED,
            persons: persons.clone(),
            resources: resources.clone(),
        };
        auditor.record(&caller, read).await;
    }
    control.stop(Duration::from_secs(10)).await;

    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT at, caller_role, caller_party, caller_subject, rpc, category, purpose, outcome, persons, resources \
             FROM audit_trail ORDER BY id",
        ))
        .await
        .unwrap();
    let stored: Vec<Stored> = rows
        .iter()
        .map(|r| {
            (
                r.try_get("", "at").unwrap(),
                r.try_get("", "caller_role").unwrap(),
                r.try_get("", "caller_party").unwrap(),
                r.try_get("", "caller_subject").unwrap(),
                r.try_get("", "rpc").unwrap(),
                r.try_get("", "category").unwrap(),
                r.try_get("", "purpose").unwrap(),
                r.try_get("", "outcome").unwrap(),
                r.try_get("", "persons").unwrap(),
                r.try_get("", "resources").unwrap(),
            )
        })
        .collect();
    let expected: Vec<Stored> = records
        .iter()
        .map(|(persons, resources)| {
            (
                at,
                "insurer".to_owned(),
                "435073".to_owned(),
                caller.subject.clone(),
                "BatchCheckEligibility".to_owned(),
                "eligibility".to_owned(),
                "CARE\tPLANNING\r\n".to_owned(),
                "allowed".to_owned(),
                persons.clone(),
                resources.clone(),
            )
        })
        .collect();
    assert_eq!(stored, expected);
    // The lists are searchable as before, and the rows sit in their month's partition.
    assert_eq!(audit::count_for_person(&conn, &many[999]).await.unwrap(), 1);
    assert_eq!(audit::count_for_person(&conn, "{\"x\"}").await.unwrap(), 1);
    let in_month = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS n FROM {}",
                audit::partitions::partition_name(audit::partitions::month_start(at))
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(in_month.try_get::<i64>("", "n").unwrap(), records.len() as i64);
}
