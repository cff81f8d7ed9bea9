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

/// Issue 16, item 4: a corrected 意見書 received after the first is surfaced (a step and the
/// opinion's revision and time), once, without moving the application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrected_opinion_after_receipt_is_surfaced_to_the_insurer() {
    let h = Harness::new(d(2026, 4, 25)).await;
    let replica = h.replica().await;
    let mut app = Driver::submit(&replica, new_application("0000070011", d(2026, 4, 1), "")).await.unwrap();
    app.up_to_board(d(2026, 4, 1), 600).await;
    let before = app.version;
    let bus = Bus::Redis(RedisBus::new(h.redis_handle.clone(), 1000));
    let app_id = app.id.clone();
    let corrected = |id: String, opinion: &str, revision: i32| {
        let mut e = event(&id, &app_id, opinion);
        let mut payload: OpinionReceivedEvent = prost::Message::decode(e.payload.as_slice()).unwrap();
        payload.revision = revision;
        e.payload = prost::Message::encode_to_vec(&payload);
        e
    };
    bus.publish(&corrected(uuid::Uuid::now_v7().to_string(), "op-1b", 2)).await.unwrap();
    // The same revision again (another event id) and an older one change nothing.
    bus.publish(&corrected(uuid::Uuid::now_v7().to_string(), "op-1b", 2)).await.unwrap();
    bus.publish(&corrected(uuid::Uuid::now_v7().to_string(), "op-1a", 1)).await.unwrap();
    // A marker after them: a second application's first opinion.
    let mut marker = Driver::submit(&replica, new_application("0000070012", d(2026, 4, 1), "")).await.unwrap();
    marker.opinion_requested().await.unwrap();
    bus.publish(&event(&uuid::Uuid::now_v7().to_string(), &marker.id, "op-9")).await.unwrap();

    let insurer = insurer_caller(INSURER);
    let get = |id: String| {
        let (mut client, keys, insurer) = (replica.client.clone(), replica.keys.clone(), insurer.clone());
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
    eventually(Duration::from_secs(10), || {
        let get = get(marker.id.clone());
        async move { Some(get.await).filter(|a| a.opinion.as_ref().unwrap().state == pb::OpinionState::Received as i32) }
    })
    .await
    .expect("the marker's opinion arrives after the corrections");
    let a = get(app.id.clone()).await;
    assert_eq!(a.version, before + 1, "one correction recorded, the repeat and the older one skipped");
    assert_eq!(a.status, pb::ApplicationStatus::BoardScheduled as i32, "no state change");
    let opinion = a.opinion.unwrap();
    assert_eq!((opinion.opinion_id.as_str(), opinion.revision), ("op-1b", 2));
    assert!(opinion.corrected_time.is_some());
    let last = a.steps.last().unwrap();
    assert_eq!(last.kind, pb::StepKind::OpinionCorrected as i32);

    // After the decision a correction is no longer applied.
    app.version = a.version;
    app.decide(kaigo_proto::kaigo::common::v1::CareLevel::Care2, d(2026, 4, 25), None).await.unwrap();
    let decided = app.version;
    bus.publish(&corrected(uuid::Uuid::now_v7().to_string(), "op-1c", 3)).await.unwrap();
    let mut marker2 = Driver::submit(&replica, new_application("0000070013", d(2026, 4, 1), "")).await.unwrap();
    marker2.opinion_requested().await.unwrap();
    bus.publish(&event(&uuid::Uuid::now_v7().to_string(), &marker2.id, "op-10")).await.unwrap();
    eventually(Duration::from_secs(10), || {
        let get = get(marker2.id.clone());
        async move { Some(get.await).filter(|a| a.opinion.as_ref().unwrap().state == pb::OpinionState::Received as i32) }
    })
    .await
    .expect("the second marker arrives");
    assert_eq!(get(app.id.clone()).await.version, decided);
    replica.stop().await;
}

/// Issue 16, item 4: re-survey, second opinion and the board's deferral go back without
/// cancelling; the application keeps its date (and so its 30-day clock) and ends decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn going_back_keeps_the_application_and_its_clock() {
    let h = Harness::new(d(2026, 4, 28)).await;
    let replica = h.replica().await;
    let mut app = Driver::submit(&replica, new_application("0000070021", d(2026, 4, 1), "")).await.unwrap();
    // Not before the survey is done.
    let early = app.resurvey("調査をやり直す").await.unwrap_err();
    assert_eq!(crate::support::reason(&early), "SURVEY_NOT_COMPLETED");
    app.up_to_board(d(2026, 4, 1), 600).await;
    let missing_reason = app.resurvey("  ").await.unwrap_err();
    assert_eq!(missing_reason.code(), tonic::Code::InvalidArgument);

    // The board defers; then asks for a re-survey and a second opinion.
    let deferred = app.defer(d(2026, 4, 21), "資料の確認が必要").await.unwrap();
    assert_eq!(deferred.status, pb::ApplicationStatus::PrimaryJudged as i32);
    let back = app.resurvey("調査結果と意見書が合わない").await.unwrap();
    assert_eq!(back.status, pb::ApplicationStatus::Received as i32);
    assert_eq!(back.survey.as_ref().unwrap().state, pb::SurveyState::NotScheduled as i32);
    assert!(back.primary_judgment.is_none());
    let back = app.second_opinion("1311234569", "所見の確認").await.unwrap();
    let opinion = back.opinion.unwrap();
    assert_eq!((opinion.state, opinion.second_opinion_count), (pb::OpinionState::Requested as i32, 1));
    // Everything again, then the decision, on the same application.
    app.survey_scheduled(d(2026, 4, 23)).await.unwrap();
    app.survey_completed(
        d(2026, 4, 24),
        600,
        pb::ConditionStability::Stable,
        kaigo_proto::kaigo::common::v1::DementiaIndependenceLevel::I,
    )
    .await
    .unwrap();
    app.opinion_received().await.unwrap();
    app.primary_judgment().await.unwrap();
    app.board(d(2026, 4, 27)).await.unwrap();
    let decided = app.decide(kaigo_proto::kaigo::common::v1::CareLevel::Care2, d(2026, 4, 28), None).await.unwrap();
    assert_eq!(decided.application_date, Some(crate::support::wire(d(2026, 4, 1))));
    assert_eq!(decided.deadline_status, pb::DeadlineStatus::Met as i32, "27 days: the clock was not restarted");
    let kinds: Vec<i32> = decided.steps.iter().map(|s| s.kind).collect();
    for kind in [pb::StepKind::ReviewDeferred, pb::StepKind::ResurveyRequested, pb::StepKind::SecondOpinionRequested] {
        assert!(kinds.contains(&(kind as i32)), "{kind:?} in the timeline");
    }
    let late = app.resurvey("x").await.unwrap_err();
    assert_eq!(crate::support::reason(&late), "ALREADY_DECIDED");
    replica.stop().await;
}
