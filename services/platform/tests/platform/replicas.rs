//! Reads from a real streaming replica (docs/architecture.md#read-replicas): a private primary
//! and a `pg_basebackup -R` replica of it on loopback ports of their own.

use std::time::Duration;

use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_platform::db::{ReadConn, ReadPool};
use kaigo_platform::service::Background;
use kaigo_platform::testkit::{TestPostgres, eventually};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

/// The schema the reads run in.
const SERVICE: &str = "replica_reads";

/// Long enough for a loaded 2-core machine; a healthy run takes well under a second.
const PATIENCE: Duration = Duration::from_secs(60);

async fn one_text(conn: &impl ConnectionTrait, sql: &str) -> String {
    let row = conn.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
    row.try_get_by_index::<String>(0).unwrap()
}

/// `true` when the statement ran on a server in recovery: the replica.
async fn ran_on_replica(conn: &ReadConn) -> bool {
    let row = conn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT pg_is_in_recovery()"))
        .await
        .expect("a read never fails while the primary is up")
        .unwrap();
    row.try_get_by_index::<bool>(0).unwrap()
}

async fn value(conn: &ReadConn) -> String {
    one_text(conn, "SELECT v FROM marks WHERE id = 1").await
}

/// A connection to the replica itself (replay control).
async fn replica_admin(replica: &TestPostgres) -> DatabaseConnection {
    Database::connect(replica.url()).await.unwrap()
}

/// Checks until the pool reads `key` from the replica again.
async fn replica_serves(reads: &ReadPool, key: &[u8]) -> bool {
    eventually(PATIENCE, || async {
        reads.check_now().await;
        reads.for_key(key).on_replica().then_some(())
    })
    .await
    .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_replica_never_stale_for_a_fenced_write_and_fall_back_when_it_stops() {
    let primary = tokio::task::spawn_blocking(TestPostgres::start).await.unwrap();
    let primary_conn = kaigo_platform::db::connect(&primary.config(), SERVICE).await.unwrap();
    primary_conn.execute_unprepared("CREATE TABLE marks (id int PRIMARY KEY, v text NOT NULL)").await.unwrap();
    primary_conn.execute_unprepared("INSERT INTO marks VALUES (1, 'before')").await.unwrap();
    let replica = tokio::task::block_in_place(|| TestPostgres::start_replica_of(&primary));

    // The lag bound is far away: replay paused below must not take the replica out.
    let config = DatabaseConfig {
        read_urls: vec![Secret::new(replica.url())],
        max_replica_lag_ms: 600_000,
        replica_check_ms: 60_000,
        ..primary.config()
    };
    let (control, background) = Background::new();
    let reads = ReadPool::connect(&config, SERVICE, primary_conn.clone(), &background).await.unwrap();
    assert_eq!(reads.replica_count(), 1);
    assert!(replica_serves(&reads, b"anyone").await, "the replica never became healthy");

    // Reads go to the replica, in the service's schema there too.
    let conn = reads.any();
    assert!(conn.on_replica());
    assert!(ran_on_replica(&conn).await);
    assert_eq!(value(&conn).await, "before");
    assert_eq!(one_text(&conn, "SELECT current_setting('application_name')").await, format!("kaigo-{SERVICE}-read"));

    // Replay paused: what the primary commits now is not on the replica.
    let admin = replica_admin(&replica).await;
    admin.execute_unprepared("SELECT pg_wal_replay_pause()").await.unwrap();
    primary_conn.execute_unprepared("UPDATE marks SET v = 'after' WHERE id = 1").await.unwrap();
    reads.fence(b"person-1");

    // The writer's key reads the primary at once, and after the next check too (the replica
    // has not replayed the write) ...
    let own = reads.for_key(b"person-1");
    assert!(!own.on_replica());
    assert_eq!(value(&own).await, "after");
    reads.check_now().await;
    let own = reads.for_key(b"person-1");
    assert!(!own.on_replica(), "a replica behind the write must not serve the writer");
    assert_eq!(value(&own).await, "after");
    // ... while another key still reads the replica, which really is behind (the marker that
    // it answered).
    let other = reads.for_key(b"person-2");
    assert!(other.on_replica());
    assert_eq!(value(&other).await, "before");

    // Replay resumed: once the replica is past the write, the key reads it there, and the
    // fence is forgotten.
    admin.execute_unprepared("SELECT pg_wal_replay_resume()").await.unwrap();
    assert!(replica_serves(&reads, b"person-1").await, "the replica never passed the write");
    let own = reads.for_key(b"person-1");
    assert_eq!(value(&own).await, "after");
    assert_eq!(reads.fenced_keys(), 0);
    admin.close().await.unwrap();

    // The replica stops between two checks: a read picked for it still answers, from the
    // primary, and the next reads go to the primary until it is back.
    let picked = reads.any();
    assert!(picked.on_replica());
    tokio::task::block_in_place(|| replica.stop());
    assert!(!ran_on_replica(&picked).await, "answered by the primary");
    assert_eq!(value(&picked).await, "after");
    assert!(!reads.any().on_replica());
    reads.check_now().await;
    let after_check = reads.any();
    assert!(!after_check.on_replica());
    assert_eq!(value(&after_check).await, "after");

    // Back: read from again.
    tokio::task::block_in_place(|| replica.resume());
    assert!(replica_serves(&reads, b"anyone").await, "the replica was not taken back");
    assert!(ran_on_replica(&reads.any()).await);

    control.stop(Duration::from_secs(5)).await;
    drop(replica);
    drop(primary);
}

#[tokio::test]
async fn without_replicas_every_read_is_the_primary_and_fences_cost_nothing() {
    let db = kaigo_platform::testkit::TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), SERVICE).await.unwrap();
    let reads = ReadPool::primary_only(conn);
    reads.fence(b"person-1");
    reads.fence_all();
    assert_eq!(reads.fenced_keys(), 0);
    let read = reads.for_key(b"person-1");
    assert!(!read.on_replica());
    assert!(!ran_on_replica(&read).await);
}
