//! The care-management offices eligibility recorded before the registry
//! (docs/domain/access.md#migrated): registered once, with a consent recorded by the insurer.

use std::time::Duration;

use kaigo_platform::events::{Bus, Event, RedisBus};
use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::registry::v1 as pb;
use kaigo_registry::events::TOPIC_CARE_MANAGEMENT_MIGRATED;
use prost::Message;

use crate::harness::*;

fn event(payload: &[u8]) -> Event {
    Event {
        id: uuid::Uuid::now_v7().to_string(),
        topic: TOPIC_CARE_MANAGEMENT_MIGRATED.to_owned(),
        key: "record-1".to_owned(),
        payload: payload.to_vec(),
        trace: Vec::new(),
        created_at: chrono::Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_office_is_registered_once_with_the_insurers_paper_consent() {
    let r = Registry::start().await;
    let bus = Bus::Redis(RedisBus::new(r.redis_handle.clone(), 10_000));
    let migrated = pb::CareManagementMigrated {
        person: Some(person("0000000061")),
        office_number: office().office.unwrap().as_str().to_owned(),
        start_date: Some(date(2024, 4, 1)),
    }
    .encode_to_vec();
    let first = event(&migrated);
    bus.publish(&first).await.unwrap();
    // Delivered again (a relay that published twice), and the same office in a second event.
    bus.publish(&first).await.unwrap();
    bus.publish(&event(&migrated)).await.unwrap();
    let counts = || async {
        let handled =
            r.count("SELECT COUNT(*) FROM processed_events WHERE consumer_group = 'registry-migration'").await;
        (handled == 2).then_some(())
    };
    assert!(eventually(Duration::from_secs(10), counts).await.is_some(), "both events handled");
    assert_eq!(
        r.count("SELECT COUNT(*) FROM registrations WHERE evidence = 'migrated_from_eligibility' AND insured_number = '0000000061'").await,
        1
    );
    assert_eq!(
        r.count(
            "SELECT COUNT(*) FROM consents WHERE source = 'paper_recorded_by_insurer' AND insured_number = '0000000061'"
        )
        .await,
        1
    );
    // The office now sees the person, every category, and the change was published.
    for category in [pb::Category::InsuranceCertificates, pb::Category::CostShare, pb::Category::CarePlan] {
        assert!(allowed(&r.check(office(), "0000000061", category).await), "{category:?}");
    }
    assert_eq!(r.count("SELECT COUNT(*) FROM outbox WHERE topic = 'registry.registration_changed'").await, 1);
    r.harness.shutdown().await;
}
