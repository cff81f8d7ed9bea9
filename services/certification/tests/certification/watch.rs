//! WatchApplication: every step in order, live, across replicas, resumable.

use std::time::Duration;

use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;

use crate::driver::Driver;
use crate::support::{Harness, d, new_application, office, office_caller, signed};

async fn next(stream: &mut tonic::Streaming<pb::WatchApplicationResponse>) -> pb::WatchApplicationResponse {
    tokio::time::timeout(Duration::from_secs(5), stream.message()).await.expect("a step within 5 s").unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_on_one_replica_sees_every_step_written_on_another_in_order() {
    every_step_written_on_one_replica_reaches_a_watcher_on_another(Harness::new(d(2026, 4, 30)).await).await;
}

/// Two replicas of `h` (its date 2026-04-30): every step written on B reaches a watcher on A
/// through the Redis signal, in order, and a watch resumes after a sequence.
pub async fn every_step_written_on_one_replica_reaches_a_watcher_on_another(h: Harness) {
    let a = h.replica().await;
    let b = h.replica().await;
    let acting = office("437100002");
    // Filed through replica B; the care office watches through replica A.
    let mut app = Driver::submit(&b, new_application("0000050001", d(2026, 4, 1), &acting)).await.unwrap();
    // The acting office follows as the person's registered office with a consent.
    h.follow(&acting, "0000050001").await;
    let manager = office_caller(&acting);
    let mut watcher = a.client.clone();
    let request = pb::WatchApplicationRequest { application_id: app.id.clone(), after_sequence: 0 };
    let mut stream =
        watcher.watch_application(signed(&a.keys, &manager, "WatchApplication", request)).await.unwrap().into_inner();
    let first = next(&mut stream).await;
    assert_eq!(first.step.unwrap().kind, pb::StepKind::Received as i32);

    // Each step written on B arrives on A, in order, with the progress after it. (The
    // watcher's periodic re-read is 60 s in these tests, so only the Redis signal can deliver
    // them within the 5 s allowed.)
    let mut seen = vec![pb::StepKind::Received as i32];
    app.survey_scheduled(d(2026, 4, 3)).await.unwrap();
    let m = next(&mut stream).await;
    assert_eq!(m.progress.as_ref().unwrap().survey_state, pb::SurveyState::Scheduled as i32);
    seen.push(m.step.unwrap().kind);
    app.opinion_requested().await.unwrap();
    app.opinion_received().await.unwrap();
    app.survey_completed(d(2026, 4, 5), 1200, pb::ConditionStability::Stable, common::DementiaIndependenceLevel::Iiia)
        .await
        .unwrap();
    app.primary_judgment().await.unwrap();
    for _ in 0..4 {
        seen.push(next(&mut stream).await.step.unwrap().kind);
    }
    app.board(d(2026, 4, 21)).await.unwrap();
    app.decide(common::CareLevel::Care5, d(2026, 4, 21), None).await.unwrap();
    app.notified(d(2026, 4, 22)).await.unwrap();
    let mut last = None;
    for _ in 0..3 {
        let m = next(&mut stream).await;
        seen.push(m.step.as_ref().unwrap().kind);
        last = Some(m);
    }
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
    assert_eq!(seen, expected.map(|k| k as i32).to_vec());
    let progress = last.unwrap().progress.unwrap();
    assert_eq!(
        (progress.status, progress.version, progress.decided_care_level),
        (pb::ApplicationStatus::Notified as i32, 9, common::CareLevel::Care5 as i32)
    );
    // The stream ends after the terminal step.
    let end = tokio::time::timeout(Duration::from_secs(5), stream.message()).await.unwrap().unwrap();
    assert!(end.is_none());

    // Resuming after step 6 replays 7–9 from either replica, with the progress as it was then.
    let request = pb::WatchApplicationRequest { application_id: app.id.clone(), after_sequence: 6 };
    let mut resumed = b
        .client
        .clone()
        .watch_application(signed(&b.keys, &manager, "WatchApplication", request))
        .await
        .unwrap()
        .into_inner();
    let m = next(&mut resumed).await;
    assert_eq!(m.step.unwrap().sequence, 7);
    assert_eq!(m.progress.unwrap().status, pb::ApplicationStatus::BoardScheduled as i32);
    assert_eq!(next(&mut resumed).await.step.unwrap().sequence, 8);
    assert_eq!(next(&mut resumed).await.step.unwrap().sequence, 9);
    a.stop().await;
    b.stop().await;
}
