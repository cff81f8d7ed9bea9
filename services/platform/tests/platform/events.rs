//! The outbox: nothing from a rolled-back transaction is published, and a committed event
//! takes effect exactly once even when the relay or the consumer dies midway.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use kaigo_platform::config::RedisConfig;
use kaigo_platform::events::{
    Bus, Consumer, ConsumerOptions, Event, EventHandler, EventTablesMigration, HandlerError, LocalBus, NewEvent,
    RedisBus, Relay, RelayOptions, enqueue, enqueue_many,
};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::testkit::{TestDatabase, TestRedis, eventually};
use redis::AsyncCommands;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(EventTablesMigration)]
    }
}

/// Counts applications in the consumer's own table, written in the handler's transaction.
pub(crate) struct CountingHandler {
    pub(crate) calls: AtomicUsize,
}

impl EventHandler for CountingHandler {
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if event.payload == POISON {
                // A payload that cannot decode: permanent, straight to the dead-letter stream.
                return Err(<() as prost::Message>::decode(&[0xff_u8][..]).unwrap_err().into());
            }
            txn.execute_raw(Statement::from_sql_and_values(
                txn.get_database_backend(),
                "INSERT INTO effects (event_id) VALUES ($1)",
                [event.id.clone().into()],
            ))
            .await?;
            Ok(())
        })
    }
}

pub(crate) async fn setup(db: &TestDatabase, schema: &str) -> DatabaseConnection {
    let conn = kaigo_platform::db::connect(&db.config(), schema).await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    conn.execute_unprepared("CREATE TABLE IF NOT EXISTS effects (event_id TEXT NOT NULL)").await.unwrap();
    conn
}

pub(crate) async fn effects(conn: &DatabaseConnection) -> i64 {
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), "SELECT COUNT(*) AS n FROM effects"))
        .await;
    row.unwrap().unwrap().try_get("", "n").unwrap()
}

/// The payload [`CountingHandler`] refuses as undecodable.
const POISON: &[u8] = b"poison";

pub(crate) fn event(topic: &str) -> NewEvent {
    NewEvent { topic: topic.to_owned(), key: "application-1".to_owned(), payload: vec![1, 2, 3] }
}

#[tokio::test]
async fn rolled_back_events_are_never_published_and_committed_ones_take_effect_exactly_once() {
    let redis = TestRedis::create().await;
    exactly_once_through_the_relay_and_a_consumer_group(redis.config()).await;
}

/// The outbox → relay → stream → consumer group path against the Redis of `redis`.
pub async fn exactly_once_through_the_relay_and_a_consumer_group(redis: RedisConfig) {
    let db = TestDatabase::create().await;
    let producer = setup(&db, "producer").await;
    let consumer_db = setup(&db, "consumer").await;
    let handle = RedisHandle::connect(&redis).await.unwrap().unwrap();
    let redis_bus = RedisBus::new(handle.clone(), 10_000);
    let stream = redis_bus.stream("test.decided");
    let bus = Bus::Redis(redis_bus);
    let topic = "test.decided";

    // Rolled back: the row never exists, so no relay can publish it.
    let txn = producer.begin().await.unwrap();
    enqueue(&txn, event(topic)).await.unwrap();
    txn.rollback().await.unwrap();

    // Committed.
    let txn = producer.begin().await.unwrap();
    let id = enqueue(&txn, event(topic)).await.unwrap();
    txn.commit().await.unwrap();

    // A relay dies after publishing, before marking: what it leaves behind is a published
    // entry whose outbox row is still unpublished.
    let relay = Relay::new(producer.clone(), bus.clone(), RelayOptions::default());
    let batch = relay.fetch_unpublished(&producer, 100).await.unwrap();
    assert_eq!(batch.len(), 1, "only the committed event is in the outbox");
    bus.publish(&batch[0].1).await.unwrap();

    // The restarted relay publishes it again and marks it.
    assert_eq!(relay.relay_once().await.unwrap(), 1);
    assert_eq!(relay.relay_once().await.unwrap(), 0, "nothing left after marking");
    let mut conn = handle.conn();
    let stream_len: usize = conn.xlen(&stream).await.unwrap();
    assert_eq!(stream_len, 2, "the stream holds the event twice");

    // The consumer applies it once.
    let handler = Arc::new(CountingHandler { calls: AtomicUsize::new(0) });
    let consumer =
        Consumer::new(consumer_db.clone(), bus.clone(), ConsumerOptions::new("consumer", &[topic]), handler.clone());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(consumer.run(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let done = eventually(Duration::from_secs(10), || async {
        // Read count first, then pending (see `consume`).
        let read: redis::streams::StreamInfoGroupsReply = conn.clone().xinfo_groups(&stream).await.ok()?;
        let pending: redis::streams::StreamPendingReply = conn.clone().xpending(&stream, "consumer").await.ok()?;
        let delivered = read.groups.first().map(|g| g.entries_read.unwrap_or(0)).unwrap_or(0);
        (delivered >= 2 && pending.count() == 0).then_some(())
    })
    .await;
    assert!(done.is_some(), "both entries delivered and acknowledged");
    let _ = stop_tx.send(true);
    task.await.unwrap();
    assert_eq!(effects(&consumer_db).await, 1, "exactly one effect");
    assert_eq!(handler.calls.load(Ordering::SeqCst), 1, "the repeat was skipped before the handler");
    let _ = id;
}

/// A batch is published to Redis in one pipeline: every event once, each topic's in the
/// outbox's order, and every row marked.
#[tokio::test]
async fn a_relayed_batch_reaches_its_streams_once_in_order() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let producer = setup(&db, "producer").await;
    let handle = RedisHandle::connect(&redis.config()).await.unwrap().unwrap();
    let redis_bus = RedisBus::new(handle.clone(), 10_000);
    let streams = [redis_bus.stream("test.batch.0"), redis_bus.stream("test.batch.1")];
    let bus = Bus::Redis(redis_bus);
    let events: Vec<NewEvent> = (0..1_203u32)
        .map(|n| NewEvent {
            topic: format!("test.batch.{}", n % 2),
            key: format!("aggregate-{n}"),
            payload: n.to_be_bytes().to_vec(),
        })
        .collect();
    let txn = producer.begin().await.unwrap();
    let ids = enqueue_many(&txn, events).await.unwrap();
    txn.commit().await.unwrap();
    let relay = Relay::new(producer.clone(), bus, RelayOptions::default());
    let mut relayed = Vec::new();
    loop {
        match relay.relay_once().await.unwrap() {
            0 => break,
            n => relayed.push(n),
        }
    }
    assert_eq!(relayed, [500, 500, 203]);
    assert!(relay.fetch_unpublished(&producer, 2_000).await.unwrap().is_empty(), "every row marked");
    let mut conn = handle.conn();
    for (topic, stream) in streams.iter().enumerate() {
        let entries: redis::streams::StreamRangeReply = conn.xrange_all(stream).await.unwrap();
        let seen: Vec<String> = entries.ids.iter().map(|e| e.get::<String>("id").unwrap()).collect();
        let wanted: Vec<String> = ids.iter().skip(topic).step_by(2).cloned().collect();
        assert_eq!(seen, wanted, "{stream}: each event once, in order");
    }
}

/// `events` events of `topic` committed in a producer's outbox (not yet relayed), and what a
/// consumer of them on Redis needs; the database and the key prefix live as long as it.
struct Committed {
    _redis: TestRedis,
    _db: TestDatabase,
    producer: DatabaseConnection,
    consumer_db: DatabaseConnection,
    handle: RedisHandle,
    stream: String,
    bus: Bus,
}

async fn committed(topic: &str, events: usize) -> Committed {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let producer = setup(&db, "producer").await;
    let consumer_db = setup(&db, "consumer").await;
    let handle = RedisHandle::connect(&redis.config()).await.unwrap().unwrap();
    let redis_bus = RedisBus::new(handle.clone(), 10_000);
    let stream = redis_bus.stream(topic);
    let txn = producer.begin().await.unwrap();
    enqueue_many(&txn, (0..events).map(|_| event(topic)).collect()).await.unwrap();
    txn.commit().await.unwrap();
    Committed { _redis: redis, _db: db, producer, consumer_db, handle, stream, bus: Bus::Redis(redis_bus) }
}

/// Runs `consumer` (group `consumer`) until `stream` has delivered at least `entries` entries
/// to it and none is pending (20 s at most), then stops it; whether that happened.
async fn consume(consumer: Consumer, handle: &RedisHandle, stream: &str, entries: usize) -> bool {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(consumer.run(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let conn = handle.conn();
    let done = eventually(Duration::from_secs(20), || async {
        // Read count first, then pending: entries read by the first call are, at the second,
        // either still pending or acknowledged. The other order saw "none pending" before the
        // last read and "all read" after it, and stopped the consumer in the middle of that
        // read's batch (its effects rolled back, the test counting 200 of 250).
        let read: redis::streams::StreamInfoGroupsReply = conn.clone().xinfo_groups(stream).await.ok()?;
        let pending: redis::streams::StreamPendingReply = conn.clone().xpending(stream, "consumer").await.ok()?;
        let delivered = read.groups.first().map(|g| g.entries_read.unwrap_or(0)).unwrap_or(0);
        (delivered >= entries && pending.count() == 0).then_some(())
    })
    .await;
    let _ = stop_tx.send(true);
    task.await.unwrap();
    done.is_some()
}

/// Events read together are applied in one transaction and acknowledged together: each once,
/// though every one of them is on the stream twice (a relay that died before marking).
#[tokio::test]
async fn events_read_together_take_effect_once_each_and_are_all_acknowledged() {
    let Committed { _redis, _db, producer, consumer_db, handle, stream, bus } = committed("test.together", 250).await;
    let relay = Relay::new(producer.clone(), bus.clone(), RelayOptions::default());
    let unmarked: Vec<Event> =
        relay.fetch_unpublished(&producer, 1_000).await.unwrap().into_iter().map(|(_, e)| e).collect();
    bus.publish_many(&unmarked).await.unwrap();
    assert_eq!(relay.relay_once().await.unwrap(), 250);

    let handler = Arc::new(CountingHandler { calls: AtomicUsize::new(0) });
    let consumer =
        Consumer::new(consumer_db.clone(), bus, ConsumerOptions::new("consumer", &["test.together"]), handler.clone());
    assert!(consume(consumer, &handle, &stream, 500).await, "all 500 entries delivered and acknowledged");
    assert_eq!(effects(&consumer_db).await, 250, "each event took effect once");
    assert_eq!(handler.calls.load(Ordering::SeqCst), 250, "no repeat reached the handler");
}

/// A handler that applies a read's events together ([`EventHandler::handle_batch`]); its
/// first batch fails after writing, to show the batch rolls back and goes one by one.
struct BatchingHandler {
    batches: AtomicUsize,
    batched: AtomicUsize,
    singles: AtomicUsize,
    fail_first: std::sync::atomic::AtomicBool,
}

async fn record_effect(txn: &DatabaseTransaction, event: &Event) -> Result<(), HandlerError> {
    let sql = "INSERT INTO effects (event_id) VALUES ($1)";
    txn.execute_raw(Statement::from_sql_and_values(txn.get_database_backend(), sql, [event.id.clone().into()])).await?;
    Ok(())
}

impl EventHandler for BatchingHandler {
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.singles.fetch_add(1, Ordering::SeqCst);
            record_effect(txn, event).await
        })
    }

    fn handle_batch<'a>(
        &'a self,
        events: &'a [&'a Event],
        txn: &'a DatabaseTransaction,
    ) -> Option<BoxFuture<'a, Result<(), HandlerError>>> {
        Some(Box::pin(async move {
            for event in events {
                record_effect(txn, event).await?;
            }
            if self.fail_first.swap(false, Ordering::SeqCst) {
                return Err("the first batch fails after its writes".into());
            }
            self.batches.fetch_add(1, Ordering::SeqCst);
            self.batched.fetch_add(events.len(), Ordering::SeqCst);
            Ok(())
        }))
    }
}

/// A handler that takes a read's events together gets them in one call per read; a batch that
/// fails is rolled back (its writes with it) and its events applied one by one.
#[tokio::test]
async fn a_batch_handler_gets_a_read_at_once_and_a_failed_batch_goes_one_by_one() {
    let Committed { _redis, _db, producer, consumer_db, handle, stream, bus } = committed("test.batched", 250).await;
    assert_eq!(Relay::new(producer.clone(), bus.clone(), RelayOptions::default()).relay_once().await.unwrap(), 250);

    let handler = Arc::new(BatchingHandler {
        batches: AtomicUsize::new(0),
        batched: AtomicUsize::new(0),
        singles: AtomicUsize::new(0),
        fail_first: std::sync::atomic::AtomicBool::new(true),
    });
    let consumer =
        Consumer::new(consumer_db.clone(), bus, ConsumerOptions::new("consumer", &["test.batched"]), handler.clone());
    assert!(consume(consumer, &handle, &stream, 250).await, "all 250 entries delivered and acknowledged");
    assert_eq!(effects(&consumer_db).await, 250, "each event took effect once: the failed batch's writes rolled back");
    let (batches, batched, singles) = (
        handler.batches.load(Ordering::SeqCst),
        handler.batched.load(Ordering::SeqCst),
        handler.singles.load(Ordering::SeqCst),
    );
    assert_eq!(batched + singles, 250);
    assert!((1..=100).contains(&singles), "the failed batch (one read: at most 100) went one by one: {singles}");
    assert!((2..=4).contains(&batches), "the other reads (at most 100 each) in a call each: {batches} batches");
}

#[tokio::test]
async fn a_consumer_killed_before_acknowledging_gets_the_event_again_and_skips_it() {
    let redis = TestRedis::create().await;
    a_redelivered_event_is_skipped(redis.config()).await;
}

/// A consumer dies after applying, before XACK; restarted, it skips the redelivery.
pub async fn a_redelivered_event_is_skipped(redis: RedisConfig) {
    let db = TestDatabase::create().await;
    let producer = setup(&db, "producer").await;
    let consumer_db = setup(&db, "consumer").await;
    let handle = RedisHandle::connect(&redis).await.unwrap().unwrap();
    let redis_bus = RedisBus::new(handle.clone(), 10_000);
    let stream = redis_bus.stream("test.received");
    let bus = Bus::Redis(redis_bus);
    let topic = "test.received";

    let txn = producer.begin().await.unwrap();
    enqueue(&txn, event(topic)).await.unwrap();
    txn.commit().await.unwrap();
    Relay::new(producer.clone(), bus.clone(), RelayOptions::default()).relay_once().await.unwrap();

    // The first consumer applies the event, then dies before XACK: simulate by applying
    // directly (commits the effect and the dedup record) and reading without acknowledging.
    let handler = Arc::new(CountingHandler { calls: AtomicUsize::new(0) });
    let mut options = ConsumerOptions::new("consumer", &[topic]);
    options.consumer = "replica-a".to_owned();
    let first = Consumer::new(consumer_db.clone(), bus.clone(), options.clone(), handler.clone());
    let mut conn = handle.dedicated().await.unwrap();
    let _: () =
        redis::cmd("XGROUP").arg("CREATE").arg(&stream).arg("consumer").arg("0").query_async(&mut conn).await.unwrap();
    let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("consumer")
        .arg("replica-a")
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(reply.keys[0].ids.len(), 1);
    let delivered = Event {
        id: String::from_utf8(match &reply.keys[0].ids[0].map["id"] {
            redis::Value::BulkString(b) => b.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .unwrap(),
        topic: topic.to_owned(),
        key: String::new(),
        payload: vec![],
        trace: vec![],
        created_at: chrono::Utc::now(),
    };
    assert!(first.apply(&delivered).await.unwrap());

    // The replica restarts under the same name: its pending entry comes back and is skipped.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(first.run(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let acked = eventually(Duration::from_secs(10), || async {
        let pending: redis::streams::StreamPendingReply = handle.conn().xpending(&stream, "consumer").await.ok()?;
        (pending.count() == 0).then_some(())
    })
    .await;
    let _ = stop_tx.send(true);
    task.await.unwrap();
    assert!(acked.is_some(), "the redelivered entry was acknowledged");
    assert_eq!(effects(&consumer_db).await, 1);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_consumer_of_two_topics_applies_each_event_once_and_dead_letters_poison() {
    let redis = TestRedis::create().await;
    two_topics_and_a_poison_event(redis.config()).await;
}

/// One consumer reads two topics in one XREADGROUP; a poison event lands in the dead-letter
/// stream and does not stall the others.
pub async fn two_topics_and_a_poison_event(redis: RedisConfig) {
    let db = TestDatabase::create().await;
    let producer = setup(&db, "producer").await;
    let consumer_db = setup(&db, "consumer").await;
    let handle = RedisHandle::connect(&redis).await.unwrap().unwrap();
    let redis_bus = RedisBus::new(handle.clone(), 10_000);
    let (first, second) = ("test.first", "test.second");
    let dead = format!("{}:dead", redis_bus.stream(second));
    let bus = Bus::Redis(redis_bus);

    let txn = producer.begin().await.unwrap();
    for topic in [first, second, first] {
        enqueue(&txn, event(topic)).await.unwrap();
    }
    enqueue(&txn, NewEvent { topic: second.to_owned(), key: "application-2".to_owned(), payload: POISON.to_vec() })
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(Relay::new(producer.clone(), bus.clone(), RelayOptions::default()).relay_once().await.unwrap(), 4);

    let handler = Arc::new(CountingHandler { calls: AtomicUsize::new(0) });
    let consumer =
        Consumer::new(consumer_db.clone(), bus.clone(), ConsumerOptions::new("consumer", &[first, second]), handler);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(consumer.run(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let mut conn = handle.conn();
    let settled = eventually(Duration::from_secs(10), || {
        let (consumer_db, dead, mut conn) = (&consumer_db, &dead, conn.clone());
        async move {
            let dead_len: usize = conn.xlen(dead).await.ok()?;
            (effects(consumer_db).await == 3 && dead_len == 1).then_some(())
        }
    })
    .await;
    let _ = stop_tx.send(true);
    task.await.unwrap();
    assert!(settled.is_some(), "three events applied and the poison one dead-lettered");
    assert_eq!(effects(&consumer_db).await, 3);
    let dead_entries: redis::streams::StreamRangeReply = conn.xrange_all(&dead).await.unwrap();
    assert_eq!(dead_entries.ids.len(), 1);
    assert_eq!(dead_entries.ids[0].get::<String>("group").as_deref(), Some("consumer"));
}

#[tokio::test]
async fn the_in_process_bus_delivers_each_event_once_per_group() {
    let db = TestDatabase::create().await;
    let producer = setup(&db, "producer").await;
    let consumer_db = setup(&db, "consumer").await;
    let bus = Bus::Local(LocalBus::new());
    let topic = "test.local";
    let txn = producer.begin().await.unwrap();
    enqueue(&txn, event(topic)).await.unwrap();
    txn.commit().await.unwrap();
    let relay = Relay::new(producer.clone(), bus.clone(), RelayOptions::default());
    // Published twice (a relay crash), before the consumer subscribed (replayed to it).
    let batch = relay.fetch_unpublished(&producer, 10).await.unwrap();
    bus.publish(&batch[0].1).await.unwrap();
    relay.relay_once().await.unwrap();

    let handler = Arc::new(CountingHandler { calls: AtomicUsize::new(0) });
    let consumer = Consumer::new(consumer_db.clone(), bus, ConsumerOptions::new("consumer", &[topic]), handler.clone());
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(consumer.run(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));
    let applied =
        eventually(Duration::from_secs(5), || async { (effects(&consumer_db).await == 1).then_some(()) }).await;
    assert!(applied.is_some());
    let _ = stop_tx.send(true);
    task.await.unwrap();
    assert_eq!(handler.calls.load(Ordering::SeqCst), 1);
}

/// Events enqueued together (one statement on PostgreSQL) are each an outbox row of their own,
/// in the given order with the payload's bytes intact, and none of them outlives a rollback;
/// on both backends.
#[tokio::test]
async fn events_enqueued_together_are_relayed_in_order_with_their_bytes_and_rolled_back_with_their_transaction() {
    let db = TestDatabase::create().await;
    let dir = std::env::temp_dir().join(format!("kaigo-outbox-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite_config = kaigo_platform::config::DatabaseConfig {
        url: kaigo_platform::config::Secret::new(format!("sqlite://{}", dir.display())),
        ..kaigo_platform::config::DatabaseConfig::default()
    };
    let sqlite = kaigo_platform::db::connect(&sqlite_config, "outbox").await.unwrap();
    Migrator::up(&sqlite, None).await.unwrap();
    // More than one of SQLite's multi-row statements.
    let events: Vec<NewEvent> = (0..1_203u32)
        .map(|n| NewEvent {
            topic: format!("test.many.{}", n % 2),
            key: format!("aggregate-{n}"),
            payload: match n {
                0 => Vec::new(),
                1 => vec![0, 0xff, b',', b'"', b'\\'],
                _ => n.to_be_bytes().to_vec(),
            },
        })
        .collect();
    for producer in [setup(&db, "producer").await, sqlite] {
        let txn = producer.begin().await.unwrap();
        assert_eq!(enqueue_many(&txn, events.clone()).await.unwrap().len(), events.len());
        txn.rollback().await.unwrap();
        let relay = Relay::new(producer.clone(), Bus::Local(LocalBus::new()), RelayOptions::default());
        assert!(
            relay.fetch_unpublished(&producer, 2_000).await.unwrap().is_empty(),
            "rolled back with its transaction"
        );

        let txn = producer.begin().await.unwrap();
        let ids = enqueue_many(&txn, events.clone()).await.unwrap();
        assert!(enqueue_many(&txn, Vec::new()).await.unwrap().is_empty());
        txn.commit().await.unwrap();
        let stored = relay.fetch_unpublished(&producer, 2_000).await.unwrap();
        assert_eq!(stored.len(), events.len());
        for ((_, stored), (event, id)) in stored.iter().zip(events.iter().zip(&ids)) {
            assert_eq!(
                (&stored.id, &stored.topic, &stored.key, &stored.payload),
                (id, &event.topic, &event.key, &event.payload)
            );
        }
        // Relayed in batches of 500, each marked in one statement (several on SQLite).
        let mut relayed = 0;
        loop {
            match relay.relay_once().await.unwrap() {
                0 => break,
                n => relayed += n,
            }
        }
        assert_eq!(relayed, events.len());
        assert!(relay.fetch_unpublished(&producer, 2_000).await.unwrap().is_empty(), "every row marked");
        producer.close().await.unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kaigo.events.backlog`'s reading: what a group has not acknowledged, undelivered or
/// pending, so a consumer that stops handling shows as a backlog that stays.
#[tokio::test]
async fn the_backlog_of_a_group_counts_undelivered_and_pending_entries_until_acknowledged() {
    let redis = TestRedis::create().await;
    let handle = RedisHandle::connect(&redis.config()).await.unwrap().unwrap();
    let bus = RedisBus::new(handle.clone(), 10_000);
    let topic = "test.backlog";
    assert_eq!(bus.backlog(topic).await.unwrap(), Vec::new(), "no stream, no groups");
    let stream = bus.stream(topic);
    let mut conn = handle.conn();
    for i in 0..3 {
        let _: String = conn.xadd(&stream, "*", &[("n", i)]).await.unwrap();
    }
    let _: () = conn.xgroup_create(&stream, "stalled", "0").await.unwrap();
    let _: () = conn.xgroup_create(&stream, "caught-up", "$").await.unwrap();
    let mut backlog = bus.backlog(topic).await.unwrap();
    backlog.sort();
    assert_eq!(backlog, vec![("caught-up".to_owned(), 0), ("stalled".to_owned(), 3)]);

    // Delivered but not acknowledged: still owed.
    let opts = redis::streams::StreamReadOptions::default().group("stalled", "c1").count(1);
    let read: redis::streams::StreamReadReply = conn.xread_options(&[&stream], &[">"], &opts).await.unwrap();
    let entry = read.keys[0].ids[0].id.clone();
    assert_eq!(
        bus.backlog(topic).await.unwrap().into_iter().find(|(g, _)| g == "stalled"),
        Some(("stalled".into(), 3))
    );
    let _: i64 = conn.xack(&stream, "stalled", &[&entry]).await.unwrap();
    assert_eq!(
        bus.backlog(topic).await.unwrap().into_iter().find(|(g, _)| g == "stalled"),
        Some(("stalled".into(), 2))
    );
}
