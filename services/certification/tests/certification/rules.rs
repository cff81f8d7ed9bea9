//! Refusals that name their rule, with nothing written; validity edges; the 30-day deadline in
//! JST; delay notices, the overdue / at-risk queries and the statistics; bad input.

use chrono::{TimeZone, Utc};
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;

use crate::driver::Driver;
use crate::support::{
    Harness, INSURER, UNKNOWN_PERSON, d, fields, insurer_caller, metadata, new_application, reason, rid, signed, wire,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_out_of_order_is_refused_naming_what_is_missing() {
    let h = Harness::new(d(2026, 4, 20)).await;
    let replica = h.replica().await;
    let mut app = Driver::submit(&replica, new_application("0000010001", d(2026, 4, 1), "")).await.unwrap();

    let err = app
        .survey_completed(d(2026, 4, 5), 300, pb::ConditionStability::Stable, common::DementiaIndependenceLevel::I)
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err), metadata(&err, "missing")),
        (tonic::Code::FailedPrecondition, "SURVEY_NOT_SCHEDULED".into(), "SURVEY_SCHEDULED".into())
    );
    let err = app.opinion_received().await.unwrap_err();
    assert_eq!((reason(&err), metadata(&err, "missing")), ("OPINION_NOT_REQUESTED".into(), "OPINION_REQUESTED".into()));
    let err = app.primary_judgment().await.unwrap_err();
    assert_eq!(reason(&err), "PRIMARY_JUDGMENT_PREREQUISITES_MISSING");
    assert_eq!(metadata(&err, "missing"), "SURVEY_COMPLETED,OPINION_RECEIVED");
    let err = app.board(d(2026, 4, 20)).await.unwrap_err();
    assert_eq!(reason(&err), "PRIMARY_JUDGMENT_MISSING");
    // A decision before the primary judgment.
    let err = app.decide(common::CareLevel::Care1, d(2026, 4, 20), None).await.unwrap_err();
    assert_eq!((err.code(), reason(&err)), (tonic::Code::FailedPrecondition, "PRIMARY_JUDGMENT_MISSING".into()));
    let err = app.notified(d(2026, 4, 20)).await.unwrap_err();
    assert_eq!(reason(&err), "NOT_DECIDED");

    // Only the survey branch done: the judgment still needs the opinion.
    app.survey_scheduled(d(2026, 4, 3)).await.unwrap();
    app.survey_completed(d(2026, 4, 5), 300, pb::ConditionStability::Stable, common::DementiaIndependenceLevel::I)
        .await
        .unwrap();
    let err = app.primary_judgment().await.unwrap_err();
    assert_eq!(metadata(&err, "missing"), "OPINION_RECEIVED");
    app.opinion_requested().await.unwrap();
    app.opinion_received().await.unwrap();
    app.primary_judgment().await.unwrap();
    let err = app.decide(common::CareLevel::Support1, d(2026, 4, 20), None).await.unwrap_err();
    assert_eq!(reason(&err), "REVIEW_BOARD_NOT_SCHEDULED");
    // A board date before the application date.
    let err = app.board(d(2026, 3, 31)).await.unwrap_err();
    assert_eq!(reason(&err), "BOARD_DATE_BEFORE_APPLICATION");
    let before = app.version;
    app.board(d(2026, 4, 18)).await.unwrap();
    assert_eq!(app.version, before + 1, "the refused writes left nothing behind");
    let err = app.decide(common::CareLevel::Support1, d(2026, 4, 17), None).await.unwrap_err();
    assert_eq!(reason(&err), "DECISION_BEFORE_BOARD");
    app.decide(common::CareLevel::Support1, d(2026, 4, 20), None).await.unwrap();
    for err in [
        app.survey_scheduled(d(2026, 4, 20)).await.unwrap_err(),
        app.delay(d(2026, 4, 20), d(2026, 5, 20), pb::DelayReason::WaitingForBoard).await.unwrap_err(),
    ] {
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    }
    app.notified(d(2026, 4, 20)).await.unwrap();
    let err = app.opinion_requested().await.unwrap_err();
    assert_eq!(reason(&err), "APPLICATION_CLOSED");

    // Withdrawn applications take no further steps.
    let mut other = Driver::submit(&replica, new_application("0000010002", d(2026, 4, 10), "")).await.unwrap();
    let r = pb::WithdrawApplicationRequest {
        request_id: rid(),
        application_id: other.id.clone(),
        expected_version: 1,
        withdrawn_date: Some(wire(d(2026, 4, 12))),
        reason: "入院のため".to_owned(),
    };
    let a = other
        .client
        .withdraw_application(signed(&replica.keys, &other.insurer, "WithdrawApplication", r))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(a.status, pb::ApplicationStatus::Withdrawn as i32);
    assert_eq!(a.deadline_status, pb::DeadlineStatus::NotApplicable as i32);
    other.version = a.version;
    assert_eq!(reason(&other.survey_scheduled(d(2026, 4, 13)).await.unwrap_err()), "APPLICATION_CLOSED");
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validity_periods_at_the_edges_of_section_2_5() {
    let h = Harness::new(d(2026, 4, 30)).await;
    let replica = h.replica().await;
    let start = d(2026, 4, 1);
    let mut app = Driver::submit(&replica, new_application("0000020001", start, "")).await.unwrap();
    app.up_to_board(start, 600).await;
    // New: 3–12 months from the application date.
    let too_long =
        app.decide(common::CareLevel::Care2, d(2026, 4, 25), Some((start, d(2027, 4, 1)))).await.unwrap_err();
    assert_eq!((reason(&too_long), metadata(&too_long, "max_months")), ("VALIDITY_OUT_OF_RANGE".into(), "12".into()));
    let too_short =
        app.decide(common::CareLevel::Care2, d(2026, 4, 25), Some((start, d(2026, 6, 29)))).await.unwrap_err();
    assert_eq!(reason(&too_short), "VALIDITY_OUT_OF_RANGE");
    let wrong_start =
        app.decide(common::CareLevel::Care2, d(2026, 4, 25), Some((d(2026, 4, 2), d(2026, 9, 30)))).await.unwrap_err();
    assert_eq!(reason(&wrong_start), "VALIDITY_START_MISMATCH");
    let a = app.decide(common::CareLevel::Care2, d(2026, 4, 25), Some((start, d(2027, 3, 31)))).await.unwrap();
    assert_eq!(a.decision.unwrap().validity.unwrap().end, Some(wire(d(2027, 3, 31))), "exactly 12 months is allowed");
    app.notified(d(2026, 4, 26)).await.unwrap();

    // A renewal with no current certification is refused.
    let mut renewal = new_application("0000020002", d(2026, 4, 20), "");
    renewal.r#type = pb::ApplicationType::Renewal as i32;
    let err = Driver::submit(&replica, renewal).await.err().unwrap();
    assert_eq!((err.code(), reason(&err)), (tonic::Code::FailedPrecondition, "NO_CURRENT_CERTIFICATION".into()));
    // A new application while certified must be a renewal or level change.
    let err = Driver::submit(&replica, new_application("0000020001", d(2026, 4, 28), "")).await.err().unwrap();
    assert_eq!(reason(&err), "CURRENT_CERTIFICATION_EXISTS");

    // Renewal with an unchanged family (要介護2 → 要介護3): up to 48 months from the day after expiry.
    h.set_today(d(2027, 3, 31));
    let renewal_date = d(2027, 2, 1);
    let mut renewal = new_application("0000020001", renewal_date, "");
    renewal.r#type = pb::ApplicationType::Renewal as i32;
    let mut r = Driver::submit(&replica, renewal).await.unwrap();
    r.up_to_board(renewal_date, 750).await;
    let next = d(2027, 4, 1);
    let err = r.decide(common::CareLevel::Care3, d(2027, 3, 1), Some((next, d(2031, 4, 30)))).await.unwrap_err();
    assert_eq!(metadata(&err, "max_months"), "48");
    let a = r.decide(common::CareLevel::Care3, d(2027, 3, 1), Some((next, d(2031, 3, 31)))).await.unwrap();
    assert_eq!(a.previous_care_level, common::CareLevel::Care2 as i32);
    assert_eq!(a.decision.unwrap().validity.unwrap().end, Some(wire(d(2031, 3, 31))));
    r.notified(d(2027, 3, 2)).await.unwrap();

    // A level change 要介護3 → 要支援2 … then a renewal to a different family is capped at 36.
    h.set_today(d(2027, 6, 30));
    let mut change = new_application("0000020001", d(2027, 5, 10), "");
    change.r#type = pb::ApplicationType::LevelChange as i32;
    let mut c = Driver::submit(&replica, change).await.unwrap();
    c.up_to_board(d(2027, 5, 10), 400).await;
    let err =
        c.decide(common::CareLevel::Support2, d(2027, 6, 5), Some((d(2027, 5, 10), d(2028, 6, 1)))).await.unwrap_err();
    assert_eq!(metadata(&err, "max_months"), "12", "level changes allow 3–12 months");
    let a = c.decide(common::CareLevel::Support2, d(2027, 6, 5), None).await.unwrap();
    assert_eq!(
        a.decision.unwrap().validity.unwrap().end,
        Some(wire(d(2027, 11, 30))),
        "default 6 months after the rest of May"
    );
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_thirty_day_deadline_turns_at_midnight_in_tokyo_and_delay_notices_move_it() {
    let h = Harness::new(d(2026, 4, 1)).await;
    let replica = h.replica().await;
    let insurer = insurer_caller(INSURER);
    let mut late = Driver::submit(&replica, new_application("0000030001", d(2026, 4, 1), "")).await.unwrap();
    let mut noticed = Driver::submit(&replica, new_application("0000030002", d(2026, 4, 1), "")).await.unwrap();
    let _fresh = Driver::submit(&replica, new_application("0000030003", d(2026, 4, 1), "")).await.unwrap();
    let progress = |id: String| {
        let mut client = replica.client.clone();
        let keys = replica.keys.clone();
        let insurer = insurer.clone();
        async move {
            let r = pb::GetApplicationProgressRequest { application_id: id };
            client
                .get_application_progress(signed(&keys, &insurer, "GetApplicationProgress", r))
                .await
                .unwrap()
                .into_inner()
                .progress
                .unwrap()
        }
    };
    // Day 21 after the application is the first at-risk day.
    h.set_today(d(2026, 4, 21));
    assert_eq!(progress(late.id.clone()).await.deadline_status, pb::DeadlineStatus::OnTrack as i32);
    // The operators' figures (kaigo.certification.applications.open): on track, at risk,
    // extended by a delay notice, overdue.
    let figures = || async { kaigo_certification::deadlines::count(&h.conn, &h.clock, 21).await.unwrap() };
    assert_eq!(figures().await, [3, 0, 0, 0]);
    h.set_today(d(2026, 4, 22));
    let p = progress(late.id.clone()).await;
    assert_eq!(p.deadline_status, pb::DeadlineStatus::AtRisk as i32);
    assert_eq!(figures().await, [0, 3, 0, 0]);
    assert_eq!(p.deadline_date, Some(wire(d(2026, 5, 1))));
    assert_eq!(p.days_elapsed, 21);

    // A delay notice within the 30 days, with its expected date and reason.
    let err = noticed.delay(d(2026, 4, 25), d(2026, 5, 1), pb::DelayReason::OpinionNotReady).await.unwrap_err();
    assert_eq!(reason(&err), "DELAY_EXPECTED_DATE_NOT_AFTER_DEADLINE");
    let a = noticed.delay(d(2026, 4, 25), d(2026, 5, 20), pb::DelayReason::OpinionNotReady).await.unwrap();
    let notice = &a.delay_notices[0];
    assert_eq!(
        (notice.expected_decision_date, notice.reason),
        (Some(wire(d(2026, 5, 20))), pb::DelayReason::OpinionNotReady as i32)
    );
    assert_eq!(a.steps.last().unwrap().kind, pb::StepKind::DelayNoticeIssued as i32);

    // 23:59:59 JST on the deadline day is still on time; one second later it is overdue.
    h.clock.set(Utc.with_ymd_and_hms(2026, 5, 1, 14, 59, 59).unwrap());
    assert_eq!(progress(late.id.clone()).await.deadline_status, pb::DeadlineStatus::AtRisk as i32);
    h.clock.set(Utc.with_ymd_and_hms(2026, 5, 1, 15, 0, 0).unwrap());
    assert_eq!(progress(late.id.clone()).await.deadline_status, pb::DeadlineStatus::Overdue as i32);
    let p = progress(noticed.id.clone()).await;
    assert_eq!(p.deadline_status, pb::DeadlineStatus::AtRisk as i32, "the notice moved the line to 5/20");
    assert_eq!(p.expected_decision_date, Some(wire(d(2026, 5, 20))));
    // A first notice after the deadline is refused.
    let err = late.delay(d(2026, 5, 2), d(2026, 5, 20), pb::DelayReason::SurveyNotReady).await.unwrap_err();
    assert_eq!(reason(&err), "DELAY_NOTICE_AFTER_DEADLINE");

    // The insurer's overdue and at-risk queries.
    let mut client = replica.client.clone();
    let list = |statuses: Vec<pb::DeadlineStatus>| pb::ListApplicationsRequest {
        deadline_statuses: statuses.into_iter().map(|s| s as i32).collect(),
        order_by: "urgency".to_owned(),
        ..Default::default()
    };
    let overdue = client
        .list_applications(signed(&replica.keys, &insurer, "ListApplications", list(vec![pb::DeadlineStatus::Overdue])))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<String> = overdue.applications.iter().map(|a| a.application_id.clone()).collect();
    assert_eq!(ids.len(), 2, "the un-noticed ones are overdue");
    assert!(ids.contains(&late.id) && !ids.contains(&noticed.id));
    let at_risk = client
        .list_applications(signed(&replica.keys, &insurer, "ListApplications", list(vec![pb::DeadlineStatus::AtRisk])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        at_risk.applications.iter().map(|a| a.application_id.clone()).collect::<Vec<_>>(),
        vec![noticed.id.clone()]
    );
    assert_eq!(at_risk.applications[0].deadline_status, pb::DeadlineStatus::AtRisk as i32);
    // Past the 30 days, the noticed one counts as extended (the lists' at risk), the others
    // as overdue.
    assert_eq!(figures().await, [0, 0, 1, 2]);

    // Decide the noticed one late (5/15 > 5/1): statistics count it as missed.
    h.set_today(d(2026, 5, 15));
    noticed.up_to_board(d(2026, 4, 1), 260).await;
    noticed.decide(common::CareLevel::Support1, d(2026, 5, 15), None).await.unwrap();
    assert_eq!(figures().await, [0, 0, 0, 2], "a decided application is not open");
    let r = pb::GetInsurerStatisticsRequest {
        insurer_number: INSURER.to_owned(),
        window: Some(common::Period { start: Some(wire(d(2026, 4, 1))), end: Some(wire(d(2026, 4, 30))) }),
    };
    let stats = client
        .get_insurer_statistics(signed(&replica.keys, &insurer, "GetInsurerStatistics", r.clone()))
        .await
        .unwrap()
        .into_inner()
        .statistics
        .unwrap();
    assert_eq!((stats.received_count, stats.decided_count, stats.decided_within_30_days_count), (3, 1, 0));
    assert!((stats.median_days_to_decision - 44.0).abs() < 1e-9);
    assert_eq!((stats.overdue_open_count, stats.delay_notice_count), (2, 1));
    let other = insurer_caller("122192");
    let err =
        client.get_insurer_statistics(signed(&replica.keys, &other, "GetInsurerStatistics", r)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    replica.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_field_by_field_and_unknown_persons_by_rule() {
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let mut client = replica.client.clone();
    let insurer = insurer_caller(INSURER);
    let mut bad = new_application("short", d(2026, 4, 11), "0300000100");
    bad.insurer_number = "001220".to_owned();
    bad.r#type = 0;
    bad.applicant.as_mut().unwrap().family_member_name = String::new();
    let r = pb::SubmitApplicationRequest { request_id: "not-a-uuid".to_owned(), application: Some(bad) };
    let err = client.submit_application(signed(&replica.keys, &insurer, "SubmitApplication", r)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let mut got = fields(&err);
    got.sort();
    assert_eq!(
        got,
        vec![
            "application.acting_office_number",
            "application.applicant.family_member_name",
            "application.application_date",
            "application.insured_number",
            "application.insurer_number",
            "application.type",
            "request_id",
        ]
    );
    // An unknown person.
    let err = Driver::submit(&replica, new_application(UNKNOWN_PERSON, d(2026, 4, 10), "")).await.err().unwrap();
    assert_eq!((err.code(), reason(&err)), (tonic::Code::FailedPrecondition, "INSURED_PERSON_UNKNOWN".into()));
    // A second open application for the same person.
    Driver::submit(&replica, new_application("0000040001", d(2026, 4, 9), "")).await.unwrap();
    let err = Driver::submit(&replica, new_application("0000040001", d(2026, 4, 10), "")).await.err().unwrap();
    assert_eq!(reason(&err), "OPEN_APPLICATION_EXISTS");
    // The 32–50 band needs both indicators.
    let mut app = Driver::submit(&replica, new_application("0000040002", d(2026, 4, 1), "")).await.unwrap();
    app.survey_scheduled(d(2026, 4, 2)).await.unwrap();
    let err = app
        .survey_completed(
            d(2026, 4, 3),
            350,
            pb::ConditionStability::Unspecified,
            common::DementiaIndependenceLevel::Unspecified,
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["result.stability", "result.dementia_level"]);
    let err = app
        .survey_completed(d(2026, 4, 11), 200, pb::ConditionStability::Stable, common::DementiaIndependenceLevel::I)
        .await
        .unwrap_err();
    assert_eq!(fields(&err), vec!["completed_date"], "a survey date in the future (JST)");
    // Step requests without ids or versions.
    let r = pb::RecordOpinionRequestedRequest { institution_code: "0110113710".to_owned(), ..Default::default() };
    let err = client
        .record_opinion_requested(signed(&replica.keys, &insurer, "RecordOpinionRequested", r))
        .await
        .unwrap_err();
    let mut got = fields(&err);
    got.sort();
    assert_eq!(got, vec!["application_id", "expected_version", "institution_code", "request_id"]);
    replica.stop().await;
}

/// Issue 16, item 6: the 認定調査票's 74 basic items and 特記事項 are stored, validated field by
/// field, and shown with the application.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_survey_form_keeps_its_74_items_and_notes() {
    use kaigo_certification::domain::survey_items::ITEMS;
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let mut app = Driver::submit(&replica, new_application("0000031001", d(2026, 4, 1), "")).await.unwrap();
    app.survey_scheduled(d(2026, 4, 3)).await.unwrap();
    let items: Vec<pb::SurveyItem> =
        ITEMS.iter().map(|(code, n)| pb::SurveyItem { code: (*code).to_owned(), answer: i32::from(*n) }).collect();
    let request =
        |items: Vec<pb::SurveyItem>, notes: Vec<pb::SurveyNote>, version: i64| pb::RecordSurveyCompletedRequest {
            request_id: rid(),
            application_id: app.id.clone(),
            expected_version: version,
            completed_date: Some(wire(d(2026, 4, 5))),
            result: Some(pb::SurveyResult {
                standard_time_tenth_minutes: 600,
                stability: pb::ConditionStability::Stable as i32,
                dementia_level: common::DementiaIndependenceLevel::I as i32,
                basic_items: items,
                special_notes: notes,
                ..Default::default()
            }),
            occur_time: None,
        };
    let mut client = replica.client.clone();
    let insurer = insurer_caller(INSURER);

    // An answer out of range, an unknown code, a note on no item and an empty note: each named.
    let mut bad = items.clone();
    bad[11].answer = 5; // 1-5 座位保持: 4 choices
    bad[73].code = "6-13".into();
    let notes = vec![
        pb::SurveyNote { item_code: "7-1".into(), text: "x".into() },
        pb::SurveyNote { item_code: "2-1".into(), text: " ".into() },
    ];
    let r = request(bad, notes, app.version);
    let err =
        client.record_survey_completed(signed(&replica.keys, &insurer, "RecordSurveyCompleted", r)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        fields(&err),
        vec![
            "result.basic_items[11]".to_owned(),
            "result.basic_items[73]".to_owned(),
            "result.special_notes[0].item_code".to_owned(),
            "result.special_notes[1].text".to_owned(),
        ]
    );
    // Some items only: all 74 are needed.
    let r = request(items[..10].to_vec(), Vec::new(), app.version);
    let err =
        client.record_survey_completed(signed(&replica.keys, &insurer, "RecordSurveyCompleted", r)).await.unwrap_err();
    assert_eq!(fields(&err), vec!["result.basic_items".to_owned()]);

    let notes = vec![
        pb::SurveyNote { item_code: "1-1".into(), text: "右上下肢に軽い麻痺".into() },
        pb::SurveyNote { item_code: String::new(), text: "日中は独居".into() },
    ];
    let r = request(items.clone(), notes.clone(), app.version);
    client.record_survey_completed(signed(&replica.keys, &insurer, "RecordSurveyCompleted", r)).await.unwrap();
    let read = pb::GetApplicationRequest { application_id: app.id.clone() };
    let stored = client.get_application(signed(&replica.keys, &insurer, "GetApplication", read)).await.unwrap();
    let result = stored.into_inner().application.unwrap().survey.unwrap().result.unwrap();
    assert_eq!(result.basic_items, items);
    assert_eq!(result.special_notes, notes);

    // The national 認定ソフト's result is recorded as such, with its version.
    app.version += 1;
    app.opinion_requested().await.unwrap();
    app.opinion_received().await.unwrap();
    let judgment = |level: common::CareLevel, version: &str, expected_version: i64| pb::RecordPrimaryJudgmentRequest {
        request_id: rid(),
        application_id: app.id.clone(),
        expected_version,
        external_care_level: level as i32,
        software_version: version.to_owned(),
        occur_time: None,
    };
    let r = judgment(common::CareLevel::Care3, "10A", app.version);
    let err =
        client.record_primary_judgment(signed(&replica.keys, &insurer, "RecordPrimaryJudgment", r)).await.unwrap_err();
    assert_eq!(fields(&err), vec!["software_version".to_owned()]);
    let r = judgment(common::CareLevel::Unspecified, "09B", app.version);
    let err =
        client.record_primary_judgment(signed(&replica.keys, &insurer, "RecordPrimaryJudgment", r)).await.unwrap_err();
    assert_eq!(fields(&err), vec!["software_version".to_owned()], "a version only with an external level");
    let r = judgment(common::CareLevel::Care3, "09B", app.version);
    let judged =
        client.record_primary_judgment(signed(&replica.keys, &insurer, "RecordPrimaryJudgment", r)).await.unwrap();
    let primary = judged.into_inner().application.unwrap().primary_judgment.unwrap();
    assert_eq!(
        (primary.care_level, primary.source, primary.software_version.as_str()),
        (common::CareLevel::Care3 as i32, pb::JudgmentSource::External as i32, "09B")
    );
    replica.stop().await;
}
