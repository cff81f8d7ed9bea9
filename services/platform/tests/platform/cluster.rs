//! The same event paths on a real Redis Cluster (three private primaries), and pub/sub across
//! its nodes.

use std::time::Duration;

use kaigo_platform::events::RedisBus;
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::testkit::{TestRedisCluster, eventually};
use redis::AsyncCommands;

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
