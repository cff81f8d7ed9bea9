//! The event tables trimmed (issue #20 item 5): published outbox rows after `outbox_hours`,
//! never an unpublished one; a consumer group's keys of handled events only once no delivery
//! of the event can come again (on Redis: its stream entry is gone), so a redelivery after a
//! trim is still applied once. On PostgreSQL with Redis and on `kaigo dev`'s SQLite with the
//! in-process bus.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_platform::events::{
    Bus, Consumer, ConsumerOptions, Event, EventHandler, EventTablesMigration, HandlerError, LocalBus, RedisBus, Relay,
    RelayOptions, enqueue,
};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::retention::{RetentionConfig, trim_handled, trim_outbox};
use kaigo_platform::testkit::{TestDatabase, TestRedis, eventually};
use redis::AsyncCommands;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, Value};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(EventTablesMigration)]
    }
}

/// Counts the events it is given to apply (a skipped repeat never reaches it).
struct Counting {
    calls: AtomicUsize,
}

impl EventHandler for Counting {
    fn handle<'a>(&'a self, _: &'a Event, _: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

/// A directory of its own for one test's SQLite files, removed when dropped.
struct Dir(std::path::PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn postgres(db: &TestDatabase, schema: &str) -> DatabaseConnection {
    let conn = kaigo_platform::db::connect(&db.config(), schema).await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    conn
}

async fn sqlite() -> (Dir, DatabaseConnection) {
    let dir = Dir(std::env::temp_dir().join(format!("kaigo-event-retention-{}", uuid::Uuid::new_v4().simple())));
    let config =
        DatabaseConfig { url: Secret::new(format!("sqlite://{}", dir.0.display())), ..DatabaseConfig::default() };
    let conn = kaigo_platform::db::connect(&config, "events").await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    (dir, conn)
}

/// Runs `sql` written with `$n` placeholders, each used once and in order.
async fn exec(conn: &impl ConnectionTrait, sql: &str, values: Vec<Value>) {
    let sql = if kaigo_platform::db::is_postgres(conn) {
        sql.to_owned()
    } else {
        (1..=values.len()).rev().fold(sql.to_owned(), |sql, n| sql.replace(&format!("${n}"), "?"))
    };
    conn.execute_raw(Statement::from_sql_and_values(conn.get_database_backend(), sql, values)).await.unwrap();
}

async fn ids(conn: &impl ConnectionTrait, sql: &str) -> Vec<String> {
    let rows = conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap();
    let mut ids: Vec<String> = rows.into_iter().map(|row| row.try_get_by_index(0).unwrap()).collect();
    ids.sort();
    ids
}

/// A UUIDv7 event id made at `at`, as [`enqueue`] makes them.
fn id_at(at: DateTime<Utc>) -> String {
    let ts = uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, at.timestamp_subsec_nanos());
    uuid::Uuid::new_v7(ts).to_string()
}

fn event(id: &str, topic: &str) -> Event {
    Event {
        id: id.to_owned(),
        topic: topic.to_owned(),
        key: "application-1".to_owned(),
        payload: vec![1],
        trace: vec![],
        created_at: Utc::now(),
    }
}

fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

#[tokio::test]
async fn published_outbox_rows_go_after_the_retention_on_postgres() {
    let db = TestDatabase::create().await;
    outbox_rows_go_after_the_retention(&postgres(&db, "producer").await).await;
}

#[tokio::test]
async fn published_outbox_rows_go_after_the_retention_on_sqlite() {
    let (_dir, conn) = sqlite().await;
    outbox_rows_go_after_the_retention(&conn).await;
}

/// Three rows: published four days ago, published now, and written ten days ago but never
/// published. The trim takes the first only; the relay then publishes the third.
async fn outbox_rows_go_after_the_retention(conn: &DatabaseConnection) {
    let now = Utc::now();
    let bus = Bus::Local(LocalBus::new());
    for _ in 0..3 {
        enqueue(
            conn,
            kaigo_platform::events::NewEvent {
                topic: "test.trimmed".to_owned(),
                key: "k".to_owned(),
                payload: vec![1],
            },
        )
        .await
        .unwrap();
    }
    let relay = Relay::new(conn.clone(), bus, RelayOptions::default());
    let rows = relay.fetch_unpublished(conn, 10).await.unwrap();
    let (old, young, waiting) = (id_at(now - hours(96)), id_at(now), id_at(now - hours(240)));
    for ((seq, _), (id, created, published)) in rows.iter().zip([
        (&old, now - hours(96), Some(now - hours(96))),
        (&young, now, Some(now)),
        (&waiting, now - hours(240), None),
    ]) {
        let published: Value = published.into();
        exec(
            conn,
            "UPDATE outbox SET event_id = $1, created_at = $2, published_at = $3 WHERE seq = $4",
            vec![id.clone().into(), created.into(), published, (*seq).into()],
        )
        .await;
    }

    let config = RetentionConfig::default();
    trim_outbox(conn, &config, "kit").await;
    let mut left = vec![young.clone(), waiting.clone()];
    left.sort();
    assert_eq!(ids(conn, "SELECT event_id FROM outbox").await, left, "the old published row went, no other");

    // The row never published is still there to publish, and then kept as a young one.
    assert_eq!(relay.relay_once().await.unwrap(), 1);
    trim_outbox(conn, &config, "kit").await;
    assert_eq!(ids(conn, "SELECT event_id FROM outbox").await, left);
}

/// A stream entry added with an explicit id (the Redis clock of `at`), in the fields
/// `RedisBus` publishes.
async fn xadd_at(
    conn: &mut kaigo_platform::redis::RedisConnection,
    stream: &str,
    at: DateTime<Utc>,
    id: &str,
) -> String {
    let fields: [(&str, &str); 5] =
        [("id", id), ("key", "application-1"), ("payload", "\u{1}"), ("trace", "[]"), ("created_at", &at.to_rfc3339())];
    conn.xadd(stream, format!("{}-0", at.timestamp_millis()), &fields).await.unwrap()
}

async fn keys(conn: &DatabaseConnection) -> Vec<String> {
    ids(conn, "SELECT event_id FROM processed_events").await
}

/// The timeline, by the Redis server's clock in the entries' ids: e1 added five days ago, e2
/// four days ago, e3 an hour ago, each handled by replica-a a minute after it was added. e1
/// and e3 are acknowledged; replica-a died before acknowledging e2, which stays pending.
#[tokio::test]
async fn a_key_goes_only_after_its_stream_entry_and_a_redelivery_before_that_is_skipped() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let conn = postgres(&db, "consumer").await;
    let handle = RedisHandle::connect(&redis.config()).await.unwrap().unwrap();
    let redis_bus = RedisBus::new(handle.clone(), 0);
    let bus = Bus::Redis(redis_bus.clone());
    let topic = "test.handled";
    let stream = redis_bus.stream(topic);
    let mut redis_conn = handle.conn();
    let _: () = redis_conn.xgroup_create_mkstream(&stream, "consumer", "0").await.unwrap();

    let now = Utc::now();
    let added = [now - hours(120), now - hours(96), now - hours(1)];
    let events: Vec<String> = added.iter().map(|at| id_at(*at - chrono::Duration::seconds(1))).collect();
    let mut entries = Vec::new();
    for (at, id) in added.iter().zip(&events) {
        entries.push(xadd_at(&mut redis_conn, &stream, *at, id).await);
    }
    let handler = Arc::new(Counting { calls: AtomicUsize::new(0) });
    let mut options = ConsumerOptions::new("consumer", &[topic]);
    options.consumer = "replica-a".to_owned();
    let replica_a = Consumer::new(conn.clone(), bus.clone(), options.clone(), handler.clone());
    let read: redis::streams::StreamReadReply = redis_conn
        .xread_options(&[&stream], &[">"], &redis::streams::StreamReadOptions::default().group("consumer", "replica-a"))
        .await
        .unwrap();
    assert_eq!(read.keys[0].ids.len(), 3);
    for (at, id) in added.iter().zip(&events) {
        assert!(replica_a.apply(&event(id, topic)).await.unwrap());
        exec(
            &conn,
            "UPDATE processed_events SET processed_at = $1 WHERE event_id = $2",
            vec![(*at + chrono::Duration::minutes(1)).into(), id.clone().into()],
        )
        .await;
    }
    let _: i64 = redis_conn.xack(&stream, "consumer", &[&entries[0], &entries[2]]).await.unwrap();
    let config = RetentionConfig::default();
    let stream_keep = Duration::from_secs(u64::from(config.stream_hours) * 3600);

    // No consumer of the group has joined from this process yet: its keys are not this
    // process's to judge.
    assert!(bus.consumer_groups().is_empty());
    trim_handled(&conn, &bus, &config, "kit").await;
    assert_eq!(keys(&conn).await.len(), 3);

    // Another replica joins (and does not take e2 over: its claim_idle is an hour).
    let mut other = options.clone();
    other.consumer = "replica-b".to_owned();
    other.claim_idle = Duration::from_secs(3600);
    let (stop_b, mut stopped_b) = tokio::sync::watch::channel(false);
    let replica_b = Consumer::new(conn.clone(), bus.clone(), other, handler.clone());
    let task_b = tokio::spawn(replica_b.run(async move {
        let _ = stopped_b.wait_for(|s| *s).await;
    }));
    let joined = eventually(Duration::from_secs(10), || async { (!bus.consumer_groups().is_empty()).then_some(()) });
    assert!(joined.await.is_some());
    assert_eq!(bus.consumer_groups(), [("consumer".to_owned(), vec![topic.to_owned()])]);

    // The stream keeps e2 (pending) and everything after it; e1 went, and with it e1's key.
    // e2's key stays although it is four days old: e2 can still be delivered again.
    assert_eq!(redis_bus.trim(topic, stream_keep).await.unwrap(), 1);
    assert_eq!(
        redis_bus.oldest_entry(topic).await.unwrap().map(|t| t.timestamp_millis()),
        Some(added[1].timestamp_millis())
    );
    trim_handled(&conn, &bus, &config, "kit").await;
    let mut left = vec![events[1].clone(), events[2].clone()];
    left.sort();
    assert_eq!(keys(&conn).await, left);
    let _ = stop_b.send(true);
    task_b.await.unwrap();

    // replica-a restarts under its name: e2 comes back, is recognised and skipped.
    let (stop_a, mut stopped_a) = tokio::sync::watch::channel(false);
    let task_a = tokio::spawn(replica_a.run(async move {
        let _ = stopped_a.wait_for(|s| *s).await;
    }));
    let acked = eventually(Duration::from_secs(10), || async {
        let pending: redis::streams::StreamPendingReply = handle.conn().xpending(&stream, "consumer").await.ok()?;
        (pending.count() == 0).then_some(())
    })
    .await;
    let _ = stop_a.send(true);
    task_a.await.unwrap();
    assert!(acked.is_some(), "the redelivered e2 was acknowledged");
    assert_eq!(handler.calls.load(Ordering::SeqCst), 3, "each event applied once: the redelivery was skipped");

    // Acknowledged, e2 leaves the stream at the next trim, and its key follows; e3's entry
    // is an hour old, so its key stays (and would by processed_hours anyway).
    assert_eq!(redis_bus.trim(topic, stream_keep).await.unwrap(), 1);
    trim_handled(&conn, &bus, &config, "kit").await;
    assert_eq!(keys(&conn).await, [events[2].clone()]);

    // A stream that no longer exists (deleted, or a Redis replaced) says nothing: keys stay.
    let _: i64 = redis_conn.del(&stream).await.unwrap();
    exec(&conn, "UPDATE processed_events SET processed_at = $1", vec![(now - hours(200)).into()]).await;
    trim_handled(&conn, &bus, &config, "kit").await;
    assert_eq!(keys(&conn).await, [events[2].clone()]);
}

/// `kaigo dev`: keys go by `processed_hours`; a repeat of a younger event is still skipped,
/// and a group no consumer of this process reads keeps its keys.
#[tokio::test]
async fn on_sqlite_with_the_in_process_bus_keys_go_by_age() {
    let (_dir, conn) = sqlite().await;
    let bus = Bus::Local(LocalBus::new());
    let topic = "test.local";
    let handler = Arc::new(Counting { calls: AtomicUsize::new(0) });
    let consumer = Consumer::new(conn.clone(), bus.clone(), ConsumerOptions::new("local", &[topic]), handler.clone());
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(consumer.run(async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    let joined = eventually(Duration::from_secs(10), || async { (!bus.consumer_groups().is_empty()).then_some(()) });
    assert!(joined.await.is_some());

    let now = Utc::now();
    let (old, young) = (id_at(now - hours(100)), id_at(now - hours(2)));
    for id in [&old, &young] {
        bus.publish(&event(id, topic)).await.unwrap();
    }
    let calls = |n: usize| {
        let handler = handler.clone();
        async move {
            eventually(Duration::from_secs(10), || async { (handler.calls.load(Ordering::SeqCst) >= n).then_some(()) })
                .await
                .is_some()
        }
    };
    assert!(calls(2).await);
    exec(
        &conn,
        "UPDATE processed_events SET processed_at = $1 WHERE event_id = $2",
        vec![(now - hours(99)).into(), old.clone().into()],
    )
    .await;
    exec(
        &conn,
        "INSERT INTO processed_events (consumer_group, event_id, processed_at) VALUES ($1, $2, $3)",
        vec!["elsewhere".into(), old.clone().into(), (now - hours(99)).into()],
    )
    .await;

    trim_handled(&conn, &bus, &RetentionConfig::default(), "kit").await;
    let left = ids(&conn, "SELECT consumer_group || ' ' || event_id FROM processed_events").await;
    assert_eq!(left, [format!("elsewhere {old}"), format!("local {young}")]);

    // The young event again (a relay republishing an unmarked row), then a new one: the
    // repeat is skipped, the new one applied.
    let new = id_at(now);
    bus.publish(&event(&young, topic)).await.unwrap();
    bus.publish(&event(&new, topic)).await.unwrap();
    let handled = eventually(Duration::from_secs(10), || async {
        let keys = ids(&conn, "SELECT event_id FROM processed_events").await;
        keys.contains(&new).then_some(())
    });
    assert!(handled.await.is_some());
    let _ = stop.send(true);
    task.await.unwrap();
    // Delivered in order, so the repeat came before the new event's key was written.
    assert_eq!(handler.calls.load(Ordering::SeqCst), 3, "the repeat was skipped");
}
