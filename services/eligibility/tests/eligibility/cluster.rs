//! The two-tier cache over a real Redis Cluster (three private primaries): the same
//! cross-replica invalidation as on one server, resubscription after lost connections, and
//! checks under load while a primary of a cluster with replicas is killed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kaigo_eligibility::key::PersonKey;
use kaigo_eligibility::store::write::CHANGED_TOPIC;
use kaigo_platform::events::RedisBus;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::testkit::{TestDatabase, TestRedisCluster, eventually};
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use redis::AsyncCommands;

use crate::cache;
use crate::support::*;

#[tokio::test]
async fn on_a_cluster_a_write_through_one_replica_is_seen_through_another() {
    let cluster = TestRedisCluster::start().await;
    let subscribers = |channel: String| {
        let cluster = &cluster;
        async move { cluster.subscribers(&channel).await }
    };
    cache::a_write_through_one_replica_is_seen_through_another(cluster.config(), subscribers).await;
}

#[tokio::test]
async fn on_a_cluster_replicas_resubscribe_after_losing_the_channel_and_invalidate_again() {
    let cluster = TestRedisCluster::start().await;
    let db = TestDatabase::create().await;
    let a = Server::start(&db, Some(cluster.config())).await;
    let b = Server::start(&db, Some(cluster.config())).await;
    let channel = b.api.cache().l2().unwrap().channel();
    let both = || async { (cluster.subscribers(&channel).await >= 2).then_some(()) };
    assert!(eventually(Duration::from_secs(10), both).await.is_some(), "both replicas listen");

    // Every node drops its pub/sub connections; both listeners notice, clear L1 and
    // subscribe again.
    cluster.kill_subscribers().await;
    assert!(eventually(Duration::from_secs(10), both).await.is_some(), "both replicas listen again");

    let mut via_a = a.client(insurer(INSURER)).await;
    let via_b = b.client(insurer(INSURER)).await;
    let v = create_person(&mut via_a, "0000000301").await;
    let v = certify(&mut via_a, "0000000301", v, common::CareLevel::Care2, date(2025, 4, 1), date(2026, 3, 31)).await;
    let level = |insured| {
        let mut client = via_b.clone();
        async move { check(&mut client, insured, date(2025, 6, 1)).await.certification.map(|c| c.care_level) }
    };
    assert_eq!(level("0000000301").await, Some(common::CareLevel::Care2 as i32));
    // A closes the certification; B's cached 要介護2 is dropped through the new subscription.
    // (B's L1 lifetime is 60 s: only the invalidation can make it answer otherwise in time.)
    let history = via_a
        .get_eligibility_history(kaigo_proto::kaigo::eligibility::v1::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000301".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    via_a
        .void_record(kaigo_proto::kaigo::eligibility::v1::VoidRecordRequest {
            request_id: rid(),
            insurer_number: INSURER.into(),
            insured_number: "0000000301".into(),
            expected_version: v,
            record_id: periods(history.records)[0].record_id.clone(),
            reason: "entered for the wrong person".into(),
        })
        .await
        .unwrap();
    let seen = eventually(Duration::from_secs(5), || async { level("0000000301").await.is_none().then_some(()) }).await;
    assert!(seen.is_some(), "replica B dropped the voided certification");
    a.stop().await;
    b.stop().await;
}

/// What the load of [`on_a_cluster_with_replicas_checks_never_fail_while_a_primary_is_killed`]
/// saw, by phase of the failover.
#[derive(Default)]
struct Load {
    /// 0 before the kill, 1 until a replica took over, 2 after.
    phase: AtomicUsize,
    answered: [AtomicUsize; 3],
    failed: tokio::sync::Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// Two eligibility servers over a 3 + 3 cluster and PostgreSQL answer a steady stream of
/// CheckEligibility calls while a primary dies (SIGKILL) and its replica takes over: no call
/// fails (L1 and the database answer while the slots move), and writes made meanwhile, whose
/// L2 entries sit on the killed node, are seen through both servers afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_with_replicas_checks_never_fail_while_a_primary_is_killed() {
    let cluster = TestRedisCluster::start_with_replicas().await;
    let db = TestDatabase::create().await;
    // Production's L2 timeout (250 ms): a Redis operation gives up long before a failover
    // ends (here the node timeout is 1 s; in production 15 s), so the outbox consumer's first
    // invalidation of a write made meanwhile fails and has to be retried.
    let config = kaigo_eligibility::Config::default();
    assert!(config.l2_timeout_ms < 1_000);
    let a = Server::start_with(&db, cluster.config(), &config).await;
    let b = Server::start_with(&db, cluster.config(), &config).await;
    let l2 = a.api.cache().l2().unwrap().clone();
    let channel = l2.channel();
    let listening = || async { (cluster.subscribers(&channel).await >= 2).then_some(()) };
    assert!(eventually(Duration::from_secs(10), listening).await.is_some(), "both servers listen");

    // The primary to kill: the one with the invalidation channel (the servers lose their
    // subscriptions), unless it also carries the event streams; then another. Either way the
    // outbox consumer keeps running while the killed node's buckets are unreachable, which is
    // the case where a write's invalidation could be lost.
    let streams = RedisBus::new(l2.redis().clone(), 10).stream(CHANGED_TOPIC);
    let events_node = cluster.primary_of(&streams).await.unwrap();
    let key_of = |insured: &str| {
        PersonKey::new(&InsurerNumber::parse(INSURER).unwrap(), &InsuredNumber::parse(insured).unwrap())
    };
    let candidates: Vec<String> = (0..60).map(|n| format!("00000{:05}", 9100 + n)).collect();
    let mut owners = Vec::new();
    for insured in &candidates {
        owners.push(cluster.primary_of(&l2.bucket_key(&key_of(insured))).await.unwrap());
    }
    let channel_node = cluster.primary_of(&channel).await.unwrap();
    let (doomed_key, doomed_node) = if channel_node != events_node {
        (channel.clone(), channel_node)
    } else {
        let at = owners.iter().position(|o| *o != events_node).unwrap();
        (l2.bucket_key(&key_of(&candidates[at])), owners[at].clone())
    };
    let on_doomed: Vec<&String> =
        candidates.iter().zip(&owners).filter(|(_, o)| **o == doomed_node).map(|(c, _)| c).collect();
    let elsewhere: Vec<&String> =
        candidates.iter().zip(&owners).filter(|(_, o)| **o != doomed_node).map(|(c, _)| c).collect();
    assert!(on_doomed.len() >= 6 && elsewhere.len() >= 5, "60 persons spread over the three primaries");
    // Three persons on the killed node and one elsewhere are written during the failover; they
    // are left out of the load, so no reload from the database refreshes their L2 entries and
    // only the invalidations can change them.
    let written: Vec<String> = on_doomed[..3].iter().chain(&elsewhere[..1]).map(|s| (*s).clone()).collect();
    let persons: Vec<String> = on_doomed[3..6].iter().chain(&elsewhere[1..5]).map(|s| (*s).clone()).collect();

    let mut via_a = a.client(insurer(INSURER)).await;
    let mut via_b = b.client(insurer(INSURER)).await;
    let mut versions = std::collections::HashMap::new();
    for insured in persons.iter().chain(&written) {
        let v = create_person(&mut via_a, insured).await;
        let v = certify(&mut via_a, insured, v, common::CareLevel::Care2, date(2025, 4, 1), date(2026, 3, 31)).await;
        versions.insert(insured.clone(), v);
    }
    // The outbox consumer repeats each write's invalidation: let it finish before warming.
    let outbox = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    changed_events_handled(&outbox, l2.redis(), "the writes' events were handled").await;
    for insured in persons.iter().chain(&written) {
        // Warm both servers' L1 and L2.
        assert!(check(&mut via_a, insured, date(2025, 6, 1)).await.certification.is_some());
        assert!(check(&mut via_b, insured, date(2025, 6, 1)).await.certification.is_some());
    }
    let mut records = std::collections::HashMap::new();
    let mut cached = std::collections::HashMap::new();
    let mut redis = l2.redis().conn();
    for insured in &written {
        let key = key_of(insured);
        let entry: Option<Vec<u8>> = redis.hget(l2.bucket_key(&key), key.as_bytes().as_slice()).await.unwrap();
        cached.insert(insured.clone(), entry.expect("the warm-up cached the person in L2"));
        let history = via_a
            .get_eligibility_history(pb::GetEligibilityHistoryRequest {
                insurer_number: INSURER.into(),
                insured_number: insured.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        records.insert(insured.clone(), periods(history.records)[0].record_id.clone());
    }

    // The load: six callers, half through each server, each over every person in turn.
    let load = Arc::new(Load::default());
    let mut callers = Vec::new();
    for n in 0..6 {
        let mut client = if n % 2 == 0 { via_a.clone() } else { via_b.clone() };
        let (load, persons) = (load.clone(), persons.clone());
        callers.push(tokio::spawn(async move {
            while !load.stop.load(Ordering::SeqCst) {
                for insured in &persons {
                    let request = pb::CheckEligibilityRequest {
                        insurer_number: INSURER.into(),
                        insured_number: insured.clone(),
                        as_of: Some(date(2025, 6, 1)),
                        ..Default::default()
                    };
                    let phase = load.phase.load(Ordering::SeqCst);
                    match client.check_eligibility(request).await {
                        Ok(_) => {
                            load.answered[phase].fetch_add(1, Ordering::SeqCst);
                        }
                        Err(status) => {
                            load.failed.lock().await.push(format!("{:?}: {}", status.code(), status.message()))
                        }
                    }
                }
            }
        }));
    }
    let answered = |phase: usize, n: usize| {
        let load = load.clone();
        async move {
            eventually(Duration::from_secs(30), || async {
                (load.answered[phase].load(Ordering::SeqCst) >= n).then_some(())
            })
            .await
        }
    };
    assert!(answered(0, 200).await.is_some(), "the load runs before the kill");

    // SIGKILL; the writes follow at once, while the node's slots have no live primary.
    let killed = cluster.kill_primary_of(&doomed_key).await;
    load.phase.store(1, Ordering::SeqCst);
    for insured in &written {
        via_a
            .void_record(pb::VoidRecordRequest {
                request_id: rid(),
                insurer_number: INSURER.into(),
                insured_number: insured.clone(),
                expected_version: versions[insured],
                record_id: records[insured].clone(),
                reason: "entered for the wrong person".into(),
            })
            .await
            .unwrap();
    }
    let promoted = cluster.wait_promoted(&doomed_key, Duration::from_secs(30)).await;
    load.phase.store(2, Ordering::SeqCst);
    let promoted = promoted.expect("a replica took over the killed primary's slots");
    assert_ne!(promoted, killed);
    assert!(answered(2, 200).await.is_some(), "the load goes on after the failover");

    // L2 on the promoted replica no longer holds the entries cached before the writes (L2 has
    // no expiry: only the outbox consumer's retried invalidation can change them, since no one
    // reads these persons meanwhile).
    for insured in &written {
        let key = key_of(insured);
        let replaced = eventually(Duration::from_secs(20), || {
            let (mut redis, bucket) = (redis.clone(), l2.bucket_key(&key));
            let old = &cached[insured];
            async move {
                let now: Option<Vec<u8>> = redis.hget(bucket, key.as_bytes().as_slice()).await.ok()?;
                (now.as_ref() != Some(old)).then_some(())
            }
        })
        .await;
        assert!(replaced.is_some(), "the old L2 entry of a person written during the failover is gone");
    }
    // And both servers answer the writes (L1 lives 60 s: only the invalidations reach it).
    for insured in &written {
        for client in [&via_a, &via_b] {
            let seen = eventually(Duration::from_secs(20), || {
                let mut client = client.clone();
                async move { check(&mut client, insured, date(2025, 6, 1)).await.certification.is_none().then_some(()) }
            })
            .await;
            assert!(seen.is_some(), "the voided certification is gone through both servers");
        }
    }
    for insured in persons.iter().filter(|p| !written.contains(p)) {
        assert!(
            check(&mut via_b, insured, date(2025, 6, 1)).await.certification.is_some(),
            "untouched persons keep theirs"
        );
    }

    load.stop.store(true, Ordering::SeqCst);
    for caller in callers {
        caller.await.unwrap();
    }
    let failed = load.failed.lock().await.clone();
    let counts: Vec<usize> = load.answered.iter().map(|n| n.load(Ordering::SeqCst)).collect();
    eprintln!("checks answered before / during / after the failover: {counts:?}; failed: {}", failed.len());
    assert!(failed.is_empty(), "no check failed: {failed:?}");
    assert!(counts[1] > 0, "checks were answered while the slots had no primary");
    a.stop().await;
    b.stop().await;
}
