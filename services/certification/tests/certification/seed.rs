//! `kaigo dev`: the demo application on SQLite with in-process events, idempotently; and a
//! decision committed but never published is published by the next replica's relay.

use std::time::Duration;

use kaigo_certification::{Config, DEMO_INSURED_NUMBER, DEMO_INSURER_NUMBER, Migrator, NAME, seed_demo};
use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_platform::testkit::{self, eventually};
use kaigo_proto::kaigo::common::v1 as common;
use redis::AsyncCommands;
use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::MigratorTrait;

use crate::driver::Driver;
use crate::support::{Harness, d, new_application};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_application_is_seeded_once_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("kaigo-cert-seed-{}", uuid::Uuid::new_v4().simple()));
    let config = DatabaseConfig {
        url: Secret::new(format!("sqlite://{}", dir.display())),
        max_connections: 4,
        ..DatabaseConfig::default()
    };
    let db = kaigo_platform::db::connect(&config, NAME).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let (ctx, control) = testkit::context(NAME, db.clone());
    seed_demo(&ctx, &Config::default()).await.unwrap();
    seed_demo(&ctx, &Config::default()).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n, MAX(version) AS v, MIN(insurer_number) AS i, MIN(insured_number) AS p FROM applications"))
        .await
        .unwrap()
        .unwrap();
    let (n, v): (i64, i64) = (row.try_get("", "n").unwrap(), row.try_get("", "v").unwrap());
    assert_eq!((n, v), (1, 3), "one application: received, survey scheduled, opinion requested");
    assert_eq!(row.try_get::<String>("", "i").unwrap(), DEMO_INSURER_NUMBER);
    assert_eq!(row.try_get::<String>("", "p").unwrap(), DEMO_INSURED_NUMBER);
    control.stop(Duration::from_secs(2)).await;
    drop(db);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_committed_but_not_published_is_published_after_a_restart() {
    let h = Harness::new(d(2026, 4, 25)).await;
    let first = h.replica().await;
    let mut app = Driver::submit(&first, new_application("0000080001", d(2026, 4, 1), "")).await.unwrap();
    app.up_to_board(d(2026, 4, 1), 900).await;
    app.decide(common::CareLevel::Care4, d(2026, 4, 24), None).await.unwrap();
    first.stop().await;
    // As if the process died after the commit and before the relay published: the row is
    // unpublished and the stream never saw it.
    h.conn.execute_unprepared("UPDATE outbox SET published_at = NULL").await.unwrap();
    let stream = h.redis_handle.key("events:certification.decided");
    let mut conn = h.redis_handle.conn();
    let _: i64 = conn.del(&stream).await.unwrap();
    let restarted = h.replica().await;
    let published = eventually(Duration::from_secs(5), || {
        let mut conn = conn.clone();
        let stream = stream.clone();
        async move { conn.xlen::<_, usize>(&stream).await.ok().filter(|n| *n == 1) }
    })
    .await;
    assert_eq!(published, Some(1), "the restarted replica's relay publishes the committed decision");
    restarted.stop().await;
}
