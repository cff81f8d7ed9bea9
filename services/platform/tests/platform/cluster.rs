//! The same event paths on a real Redis Cluster (three private primaries), pub/sub across its
//! nodes, and the event streams through a primary's failover (three primaries with a replica
//! each).

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use kaigo_platform::events::{Consumer, ConsumerOptions, RedisBus, Relay, RelayOptions, enqueue};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::testkit::{TestRedisCluster, eventually};
use redis::AsyncCommands;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};

use crate::events;

#[tokio::test]
async fn on_a_cluster_committed_events_take_effect_exactly_once() {
    let cluster = TestRedisCluster::start().await;
    events::exactly_once_through_the_relay_and_a_consumer_group(cluster.config()).await;
}

#[tokio::test]
async fn on_a_cluster_a_redelivered_event_is_skipped() {
    let cluster = TestRedisCluster::start().await;
    events::a_redelivered_event_is_skipped(cluster.config()).await;
}

#[tokio::test]
async fn on_a_cluster_one_consumer_reads_two_topics_and_dead_letters_poison() {
    let cluster = TestRedisCluster::start().await;
    events::two_topics_and_a_poison_event(cluster.config()).await;
}

#[tokio::test]
async fn on_a_cluster_streams_are_trimmed_only_below_what_every_group_has_read() {
    let cluster = TestRedisCluster::start().await;
    crate::stream_trim::trimmed_only_below_what_every_group_has_read(cluster.config()).await;
}

#[tokio::test]
async fn on_a_cluster_every_stream_shares_one_slot_and_other_keys_spread() {
    let cluster = TestRedisCluster::start().await;
    let handle = RedisHandle::connect(&cluster.config()).await.unwrap().unwrap();
    assert!(handle.is_cluster());
    let bus = RedisBus::new(handle.clone(), 100);
    let mut conn = handle.conn();
    let slot = |key: String| {
        let mut conn = conn.clone();
        async move { redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query_async::<u16>(&mut conn).await.unwrap() }
    };
    let streams = [bus.stream("a.b"), bus.stream("c.d"), format!("{}:dead", bus.stream("a.b"))];
    let first = slot(streams[0].clone()).await;
    for stream in &streams {
        assert!(stream.starts_with(&format!("{{{}events}}", cluster.prefix())), "{stream}");
        assert_eq!(slot(stream.clone()).await, first, "{stream}");
    }
    // Plain keys are not tagged: they spread over the nodes.
    let mut slots = std::collections::HashSet::new();
    for n in 0..64 {
        slots.insert(slot(handle.key(&format!("plain:{n}"))).await);
    }
    assert!(slots.len() > 32, "plain keys hash to many slots");
    // Commands reach whichever node owns the key.
    for n in 0..64 {
        let _: () = conn.set(handle.key(&format!("plain:{n}")), n).await.unwrap();
    }
    let mut holding = 0;
    for url in cluster.urls() {
        let mut node = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
        let keys: usize = redis::cmd("DBSIZE").query_async(&mut node).await.unwrap();
        holding += usize::from(keys > 0);
    }
    assert_eq!(holding, 3, "every primary holds some of the keys");
}

#[tokio::test]
async fn on_a_cluster_a_subscriber_hears_publishes_and_ends_when_its_connection_is_lost() {
    let cluster = TestRedisCluster::start().await;
    let handle = RedisHandle::connect(&cluster.config()).await.unwrap().unwrap();
    let channel = handle.key("signals");
    let mut subscription = handle.subscribe(&channel).await.unwrap();
    assert_eq!(cluster.subscribers(&channel).await, 1);

    // Published through the cluster connection (routed by the channel's slot) and through
    // each node directly: PUBLISH reaches subscribers on every node.
    let mut conn = handle.conn();
    let _: i64 = conn.publish(&channel, "via-cluster").await.unwrap();
    let mut expected = vec!["via-cluster".to_owned()];
    for (n, url) in cluster.urls().into_iter().enumerate() {
        let mut node = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
        let _: i64 = node.publish(&channel, format!("via-node-{n}")).await.unwrap();
        expected.push(format!("via-node-{n}"));
    }
    let mut heard = Vec::new();
    for _ in 0..expected.len() {
        let message = tokio::time::timeout(Duration::from_secs(5), subscription.next_message())
            .await
            .expect("a message within 5 s")
            .expect("still subscribed");
        assert_eq!(message.get_channel_name(), channel);
        heard.push(message.get_payload::<String>().unwrap());
    }
    // Messages from other nodes travel over the cluster bus: each arrives, in no fixed order.
    heard.sort();
    expected.sort();
    assert_eq!(heard, expected);

    // A lost connection ends the subscription, so the caller knows it may have missed some.
    cluster.kill_subscribers().await;
    let ended =
        tokio::time::timeout(Duration::from_secs(10), async { while subscription.next_message().await.is_some() {} })
            .await;
    assert!(ended.is_ok(), "the subscription ended after its connection was killed");
    drop(subscription);
    let gone =
        eventually(Duration::from_secs(5), || async { (cluster.subscribers(&channel).await == 0).then_some(()) });
    assert!(gone.await.is_some(), "dropping the subscription closed its connections");
}

/// A primary of a 3 + 3 cluster killed with SIGKILL while the relay publishes and two
/// consumers of one group apply: the primary serving the streams' slot is the one killed, so
/// both the relay and the consumers lose their node in the middle. Every event, committed
/// before, during or after the failover, takes effect exactly once.
#[tokio::test]
async fn on_a_cluster_with_replicas_events_survive_a_killed_primary_exactly_once() {
    let cluster = TestRedisCluster::start_with_replicas().await;
    let db = kaigo_platform::testkit::TestDatabase::create().await;
    let producer = events::setup(&db, "producer").await;
    let consumer_db = events::setup(&db, "consumer").await;
    let handle = RedisHandle::connect(&cluster.config()).await.unwrap().unwrap();
    let topic = "test.failover";
    let redis_bus = RedisBus::new(handle.clone(), 10_000);
    let stream = redis_bus.stream(topic);
    let bus = kaigo_platform::events::Bus::Redis(redis_bus);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let relay = Relay::new(producer.clone(), bus.clone(), RelayOptions::default());
    let waker = relay.waker();
    let mut tasks = vec![tokio::spawn(relay.run(stopped(stop_rx.clone())))];
    let handler = Arc::new(events::CountingHandler { calls: AtomicUsize::new(0) });
    for replica in ["replica-a", "replica-b"] {
        let mut options = ConsumerOptions::new("consumer", &[topic]);
        options.consumer = replica.to_owned();
        let consumer = Consumer::new(consumer_db.clone(), bus.clone(), options, handler.clone());
        tasks.push(tokio::spawn(consumer.run(stopped(stop_rx.clone()))));
    }

    let mut ids = Vec::new();
    let commit = |n: usize| {
        let (producer, waker) = (producer.clone(), waker.clone());
        async move {
            let mut ids = Vec::new();
            for _ in 0..n {
                let txn = producer.begin().await.unwrap();
                ids.push(enqueue(&txn, events::event(topic)).await.unwrap());
                txn.commit().await.unwrap();
                waker.notify_one();
            }
            ids
        }
    };
    let applied = |n: i64| {
        let consumer_db = consumer_db.clone();
        async move {
            eventually(Duration::from_secs(20), || async { (events::effects(&consumer_db).await >= n).then_some(()) })
                .await
        }
    };

    // Before: published and applied on the healthy cluster.
    ids.extend(commit(20).await);
    assert!(applied(20).await.is_some(), "the first events applied before the kill");

    // During: the streams' primary dies; events keep being committed meanwhile.
    let killed = cluster.kill_primary_of(&stream).await;
    ids.extend(commit(20).await);
    let promoted = cluster.wait_promoted(&stream, Duration::from_secs(30)).await;
    let promoted = promoted.expect("the replica took over the streams' slot");
    assert_ne!(promoted, killed);

    // After: the same relay and consumers carry on against the promoted replica.
    ids.extend(commit(20).await);
    assert!(applied(60).await.is_some(), "every event applied after the failover");
    let unpublished = Relay::new(producer.clone(), bus.clone(), RelayOptions::default())
        .fetch_unpublished(&producer, 100)
        .await
        .unwrap();
    assert!(unpublished.is_empty(), "the relay published every committed event");
    let _ = stop_tx.send(true);
    for task in tasks {
        task.await.unwrap();
    }

    // Exactly once: one effect per committed event, none missing, none twice.
    let rows = consumer_db
        .query_all_raw(Statement::from_string(
            consumer_db.get_database_backend(),
            "SELECT event_id, COUNT(*) AS n FROM effects GROUP BY event_id",
        ))
        .await
        .unwrap();
    let mut effects: Vec<(String, i64)> =
        rows.iter().map(|row| (row.try_get("", "event_id").unwrap(), row.try_get("", "n").unwrap())).collect();
    effects.sort();
    let mut expected: Vec<(String, i64)> = ids.iter().map(|id| (id.clone(), 1)).collect();
    expected.sort();
    assert_eq!(effects, expected, "each committed event took effect exactly once");
}
