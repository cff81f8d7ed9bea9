//! opinion.received from documents advances an application, once.

use std::time::Duration;

use kaigo_platform::events::{Bus, Event, RedisBus};
use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::documents::v1::OpinionReceivedEvent;

use crate::driver::Driver;
use crate::support::{Harness, INSURER, d, insurer_caller, new_application, signed};

fn event(id: &str, application_id: &str, opinion_id: &str) -> Event {
    let payload = OpinionReceivedEvent {
        application_id: application_id.to_owned(),
        opinion_id: opinion_id.to_owned(),
        opinion_request_id: uuid::Uuid::new_v4().to_string(),
        insurer_number: INSURER.to_owned(),
        institution_code: "0110113719".to_owned(),
        revision: 1,
        receive_time: None,
    };
    Event {
        id: id.to_owned(),
        topic: "opinion.received".to_owned(),
        key: application_id.to_owned(),
        payload: prost::Message::encode_to_vec(&payload),
        trace: Vec::new(),
        created_at: chrono::Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opinion_received_moves_the_application_once() {
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let mut requested = Driver::submit(&replica, new_application("0000070001", d(2026, 4, 1), "")).await.unwrap();
    requested.opinion_requested().await.unwrap();
    let unrequested = Driver::submit(&replica, new_application("0000070002", d(2026, 4, 1), "")).await.unwrap();
    let bus = Bus::Redis(RedisBus::new(h.redis_handle.clone(), 1000));
    let first = event(&uuid::Uuid::now_v7().to_string(), &requested.id, "op-1");
    bus.publish(&first).await.unwrap();
    bus.publish(&first).await.unwrap(); // published twice (a relay crash): applied once
    bus.publish(&event(&uuid::Uuid::now_v7().to_string(), &unrequested.id, "op-2")).await.unwrap();

    let insurer = insurer_caller(INSURER);
    let get = |id: String| {
        let mut client = replica.client.clone();
        let keys = replica.keys.clone();
        let insurer = insurer.clone();
        async move {
            let r = pb::GetApplicationRequest { application_id: id };
            client
                .get_application(signed(&keys, &insurer, "GetApplication", r))
                .await
                .unwrap()
                .into_inner()
                .application
                .unwrap()
        }
    };
    let received = eventually(Duration::from_secs(10), || {
        let get = get(requested.id.clone());
        async move { Some(get.await).filter(|a| a.opinion.as_ref().unwrap().state == pb::OpinionState::Received as i32) }
    })
    .await
    .expect("the opinion arrives through the event");
    assert_eq!(received.opinion.unwrap().opinion_id, "op-1");
    let last = received.steps.last().unwrap();
    assert_eq!(last.kind, pb::StepKind::OpinionReceived as i32);
    assert_eq!(last.actor.as_ref().unwrap().role, kaigo_proto::kaigo::common::v1::Role::System as i32);
    let implied = eventually(Duration::from_secs(10), || {
        let get = get(unrequested.id.clone());
        async move { Some(get.await).filter(|a| a.version == 3) }
    })
    .await
    .expect("the unrequested application records the implied request and the receipt");
    let kinds: Vec<i32> = implied.steps.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        vec![
            pb::StepKind::Received as i32,
            pb::StepKind::OpinionRequested as i32,
            pb::StepKind::OpinionReceived as i32
        ]
    );

    // The duplicate sits between the two in the same stream, so it was handled (and skipped)
    // before the later event took effect: still version 3 (submit, requested, received).
    assert_eq!(get(requested.id.clone()).await.version, 3);
    replica.stop().await;
}
