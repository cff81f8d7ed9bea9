//! The whole happy path, retries, and the certification.decided event.

use std::time::Duration;

use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;
use prost::Message;
use redis::AsyncCommands;
use sea_orm::{ConnectionTrait, Statement};

use crate::driver::Driver;
use crate::support::{Harness, INSURER, d, insurer_caller, new_application, office, reason, rid, signed, wire};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_happy_path_from_application_to_notice() {
    let h = Harness::new(d(2026, 4, 1)).await;
    let replica = h.replica().await;
    let acting = office("437100001");
    let mut app = Driver::submit(&replica, new_application("0000012345", d(2026, 4, 1), &acting)).await.unwrap();
    assert_eq!(app.version, 1);

    h.set_today(d(2026, 4, 24));
    let a = app.survey_scheduled(d(2026, 4, 8)).await.unwrap();
    assert_eq!(a.survey.unwrap().state, pb::SurveyState::Scheduled as i32);
    app.opinion_requested().await.unwrap();
    app.opinion_received().await.unwrap();
    let a = app
        .survey_completed(d(2026, 4, 10), 415, pb::ConditionStability::Unstable, common::DementiaIndependenceLevel::I)
        .await
        .unwrap();
    assert_eq!(a.status, pb::ApplicationStatus::Received as i32);
    let a = app.primary_judgment().await.unwrap();
    let primary = a.primary_judgment.unwrap();
    assert_eq!(primary.care_level, common::CareLevel::Care1 as i32, "41.5 min with an unstable condition is 要介護1");
    assert_eq!(primary.source, pb::JudgmentSource::Computed as i32);
    assert!(primary.explanation.contains("unstable"), "{}", primary.explanation);
    app.board(d(2026, 4, 24)).await.unwrap();
    // The board keeps 要介護1 and takes the default validity: 6 months from 1 April.
    let a = app.decide(common::CareLevel::Care1, d(2026, 4, 24), None).await.unwrap();
    let decision = a.decision.clone().unwrap();
    let validity = decision.validity.unwrap();
    assert_eq!(validity.start, Some(wire(d(2026, 4, 1))));
    assert_eq!(validity.end, Some(wire(d(2026, 9, 30))));
    assert_eq!(decision.limit_units_per_month, 16_765);
    assert!(!decision.changed_from_primary);
    assert_eq!(a.deadline_status, pb::DeadlineStatus::Met as i32);
    let a = app.notified(d(2026, 4, 25)).await.unwrap();
    assert_eq!(a.status, pb::ApplicationStatus::Notified as i32);
    assert_eq!(a.version, 9);

    // Every step kept its time and actor, in order.
    let kinds: Vec<i32> = a.steps.iter().map(|s| s.kind).collect();
    use pb::StepKind as K;
    let expected = [
        K::Received,
        K::SurveyScheduled,
        K::OpinionRequested,
        K::OpinionReceived,
        K::SurveyCompleted,
        K::PrimaryJudgment,
        K::ReviewBoardScheduled,
        K::Decided,
        K::Notified,
    ];
    assert_eq!(kinds, expected.map(|k| k as i32).to_vec());
    for (i, step) in a.steps.iter().enumerate() {
        assert_eq!(step.sequence, i as i64 + 1);
        let actor = step.actor.as_ref().unwrap();
        assert_eq!(actor.role, common::Role::Insurer as i32);
        assert_eq!(actor.organization_number, INSURER);
        assert!(step.record_time.is_some() && step.occur_time.is_some());
    }

    // certification.decided is in the outbox with everything eligibility needs …
    let row = h
        .conn
        .query_one_raw(Statement::from_string(
            h.conn.get_database_backend(),
            "SELECT key, payload FROM outbox WHERE topic = 'certification.decided'",
        ))
        .await
        .unwrap()
        .unwrap();
    let key: String = row.try_get("", "key").unwrap();
    let payload: Vec<u8> = row.try_get("", "payload").unwrap();
    assert_eq!(key, app.id);
    let event = pb::CertificationDecidedEvent::decode(payload.as_slice()).unwrap();
    assert_eq!(event.insurer_number, INSURER);
    assert_eq!(event.insured_number, "0000012345");
    assert_eq!(event.care_level, common::CareLevel::Care1 as i32);
    assert_eq!(event.certified_date, Some(wire(d(2026, 4, 24))));
    assert_eq!(event.validity.unwrap().end, Some(wire(d(2026, 9, 30))));
    assert_eq!(event.limit_units_per_month, 16_765);
    assert_eq!(event.board_opinion, "状態の変化に留意");
    assert_eq!(event.designated_service_types, vec!["13".to_owned()]);
    assert_eq!(event.acting_office_number, acting);
    assert_eq!(event.primary_care_level, common::CareLevel::Care1 as i32);
    assert_eq!(event.application_type, pb::ApplicationType::New as i32);

    // … and the relay publishes it to the Redis stream.
    let stream = h.redis_handle.key("events:certification.decided");
    let mut conn = h.redis_handle.conn();
    let published = eventually(Duration::from_secs(5), || {
        let mut conn = conn.clone();
        let stream = stream.clone();
        async move { conn.xlen::<_, usize>(&stream).await.ok().filter(|n| *n == 1) }
    })
    .await;
    assert_eq!(published, Some(1));
    let _: () = conn.del::<_, ()>(&stream).await.unwrap_or(());
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_return_the_first_result_and_a_reused_id_is_refused() {
    let h = Harness::new(d(2026, 4, 1)).await;
    let replica = h.replica().await;
    let mut client = replica.client.clone();
    let insurer = insurer_caller(INSURER);
    let request = pb::SubmitApplicationRequest {
        request_id: rid(),
        application: Some(new_application("0000022222", d(2026, 4, 1), "")),
    };
    let first = client
        .submit_application(signed(&replica.keys, &insurer, "SubmitApplication", request.clone()))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .submit_application(signed(&replica.keys, &insurer, "SubmitApplication", request.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "a retry replays the stored response");
    let mut changed = request.clone();
    changed.application.as_mut().unwrap().insured_number = "0000033333".to_owned();
    let err =
        client.submit_application(signed(&replica.keys, &insurer, "SubmitApplication", changed)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists);
    assert_eq!(reason(&err), "REQUEST_ID_REUSED");

    // A step retried with the same id is not applied twice; a stale version is ABORTED.
    let id = first.application.unwrap().application_id;
    let step = pb::RecordSurveyScheduledRequest {
        request_id: rid(),
        application_id: id.clone(),
        expected_version: 1,
        scheduled_date: Some(wire(d(2026, 4, 5))),
        surveyor: String::new(),
        occur_time: None,
    };
    let a = client
        .record_survey_scheduled(signed(&replica.keys, &insurer, "RecordSurveyScheduled", step.clone()))
        .await
        .unwrap()
        .into_inner();
    let b = client
        .record_survey_scheduled(signed(&replica.keys, &insurer, "RecordSurveyScheduled", step.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a, b);
    assert_eq!(b.application.unwrap().version, 2);
    let stale = pb::RecordSurveyScheduledRequest { request_id: rid(), ..step };
    let err = client
        .record_survey_scheduled(signed(&replica.keys, &insurer, "RecordSurveyScheduled", stale))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Aborted);
    replica.stop().await;
}
