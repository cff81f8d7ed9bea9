//! The event streams trimmed on real Redis: never an entry a consumer group has not read and
//! acknowledged; read entries by age and by count.

use std::time::Duration;

use kaigo_platform::config::RedisConfig;
use kaigo_platform::events::{Bus, Event, RedisBus};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::retention::{RetentionConfig, trim_streams};
use kaigo_platform::testkit::TestRedis;
use redis::AsyncCommands;
use redis::streams::{StreamRangeReply, StreamReadOptions, StreamReadReply};

fn event(topic: &str, n: usize) -> Event {
    Event {
        id: format!("00000000-0000-0000-0000-{n:012}"),
        topic: topic.to_owned(),
        key: "k".to_owned(),
        payload: vec![1],
        trace: vec![],
        created_at: chrono::Utc::now(),
    }
}

/// The ids left in `stream`.
async fn ids(conn: &mut kaigo_platform::redis::RedisConnection, stream: &str) -> Vec<String> {
    let reply: StreamRangeReply = conn.xrange_all(stream).await.unwrap();
    reply.ids.into_iter().map(|e| e.id).collect()
}

/// `group` reads up to `count` new entries; returns their ids.
async fn read(
    conn: &mut kaigo_platform::redis::RedisConnection,
    stream: &str,
    group: &str,
    count: usize,
) -> Vec<String> {
    let options = StreamReadOptions::default().group(group, "c1").count(count);
    let reply: StreamReadReply = conn.xread_options(&[stream], &[">"], &options).await.unwrap();
    reply.keys.into_iter().flat_map(|k| k.ids).map(|e| e.id).collect()
}

#[tokio::test]
async fn streams_are_trimmed_only_below_what_every_group_has_read() {
    let redis = TestRedis::create().await;
    trimmed_only_below_what_every_group_has_read(redis.config()).await;
}

/// The trims against the Redis of `redis` (one server or a cluster).
pub async fn trimmed_only_below_what_every_group_has_read(redis: RedisConfig) {
    let handle = RedisHandle::connect(&redis).await.unwrap().unwrap();
    // At most 4 entries once everything is read.
    let redis_bus = RedisBus::new(handle.clone(), 4);
    let bus = Bus::Redis(redis_bus.clone());
    let topic = "test.trimmed";
    let stream = redis_bus.stream(topic);
    let mut conn = handle.conn();
    // A stream no group reads (published first, so its entry is older than the trims below).
    let lonely = RedisBus::new(handle.clone(), 0);
    Bus::Redis(lonely.clone()).publish(&event("test.unread", 1)).await.unwrap();
    for group in ["fast", "slow", "idle"] {
        let _: () = conn.xgroup_create_mkstream(&stream, group, "0").await.unwrap();
    }
    for n in 0..10 {
        bus.publish(&event(topic, n)).await.unwrap();
    }
    assert_eq!(redis_bus.published_topics(), [topic]);
    let all = ids(&mut conn, &stream).await;
    assert_eq!(all.len(), 10, "publishing trims nothing");
    let everything_old = Duration::ZERO;

    // A group that has read nothing holds back everything, however old.
    assert_eq!(redis_bus.trim(topic, everything_old).await.unwrap(), 0);
    let _: () = redis::cmd("XGROUP").arg("DESTROY").arg(&stream).arg("idle").query_async(&mut conn).await.unwrap();

    // `fast` has read 6 and acknowledged the first 4 (entries 4 and 5 pending); `slow` has read
    // and acknowledged 3.
    let fast = read(&mut conn, &stream, "fast", 6).await;
    let _: i64 = conn.xack(&stream, "fast", &fast[..4]).await.unwrap();
    let slow = read(&mut conn, &stream, "slow", 3).await;
    let _: i64 = conn.xack(&stream, "slow", &slow).await.unwrap();
    // Below `slow`'s last delivered entry only: the count bound does not apply while anything
    // is unread.
    assert_eq!(redis_bus.trim(topic, everything_old).await.unwrap(), 2);
    assert_eq!(ids(&mut conn, &stream).await, all[2..]);

    // `slow` catches up; `fast`'s oldest pending entry (4) now holds the stream back.
    let rest = read(&mut conn, &stream, "slow", 100).await;
    let _: i64 = conn.xack(&stream, "slow", &rest).await.unwrap();
    assert_eq!(redis_bus.trim(topic, everything_old).await.unwrap(), 2);
    assert_eq!(ids(&mut conn, &stream).await, all[4..]);

    // Everything read and acknowledged, all of it recent: kept by age (72 h), bounded by count.
    let _: i64 = conn.xack(&stream, "fast", &fast[4..]).await.unwrap();
    let rest = read(&mut conn, &stream, "fast", 100).await;
    let _: i64 = conn.xack(&stream, "fast", &rest).await.unwrap();
    trim_streams(&redis_bus, &RetentionConfig::default(), "kit").await;
    assert_eq!(ids(&mut conn, &stream).await, all[6..]);
    // The groups still see their positions and nothing left to read.
    let groups = redis_bus.backlog(topic).await.unwrap();
    assert_eq!(groups, [("fast".to_owned(), 0), ("slow".to_owned(), 0)]);

    // A stream no group reads is trimmed by age alone.
    assert_eq!(lonely.trim("test.unread", Duration::from_secs(3600)).await.unwrap(), 0);
    assert_eq!(lonely.trim("test.unread", everything_old).await.unwrap(), 1);
    // A stream that does not exist is nothing to trim.
    assert_eq!(lonely.trim("test.never", everything_old).await.unwrap(), 0);
}
