//! The two-tier cache across replicas, and Redis failing under load.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kaigo_eligibility::key::PersonKey;
use kaigo_platform::config::{RedisConfig, Secret};
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::testkit::{TestDatabase, TestRedis, eventually};
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;

use crate::support::*;

#[tokio::test]
async fn a_write_through_one_replica_is_seen_through_another_long_before_the_l1_ttl() {
    let redis = TestRedis::create().await;
    let subscribers = |channel: String| async move {
        let client = redis::Client::open(kaigo_platform::testkit::redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let counts: Vec<(String, usize)> =
            redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query_async(&mut conn).await.unwrap();
        counts.iter().map(|(_, n)| n).sum::<usize>()
    };
    a_write_through_one_replica_is_seen_through_another(redis.config(), subscribers).await;
}

/// Two replicas over the Redis of `redis`: B caches a person (L1 and L2), A corrects it, and
/// B answers the new state (L2 deleted, L1 dropped through pub/sub) long before its L1 entry
/// would expire (60 s): the deadline proves the invalidation, not a speed. How fast it is
/// (tens of ms here) is printed, and measured properly in loadtest/.
/// `subscribers(channel)` counts the subscribers of the invalidation channel.
pub async fn a_write_through_one_replica_is_seen_through_another<F, Fut>(redis: RedisConfig, subscribers: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let db = TestDatabase::create().await;
    let a = Server::start(&db, Some(redis.clone())).await;
    let b = Server::start(&db, Some(redis)).await;
    let mut via_a = a.client(insurer(INSURER)).await;
    let mut via_b = b.client(insurer(INSURER)).await;
    let l2 = b.api.cache().l2().unwrap().clone();
    let channel = l2.channel();
    let listening = eventually(Duration::from_secs(10), || {
        let count = subscribers(channel.clone());
        async move { (count.await >= 2).then_some(()) }
    })
    .await;
    assert!(listening.is_some(), "both replicas listen for invalidations");

    let v = create_person(&mut via_a, "0000000300").await;
    let v = certify(&mut via_a, "0000000300", v, common::CareLevel::Care1, date(2025, 4, 1), date(2026, 3, 31)).await;
    // B reads and caches (L1 and L2) the 要介護1 state.
    let level = |r: &pb::EligibilityResult| r.certification.as_ref().map(|c| c.care_level);
    assert_eq!(level(&check(&mut via_b, "0000000300", date(2025, 6, 1)).await), Some(common::CareLevel::Care1 as i32));
    assert_eq!(level(&check(&mut via_b, "0000000300", date(2025, 6, 1)).await), Some(common::CareLevel::Care1 as i32));
    let person = PersonKey::new(&InsurerNumber::parse(INSURER).unwrap(), &InsuredNumber::parse("0000000300").unwrap());
    // A value a check can be answered from: the field may also hold a tombstone (the
    // writes' events leave one at each write's version), which answers nothing.
    let in_l2 = || {
        let l2 = l2.clone();
        async move { l2.get(&person).await.is_some() }
    };
    // A Redis Cluster that has just formed may still refuse the fill (best effort, then a
    // rest period): read again past B's L1 until the fill lands, within a deadline.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !in_l2().await {
        assert!(Instant::now() < deadline, "B's read filled L2");
        b.api.cache().invalidate_local(&person).await;
        check(&mut via_b, "0000000300", date(2025, 6, 1)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A corrects the level; B must see it without waiting for its TTL.
    let record_id = via_a
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000300".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .records
        .into_iter()
        .find(|r| r.kind == pb::RecordKind::Certification as i32)
        .unwrap()
        .record_id;
    let written = Instant::now();
    via_a
        .correct_record(pb::CorrectRecordRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000000300".into(),
            expected_version: v,
            record_id,
            reason: String::new(),
            replacement: Some(pb::correct_record_request::Replacement::Certification(pb::CertificationPeriod {
                care_level: common::CareLevel::Care4 as i32,
                certified_date: Some(date(2025, 4, 1)),
                validity: period(date(2025, 4, 1), Some(date(2026, 3, 31))),
                ..Default::default()
            })),
        })
        .await
        .unwrap();
    // The write deleted the person's L2 value before it answered.
    assert!(!in_l2().await, "the write removed the L2 value");
    let seen = eventually(Duration::from_secs(10), || {
        let mut client = via_b.clone();
        async move {
            let r = check(&mut client, "0000000300", date(2025, 6, 1)).await;
            (r.certification.map(|c| c.care_level) == Some(common::CareLevel::Care4 as i32)).then_some(())
        }
    })
    .await;
    println!("replica B saw the change {:?} after the write returned", written.elapsed());
    assert!(seen.is_some(), "replica B still answers the old level 10 s after the write: no invalidation arrived");
    a.stop().await;
    b.stop().await;
}

/// A private redis-server on its own port, for fault tests (the shared one is never touched).
pub(crate) struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub(crate) fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        Self { port, child: Some(child) }
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn config(&self) -> RedisConfig {
        RedisConfig {
            url: Secret::new(format!("redis://127.0.0.1:{}", self.port)),
            key_prefix: "kaigo_fault:".into(),
            cluster: false,
        }
    }

    pub(crate) async fn wait_ready(&self) {
        let url = format!("redis://127.0.0.1:{}", self.port);
        let ready = eventually(Duration::from_secs(10), || {
            let url = url.clone();
            async move {
                let client = redis::Client::open(url).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
                (pong == "PONG").then_some(())
            }
        })
        .await;
        assert!(ready.is_some(), "private redis-server did not start");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn redis_stopped_and_restarted_under_load_fails_no_check() {
    let port = kaigo_platform::testkit::free_port();
    let mut redis = PrivateRedis::start(port);
    redis.wait_ready().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    for n in 1..=20 {
        let insured = format!("{n:010}");
        let v = create_person(&mut municipality, &insured).await;
        certify(&mut municipality, &insured, v, common::CareLevel::Care2, date(2025, 4, 1), date(2026, 3, 31)).await;
    }

    // Load: four clients checking continuously; every answer must be ELIGIBLE.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let mut client = server.client(insurer(INSURER)).await;
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u64, 0u64);
            let mut n = w;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let insured = format!("{:010}", n % 20 + 1);
                n += 1;
                let answer = client
                    .check_eligibility(pb::CheckEligibilityRequest {
                        insurer_number: INSURER.into(),
                        insured_number: insured,
                        as_of: Some(date(2025, 6, 1)),
                        ..Default::default()
                    })
                    .await;
                match answer {
                    Ok(r)
                        if r.get_ref().result.as_ref().map(|r| r.verdict)
                            == Some(pb::EligibilityVerdict::Eligible as i32) =>
                    {
                        ok += 1
                    }
                    _ => failed += 1,
                }
            }
            (ok, failed)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.kill();
    // Persons beyond the L1 working set force database reads while Redis is down.
    server.api.cache().invalidate_all_local();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut restarted = PrivateRedis::start(port);
    restarted.wait_ready().await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, 0);
    for worker in workers {
        let (o, f) = worker.await.unwrap();
        ok += o;
        failed += f;
    }
    println!("checks during the outage test: {ok} answered, {failed} failed");
    assert_eq!(failed, 0);
    assert!(ok > 100);

    // Recovered: L2 is written again once Redis is back.
    let filled = eventually(Duration::from_secs(5), || {
        let url = format!("redis://127.0.0.1:{port}");
        let cache = server.api.cache().clone();
        let mut client = municipality.clone();
        async move {
            cache.invalidate_all_local();
            check(&mut client, "0000000001", date(2025, 6, 1)).await;
            let redis = redis::Client::open(url).ok()?;
            let mut conn = redis.get_multiplexed_async_connection().await.ok()?;
            let keys: Vec<String> = redis::cmd("KEYS").arg("kaigo_fault:elig:b:*").query_async(&mut conn).await.ok()?;
            (!keys.is_empty()).then_some(())
        }
    })
    .await;
    assert!(filled.is_some(), "L2 recovered by itself");
    server.stop().await;
    restarted.kill();
}
