//! The reads against a real streaming replica (docs/architecture.md#read-replicas): a private
//! primary and a `pg_basebackup -R` replica of it on loopback ports of their own
//! (`testkit::TestPostgres`), replay paused to make the replica's view differ from the
//! primary's.

use std::time::Duration;

use kaigo_platform::auth::Role;
use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_platform::db::ReadPool;
use kaigo_platform::testkit::{TestPostgres, eventually};
use kaigo_proto::kaigo::careplan::v1::{
    AcknowledgeBundleRequest, BundleStatus, GetBundleRequest, ListInboxRequest, ListSentRequest, WatchInboxRequest,
    WatchInboxResponse,
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::MigratorTrait;

use crate::exchange::{CARE, Client, PROV, licensed, rid};
use crate::harness::TestServer;
use crate::watch::usage_at;

/// Long enough for a loaded 2-core machine; a healthy run needs well under a second each.
const PATIENCE: Duration = Duration::from_secs(60);

/// Checks until the reads of every office of `keys` go to the replica: it has replayed every
/// write fenced for them.
async fn replayed(reads: &ReadPool, keys: &[&str]) {
    let caught_up = eventually(PATIENCE, || async {
        reads.check_now().await;
        keys.iter().all(|k| reads.for_key(k.as_bytes()).on_replica()).then_some(())
    })
    .await;
    assert!(caught_up.is_some(), "the replica never replayed the writes");
}

async fn send(client: &mut Client, seq: &str) -> String {
    client.send_bundle(usage_at(seq)).await.unwrap().into_inner().bundle.unwrap().bundle_id
}

/// The inbox as the receiver lists it: (id, status) in inbox order.
async fn inbox(client: &mut Client) -> Vec<(String, i32)> {
    let page = client.list_inbox(ListInboxRequest::default()).await.unwrap().into_inner();
    page.bundles.into_iter().map(|b| (b.bundle_id, b.status)).collect()
}

async fn sent(client: &mut Client) -> Vec<String> {
    let page = client.list_sent(ListSentRequest::default()).await.unwrap().into_inner();
    page.bundles.into_iter().map(|b| b.bundle_id).collect()
}

/// The next message of a watch (the timeout guards against a hung test; it is not a speed
/// assertion).
async fn next_id(watch: &mut tonic::Streaming<WatchInboxResponse>) -> String {
    let message = tokio::time::timeout(PATIENCE, watch.message()).await.unwrap().unwrap().unwrap();
    message.bundle.unwrap().bundle_id
}

async fn replica_now(admin: &DatabaseConnection) -> String {
    let sql = "SELECT clock_timestamp()::text";
    let row = admin.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap().unwrap();
    row.try_get_by_index::<String>(0).unwrap()
}

/// True once the replica has run a WatchInbox live poll (the arrivals query leaving
/// acknowledged bundles out) for the service since `since` (the replica's clock).
async fn replica_polled_since(admin: &DatabaseConnection, since: &str) -> bool {
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kaigo-careplan-read' \
               AND query LIKE '%\"receiver_office\" = %' AND query LIKE '%\"status\" <> %' \
               AND query_start > $1::timestamptz";
    let seen = eventually(PATIENCE, || async {
        let row = admin
            .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [since.into()]))
            .await
            .unwrap()
            .unwrap();
        (row.try_get_by_index::<i64>(0).unwrap() > 0).then_some(())
    })
    .await;
    seen.is_some()
}

/// ListInbox, ListSent, GetBundle and WatchInbox read the replica; the writer reads its own
/// write (the fence); a bundle the replica lacks is still found by id; WatchInbox misses no
/// bundle while the replica lags and never streams one acknowledged through another process;
/// a stopped replica fails no read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn careplan_reads_the_replica_never_stale_for_the_writer_and_watch_misses_nothing() {
    let primary = tokio::task::spawn_blocking(TestPostgres::start).await.unwrap();
    let conn = kaigo_platform::db::connect(&primary.config(), kaigo_careplan::NAME).await.unwrap();
    kaigo_careplan::Migrator::up(&conn, None).await.unwrap();
    let replica = tokio::task::block_in_place(|| TestPostgres::start_replica_of(&primary));
    // The lag bound and the check interval far away: the test drives the checks, and paused
    // replay must not take the replica out.
    let database = DatabaseConfig {
        read_urls: vec![Secret::new(replica.url())],
        max_replica_lag_ms: 600_000,
        replica_check_ms: 60_000,
        ..primary.config()
    };
    let (server, reads) = TestServer::start_with_replicas(conn, &database).await;
    // Another process of the service on the same primary, without replicas: its writes fence
    // nothing in `server`.
    let other_conn = kaigo_platform::db::connect(&primary.config(), kaigo_careplan::NAME).await.unwrap();
    let other = TestServer::start_on(other_conn, None).await;

    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let (mut prov, prov_caller) = licensed(&server, Role::ServiceProvider, PROV).await;
    let mut prov_elsewhere = other.client(Some(prov_caller)).await;
    let a = send(&mut care, "20250425110000").await;
    let x = send(&mut care, "20250425120000").await;
    replayed(&reads, &[CARE, PROV]).await;

    // Replay paused: what the primary commits from now on is not on the replica.
    let admin = Database::connect(replica.url()).await.unwrap();
    admin.execute_unprepared("SELECT pg_wal_replay_pause()").await.unwrap();
    // X acknowledged through the other process; B sent.
    prov_elsewhere
        .acknowledge_bundle(AcknowledgeBundleRequest { request_id: rid(), bundle_id: x.clone(), note: String::new() })
        .await
        .unwrap();
    let b = send(&mut care, "20250425130000").await;

    // The sender reads its own send (the fence sends it to the primary) ...
    assert_eq!(sent(&mut care).await, [b.clone(), x.clone(), a.clone()]);
    reads.check_now().await;
    assert_eq!(sent(&mut care).await, [b.clone(), x.clone(), a.clone()], "still after the fence resolved");
    // ... while the receiver's listing is the replica's: no B, and X not acknowledged there
    // (another process's write, within the lag bound).
    let unacknowledged = BundleStatus::Sent as i32;
    assert_eq!(inbox(&mut prov).await, [(a.clone(), unacknowledged), (x.clone(), unacknowledged)]);
    // B by id: the replica lacks it, the primary answers, with its files; the read is audited.
    let got = prov.get_bundle(GetBundleRequest { bundle_id: b.clone() }).await.unwrap().into_inner().bundle.unwrap();
    assert_eq!(got.bundle_id, b);
    assert!(!got.files.is_empty(), "the files come from where the bundle was found");
    let trail = server.trail(&b, 1).await;
    assert_eq!(
        (trail[0].rpc.as_str(), trail[0].party.as_str(), trail[0].outcome.as_str()),
        ("GetBundle", PROV, "allowed")
    );

    // A watch opened now: its catch-up reads the primary (B, which the replica lacks; X
    // acknowledged there, left out).
    let mut watch = prov.watch_inbox(WatchInboxRequest::default()).await.unwrap().into_inner();
    assert_eq!(next_id(&mut watch).await, a);
    assert_eq!(next_id(&mut watch).await, b);
    // Its live polls read the replica, which shows X unacknowledged and unseen by this watch.
    let since = replica_now(&admin).await;
    assert!(replica_polled_since(&admin, &since).await, "no live poll ran on the replica");

    // Replay resumed, C sent: C is the next message — X, re-read on the primary before any
    // replica poll could send it, never went out.
    admin.execute_unprepared("SELECT pg_wal_replay_resume()").await.unwrap();
    let c = send(&mut care, "20250425140000").await;
    assert_eq!(next_id(&mut watch).await, c);

    // A lagging replica misses nothing for the watch: paused again, D sent, the live polls
    // cannot see it there until replay resumes; then it comes through.
    replayed(&reads, &[CARE, PROV]).await;
    admin.execute_unprepared("SELECT pg_wal_replay_pause()").await.unwrap();
    let d = send(&mut care, "20250425150000").await;
    assert!(!inbox(&mut prov).await.iter().any(|(id, _)| *id == d), "D is not on the paused replica");
    admin.execute_unprepared("SELECT pg_wal_replay_resume()").await.unwrap();
    assert_eq!(next_id(&mut watch).await, d);
    admin.close().await.unwrap();

    // The replica stops: every read answers from the primary, the watch goes on.
    assert!(reads.for_key(PROV.as_bytes()).on_replica());
    tokio::task::block_in_place(|| replica.stop());
    let listed = inbox(&mut prov).await;
    let ids: Vec<&str> = listed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, [a.as_str(), x.as_str(), b.as_str(), c.as_str(), d.as_str()]);
    assert_eq!(listed[1].1, BundleStatus::Acknowledged as i32, "the primary's view");
    reads.check_now().await;
    assert!(!reads.for_key(PROV.as_bytes()).on_replica());
    let e = send(&mut care, "20250425160000").await;
    assert_eq!(next_id(&mut watch).await, e);
    assert!(prov.get_bundle(GetBundleRequest { bundle_id: e.clone() }).await.is_ok());

    drop(watch);
    other.shutdown().await;
    server.shutdown().await;
    drop(replica);
    drop(primary);
}
