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
    assert_eq!(periods(history.records).len(), 2, "one record per decision, despite the duplicate delivery");
    server.stop().await;
}

/// 非該当 has no validity period and 事業対象者 no fixed end (docs/domain/certification.md#no-validity):
/// both decisions become open periods, and a later certification ends them.
#[tokio::test]
async fn decisions_without_a_fixed_validity_become_open_periods() {
    let db = TestDatabase::create().await;
    let redis = TestRedis::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insured = "0000000401";
    create_person(&mut client, insured).await;

    let producer = kaigo_platform::db::connect(&db.config(), "certification").await.unwrap();
    ProducerMigrator::up(&producer, None).await.unwrap();
    let bus = Bus::Redis(RedisBus::new(RedisHandle::connect(&redis.config()).await.unwrap().unwrap(), 10_000));
    let relay = Relay::new(producer.clone(), bus.clone(), RelayOptions::default());
    let publish = |event: CertificationDecidedEvent| {
        let (producer, relay) = (producer.clone(), &relay);
        async move {
            let txn = producer.begin().await.unwrap();
            let payload = event.encode_to_vec();
            let new = NewEvent { topic: "certification.decided".into(), key: event.application_id, payload };
            enqueue(&txn, new).await.unwrap();
            txn.commit().await.unwrap();
            relay.relay_once().await.unwrap();
        }
    };
    let verdict_on = |day: (i32, i32, i32)| {
        let mut client = client.clone();
        async move { check(&mut client, insured, date(day.0, day.1, day.2)).await.verdict }
    };
    // Each decision goes through two relays and two consumer reads (the decision, then the
    // person's `eligibility.changed`); on a loaded two-core machine running the whole suite that
    // once took just over 10 s. A bound on liveness, not a speed claim.
    let until = |day: (i32, i32, i32), verdict: pb::EligibilityVerdict| async move {
        eventually(Duration::from_secs(30), || async { (verdict_on(day).await == verdict as i32).then_some(()) }).await
    };

    // A 新規 decided 非該当 as an event of the version before: no validity at all; it takes
    // effect on the application date.
    let old_style = CertificationDecidedEvent {
        application_id: "app-na-1".into(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        application_date: Some(date(2025, 4, 10)),
        care_level: common::CareLevel::NotApplicable as i32,
        certified_date: Some(date(2025, 5, 1)),
        ..Default::default()
    };
    publish(old_style).await;
    assert!(until((2025, 4, 10), pb::EligibilityVerdict::AssessedNotApplicable).await.is_some());
    assert_eq!(verdict_on((2025, 4, 9)).await, pb::EligibilityVerdict::NotCertified as i32);
    assert_eq!(verdict_on((2030, 1, 1)).await, pb::EligibilityVerdict::AssessedNotApplicable as i32, "open-ended");

    // A later 新規 decided 要支援1 ends the 非該当 the day before it starts.
    let mut support = decided("app-na-2", common::CareLevel::Support1, (2025, 10, 1), (2026, 3, 31));
    support.insured_number = insured.into();
    publish(support).await;
    assert!(until((2025, 10, 1), pb::EligibilityVerdict::Eligible).await.is_some());
    assert_eq!(verdict_on((2025, 9, 30)).await, pb::EligibilityVerdict::AssessedNotApplicable as i32);

    // Its renewal decided 非該当, sent as certification sends it now: an open period from the
    // day after the current one ends.
    let renewal = CertificationDecidedEvent {
        application_id: "app-na-3".into(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        application_date: Some(date(2026, 2, 20)),
        care_level: common::CareLevel::NotApplicable as i32,
        certified_date: Some(date(2026, 3, 15)),
        validity: period(date(2026, 4, 1), None),
        ..Default::default()
    };
    publish(renewal).await;
    assert!(until((2026, 4, 1), pb::EligibilityVerdict::AssessedNotApplicable).await.is_some());
    assert_eq!(verdict_on((2026, 3, 31)).await, pb::EligibilityVerdict::Eligible as i32);

    // 事業対象者 (基本チェックリスト) has no fixed end either.
    let programme = CertificationDecidedEvent {
        application_id: "app-na-4".into(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        care_level: common::CareLevel::ProgrammeEligible as i32,
        certified_date: Some(date(2026, 6, 1)),
        validity: period(date(2026, 6, 1), None),
        ..Default::default()
    };
    publish(programme).await;
    assert!(until((2026, 6, 1), pb::EligibilityVerdict::ProgrammeOnly).await.is_some());
    assert_eq!(verdict_on((2026, 5, 31)).await, pb::EligibilityVerdict::AssessedNotApplicable as i32);
    server.stop().await;
}
