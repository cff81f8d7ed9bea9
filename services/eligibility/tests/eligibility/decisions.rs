//! `certification.decided` from the certification service becomes a period here.

use std::time::{Duration, Instant};

use kaigo_platform::events::{Bus, EventTablesMigration, NewEvent, RedisBus, Relay, RelayOptions, enqueue};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::testkit::{TestDatabase, TestRedis, eventually};
use kaigo_proto::kaigo::certification::v1::CertificationDecidedEvent;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use prost::Message;
use sea_orm::TransactionTrait;
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::support::*;

struct ProducerMigrator;

impl MigratorTrait for ProducerMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(EventTablesMigration)]
    }
}

fn decided(
    application: &str,
    level: common::CareLevel,
    start: (i32, i32, i32),
    end: (i32, i32, i32),
) -> CertificationDecidedEvent {
    CertificationDecidedEvent {
        application_id: application.into(),
        insurer_number: INSURER.into(),
        insured_number: "0000000400".into(),
        care_level: level as i32,
        certified_date: Some(date(start.0, start.1, start.2)),
        validity: period(date(start.0, start.1, start.2), Some(date(end.0, end.1, end.2))),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_decision_reaches_check_eligibility_once_even_if_published_twice() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut client = server.client(insurer(INSURER)).await;
    create_person(&mut client, "0000000400").await;

    // The certification service's side: its own schema, outbox and relay.
    let producer = kaigo_platform::db::connect(&db.config(), "certification").await.unwrap();
    ProducerMigrator::up(&producer, None).await.unwrap();
    let bus = Bus::Redis(RedisBus::new(RedisHandle::connect(&redis.config()).await.unwrap().unwrap(), 10_000));
    let relay = Relay::new(producer.clone(), bus.clone(), RelayOptions::default());
    let publish = |event: CertificationDecidedEvent| {
        let producer = producer.clone();
        async move {
            let txn = producer.begin().await.unwrap();
            enqueue(
                &txn,
                NewEvent {
                    topic: "certification.decided".into(),
                    key: event.application_id.clone(),
                    payload: event.encode_to_vec(),
                },
            )
            .await
            .unwrap();
            txn.commit().await.unwrap();
        }
    };

    publish(decided("app-1", common::CareLevel::Care2, (2025, 4, 1), (2026, 3, 31))).await;
    // Published twice, as after a relay crash between publishing and marking.
    let batch = relay.fetch_unpublished(&producer, 10).await.unwrap();
    bus.publish(&batch[0].1).await.unwrap();
    let published = Instant::now();
    relay.relay_once().await.unwrap();
    let level_on = |day: (i32, i32, i32)| {
        let mut client = client.clone();
        async move { check(&mut client, "0000000400", date(day.0, day.1, day.2)).await.certification.map(|c| c.care_level) }
    };
    let seen = eventually(Duration::from_secs(1), || async {
        (level_on((2025, 6, 1)).await == Some(common::CareLevel::Care2 as i32)).then_some(())
    })
    .await;
    println!("decision visible through CheckEligibility {:?} after publishing", published.elapsed());
    assert!(seen.is_some(), "the decided level is not visible within 1 s");

    // 区分変更 decided mid-period: the old period ends the day before the new one starts.
    publish(decided("app-2", common::CareLevel::Care4, (2025, 10, 1), (2026, 3, 31))).await;
    relay.relay_once().await.unwrap();
    let changed = eventually(Duration::from_secs(1), || async {
        (level_on((2025, 10, 1)).await == Some(common::CareLevel::Care4 as i32)).then_some(())
    })
    .await;
    assert!(changed.is_some());
    assert_eq!(level_on((2025, 9, 30)).await, Some(common::CareLevel::Care2 as i32));

    let history = client
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000400".into(),
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.records.len(), 2, "one record per decision, despite the duplicate delivery");
    server.stop().await;
}
