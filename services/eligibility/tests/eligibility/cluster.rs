//! The two-tier cache over a real Redis Cluster (three private primaries): the same
//! cross-replica invalidation as on one server, and resubscription after lost connections.

use std::time::Duration;

use kaigo_platform::testkit::{TestDatabase, TestRedisCluster, eventually};
use kaigo_proto::kaigo::common::v1 as common;

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
            record_id: history.records[0].record_id.clone(),
            reason: "entered for the wrong person".into(),
        })
        .await
        .unwrap();
    let seen = eventually(Duration::from_secs(5), || async { level("0000000301").await.is_none().then_some(()) }).await;
    assert!(seen.is_some(), "replica B dropped the voided certification");
    a.stop().await;
    b.stop().await;
}
