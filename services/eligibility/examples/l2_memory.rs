//! Redis bytes per person in L2: writes N synthetic timelines into a Redis server with the
//! production layout (bucketed hashes), then sums `MEMORY USAGE` over every bucket.
//!
//! `cargo run --release -p kaigo-eligibility --example l2_memory -- redis://127.0.0.1:6390 1000000`
//! Use a private redis-server: the example deletes its own keys (prefix `kaigo_l2mem:`) first
//! and last, and touches nothing else.

use kaigo_eligibility::cache::{Cached, L2, codec};
use kaigo_eligibility::key::PersonKey;
use kaigo_eligibility::seed::generate;
use kaigo_platform::config::{RedisConfig, Secret};
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::redis::RedisHandle;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "redis://127.0.0.1:6390".to_owned());
    let count: u64 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(1_000_000);
    let prefix = "kaigo_l2mem:";
    let config = RedisConfig { url: Secret::new(url), key_prefix: prefix.to_owned(), cluster: false };
    let redis = RedisHandle::connect(&config).await?.ok_or("no redis url")?;
    clear(&redis, prefix).await?;
    // The production default: about 64 persons a bucket.
    let buckets = count.div_ceil(64).max(1);
    let l2 = L2::new(redis.clone(), buckets, std::time::Duration::from_secs(5), None);
    let insurer = InsurerNumber::parse("435073")?;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).ok_or("date")?;
    let mut encoded_bytes = 0usize;
    let mut first = 1u64;
    while first <= count {
        let n = (count - first + 1).min(10_000);
        let mut batch = Vec::with_capacity(n as usize);
        for s in generate(&insurer, first, n, first, today) {
            let key = PersonKey::new(&insurer, &InsuredNumber::parse(&s.person.insured_number)?);
            let timeline = s.timeline();
            // A person without registrations or consents, cached without details (no sealing key).
            let access = kaigo_platform::access::Facts::default();
            encoded_bytes += codec::encode_entry(&timeline, &access).len();
            batch.push((key, Cached { timeline, details: None, access }));
        }
        l2.put_many(&batch).await;
        first += n;
    }
    let mut conn = redis.conn();
    let mut total: u64 = 0;
    let mut keys = 0u64;
    let mut cursor: u64 = 0;
    let mut encodings = std::collections::BTreeMap::<String, u64>::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        for key in batch {
            let bytes: Option<u64> =
                redis::cmd("MEMORY").arg("USAGE").arg(&key).arg("SAMPLES").arg(0).query_async(&mut conn).await?;
            let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg(&key).query_async(&mut conn).await?;
            *encodings.entry(encoding).or_default() += 1;
            total += bytes.unwrap_or(0);
            keys += 1;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    println!("persons: {count}");
    println!("buckets: {keys} (encodings: {encodings:?})");
    println!("encoded timeline bytes per person: {:.1}", encoded_bytes as f64 / count as f64);
    println!("redis MEMORY USAGE per person: {:.1} bytes", total as f64 / count as f64);
    clear(&redis, prefix).await?;
    Ok(())
}

async fn clear(redis: &RedisHandle, prefix: &str) -> Result<(), redis::RedisError> {
    let mut conn = redis.conn();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
        }
        cursor = next;
        if cursor == 0 {
            return Ok(());
        }
    }
}
