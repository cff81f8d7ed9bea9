//! The applicant check against eligibility, through the production directory (a balanced
//! channel with its DNS discovery, signed calls) and a fake eligibility server: a known person
//! is accepted, an unknown one refused with nothing stored, eligibility down or slow is
//! UNAVAILABLE with nothing stored and a retry with the same request_id succeeds once it is back.

use std::time::Duration;

use kaigo_certification::Config;
use kaigo_certification::people::{EligibilityPolicy, SUBJECT};
use kaigo_platform::auth::{CallerKeys, Role};
use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1::EligibilityVerdict as V;
use sea_orm::{ConnectionTrait, Statement};

use crate::driver::Driver;
use crate::fake_eligibility::{FakeEligibility, FakeState, directory_at};
use crate::support::{Harness, INSURER, Replica, d, insurer_caller, new_application, reason, rid, signed, wire};

const TODAY: (i32, u32, u32) = (2026, 4, 20);

fn today() -> chrono::NaiveDate {
    d(TODAY.0, TODAY.1, TODAY.2)
}

fn policy() -> EligibilityPolicy {
    Config::default().eligibility_policy()
}

/// Applications stored for `insured`.
async fn stored(h: &Harness, insured: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM applications WHERE insured_number = '{insured}'");
    let row = h.conn.query_one_raw(Statement::from_string(h.conn.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get("", "n").unwrap()
}

/// SubmitApplication as the insurer with a given request_id.
async fn submit(replica: &Replica, request_id: &str, insured: &str) -> Result<pb::Application, tonic::Status> {
    let request = pb::SubmitApplicationRequest {
        request_id: request_id.to_owned(),
        application: Some(new_application(insured, d(2026, 4, 10), "")),
    };
    let mut client = replica.client.clone();
    let response = client
        .submit_application(signed(&replica.keys, &insurer_caller(INSURER), "SubmitApplication", request))
        .await?;
    Ok(response.into_inner().application.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_person_is_accepted_and_an_unknown_one_refused_with_nothing_stored() {
    let h = Harness::new(today()).await;
    let state = FakeState::default();
    state
        .knows("0000070001", V::Eligible)
        .knows("0000070002", V::QualificationLost)
        .knows("0000070003", V::NotCertified);
    let fake = FakeEligibility::start(&h.internal, &state).await;
    let (people, discovery) = directory_at(&h.internal, fake.addr, policy());
    let replica = h.replica_with(people).await;

    for known in ["0000070001", "0000070003"] {
        let app = submit(&replica, &rid(), known).await.unwrap();
        assert_eq!(app.insured_number, known);
    }
    // Known but no longer insured: accepted unless certification.eligibility_refuse_unqualified.
    submit(&replica, &rid(), "0000070002").await.unwrap();
    let err = submit(&replica, &rid(), "0000070009").await.unwrap_err();
    assert_eq!((err.code(), reason(&err)), (tonic::Code::FailedPrecondition, "INSURED_PERSON_UNKNOWN".to_owned()));
    assert!(!err.message().contains("0000070009"), "no insured number in the message: {}", err.message());
    assert_eq!(stored(&h, "0000070009").await, 0);
    assert_eq!(stored(&h, "0000070001").await, 1);

    // Every question came signed as the application's insurer, for certification, on the
    // application date.
    let asked = state.asked();
    let numbers: Vec<&str> = asked.iter().map(|a| a.request.insured_number.as_str()).collect();
    assert_eq!(numbers, ["0000070001", "0000070003", "0000070002", "0000070009"]);
    for a in &asked {
        assert_eq!(a.caller.role, Role::Insurer);
        assert_eq!(a.caller.insurer.as_ref().map(|i| i.as_str()), Some(INSURER));
        assert_eq!(a.caller.subject, SUBJECT);
        assert_eq!(a.request.insurer_number, INSURER);
        assert_eq!(a.request.purpose, common::Purpose::Certification as i32);
        assert_eq!(a.request.as_of, Some(wire(d(2026, 4, 10))));
    }
    replica.stop().await;
    discovery.stop(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persons_not_insured_on_the_date_are_refused_when_configured() {
    let h = Harness::new(today()).await;
    let state = FakeState::default();
    state
        .knows("0000071001", V::QualificationLost)
        .knows("0000071002", V::NotYetQualified)
        .knows("0000071003", V::CertificationExpired);
    let fake = FakeEligibility::start(&h.internal, &state).await;
    let (people, discovery) =
        directory_at(&h.internal, fake.addr, EligibilityPolicy { refuse_unqualified: true, ..policy() });
    let replica = h.replica_with(people).await;

    for unqualified in ["0000071001", "0000071002"] {
        let err = submit(&replica, &rid(), unqualified).await.unwrap_err();
        assert_eq!(
            (err.code(), reason(&err)),
            (tonic::Code::FailedPrecondition, "INSURED_PERSON_NOT_QUALIFIED".to_owned()),
            "{unqualified}"
        );
        assert_eq!(stored(&h, unqualified).await, 0);
    }
    submit(&replica, &rid(), "0000071003").await.unwrap();
    replica.stop().await;
    discovery.stop(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eligibility_down_is_unavailable_and_the_same_request_succeeds_once_it_is_back() {
    let h = Harness::new(today()).await;
    let state = FakeState::default();
    state.knows("0000072001", V::Eligible);
    let addr = FakeEligibility::down();
    let (people, discovery) = directory_at(&h.internal, addr, policy());
    let replica = h.replica_with(people).await;

    let request_id = rid();
    let err = submit(&replica, &request_id, "0000072001").await.unwrap_err();
    assert_eq!((err.code(), reason(&err)), (tonic::Code::Unavailable, "DEPENDENCY_UNAVAILABLE".to_owned()));
    assert_eq!(stored(&h, "0000072001").await, 0, "nothing stored while eligibility is down");

    let _fake = FakeEligibility::start_at(&h.internal, &state, addr).await;
    let first = eventually(Duration::from_secs(20), || async {
        match submit(&replica, &request_id, "0000072001").await {
            Ok(app) => Some(app),
            Err(status) if status.code() == tonic::Code::Unavailable => None,
            Err(status) => panic!("retry after eligibility came back: {status:?}"),
        }
    })
    .await
    .expect("the retry succeeds once eligibility is back");
    let again = submit(&replica, &request_id, "0000072001").await.unwrap();
    assert_eq!((again.application_id.as_str(), again.version), (first.application_id.as_str(), 1));
    assert_eq!(stored(&h, "0000072001").await, 1, "the retries stored one application");
    replica.stop().await;
    discovery.stop(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_eligibility_is_unavailable_after_the_timeout() {
    let h = Harness::new(today()).await;
    let state = FakeState::default();
    state.knows("0000073001", V::Eligible).slow("0000073001");
    let fake = FakeEligibility::start(&h.internal, &state).await;
    let timeout = Duration::from_millis(300);
    let (people, discovery) = directory_at(&h.internal, fake.addr, EligibilityPolicy { timeout, ..policy() });
    let replica = h.replica_with(people).await;

    let err = submit(&replica, &rid(), "0000073001").await.unwrap_err();
    assert_eq!((err.code(), reason(&err)), (tonic::Code::Unavailable, "DEPENDENCY_UNAVAILABLE".to_owned()));
    assert_eq!(state.asked().len(), 1, "eligibility was asked (and did not answer in time)");
    assert_eq!(stored(&h, "0000073001").await, 0);
    replica.stop().await;
    discovery.stop(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_eligibility_refuses_is_internal_not_unavailable() {
    let h = Harness::new(today()).await;
    let state = FakeState::default();
    state.knows("0000074001", V::Eligible);
    let fake = FakeEligibility::start(&h.internal, &state).await;
    // Certification signing with a key eligibility does not hold: UNAUTHENTICATED there, which
    // a retry cannot fix.
    let (people, discovery) = directory_at(&CallerKeys::generate(), fake.addr, policy());
    let replica = h.replica_with(people).await;

    let err = submit(&replica, &rid(), "0000074001").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
    assert!(state.asked().is_empty(), "the fake's CallerLayer refused the call");
    assert_eq!(stored(&h, "0000074001").await, 0);
    replica.stop().await;
    discovery.stop(Duration::from_secs(2)).await;
}

/// Issue 16, item 1: a renewal or level change works from the certification eligibility holds
/// (people certified before the platform, or imported), not only from this service's decisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_work_from_the_certification_eligibility_holds() {
    let h = Harness::new(today()).await;
    let state = FakeState::default();
    // Certified 要介護3 before go-live: only eligibility knows it.
    state.certified("0000075001", common::CareLevel::Care3, d(2025, 5, 1), d(2026, 4, 30));
    state.knows("0000075002", V::NotCertified).knows("0000075003", V::AssessedNotApplicable);
    state.knows("0000075004", V::CertificationExpired);
    let fake = FakeEligibility::start(&h.internal, &state).await;
    let (people, discovery) = directory_at(&h.internal, fake.addr, policy());
    let replica = h.replica_with(people).await;
    let application = |insured: &str, kind: pb::ApplicationType| pb::Application {
        r#type: kind as i32,
        ..new_application(insured, d(2026, 4, 10), "")
    };

    // A 新規 for the certified person is refused: a certification is in force.
    let err = Driver::submit(&replica, application("0000075001", pb::ApplicationType::New)).await.err().unwrap();
    assert_eq!(reason(&err), "CURRENT_CERTIFICATION_EXISTS");
    // Nobody else has one to renew or change: never certified, 非該当, expired.
    for insured in ["0000075002", "0000075003", "0000075004"] {
        for kind in [pb::ApplicationType::Renewal, pb::ApplicationType::LevelChange] {
            let err = Driver::submit(&replica, application(insured, kind)).await.err().unwrap();
            assert_eq!(reason(&err), "NO_CURRENT_CERTIFICATION", "{insured} {kind:?}");
        }
    }
    assert_eq!(stored(&h, "0000075002").await, 0);

    // The renewal starts from eligibility's 要介護3 and runs from the day after it ends.
    let mut renewal = Driver::submit(&replica, application("0000075001", pb::ApplicationType::Renewal)).await.unwrap();
    renewal.up_to_board(d(2026, 4, 10), 600).await;
    h.set_today(d(2026, 4, 30));
    let decided = renewal.decide(common::CareLevel::Care3, d(2026, 4, 30), None).await.unwrap();
    assert_eq!(decided.previous_care_level, common::CareLevel::Care3 as i32);
    let validity = decided.decision.unwrap().validity.unwrap();
    // Same level (要介護 → 要介護): 12 months by default, from 2026-05-01.
    assert_eq!((validity.start, validity.end), (Some(wire(d(2026, 5, 1))), Some(wire(d(2027, 4, 30)))));
    replica.stop().await;
    discovery.stop(Duration::from_secs(2)).await;
}

/// Issue 16, item 5: an early renewal is neither OVERDUE nor MISSED while the certification it
/// renews runs, in the answers, the list filters and the statistics alike; a 新規 filed the same
/// day keeps the 30 days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_renewal_keeps_to_the_validity_it_renews() {
    let h = Harness::new(d(2026, 4, 10)).await;
    let state = FakeState::default();
    state.certified("0000076001", common::CareLevel::Care2, d(2025, 7, 1), d(2026, 6, 30));
    state.knows("0000076002", V::NotCertified);
    let fake = FakeEligibility::start(&h.internal, &state).await;
    let (people, discovery) = directory_at(&h.internal, fake.addr, policy());
    let replica = h.replica_with(people).await;
    let insurer = insurer_caller(INSURER);
    let renewal_app = pb::Application {
        r#type: pb::ApplicationType::Renewal as i32,
        ..new_application("0000076001", d(2026, 4, 10), "")
    };
    let mut renewal = Driver::submit(&replica, renewal_app).await.unwrap();
    let new = Driver::submit(&replica, new_application("0000076002", d(2026, 4, 10), "")).await.unwrap();
    let standing = |id: String| {
        let (mut client, keys, insurer) = (replica.client.clone(), replica.keys.clone(), insurer.clone());
        async move {
            let r = pb::GetApplicationRequest { application_id: id };
            let app = client.get_application(signed(&keys, &insurer, "GetApplication", r)).await.unwrap();
            app.into_inner().application.unwrap().deadline_status
        }
    };
    let listed = |status: pb::DeadlineStatus| {
        let (mut client, keys, insurer) = (replica.client.clone(), replica.keys.clone(), insurer.clone());
        async move {
            let r = pb::ListApplicationsRequest { deadline_statuses: vec![status as i32], ..Default::default() };
            let list = client.list_applications(signed(&keys, &insurer, "ListApplications", r)).await.unwrap();
            list.into_inner().applications.into_iter().map(|a| a.application_id).collect::<Vec<_>>()
        }
    };
    use pb::DeadlineStatus as S;

    // Day 21: the 新規 is at risk, the renewal (validity to 6/30) on track.
    h.set_today(d(2026, 5, 2));
    assert_eq!(standing(new.id.clone()).await, S::AtRisk as i32);
    assert_eq!(standing(renewal.id.clone()).await, S::OnTrack as i32);
    // Past the 30 days (5/10): the 新規 is overdue, the renewal still on track.
    h.set_today(d(2026, 5, 20));
    assert_eq!(standing(new.id.clone()).await, S::Overdue as i32);
    assert_eq!(standing(renewal.id.clone()).await, S::OnTrack as i32);
    assert_eq!(listed(S::Overdue).await, vec![new.id.clone()]);
    assert_eq!(listed(S::OnTrack).await, vec![renewal.id.clone()]);
    // Nine days before the validity ends it is at risk, in the answer and the filter.
    h.set_today(d(2026, 6, 21));
    assert_eq!(standing(renewal.id.clone()).await, S::AtRisk as i32);
    assert_eq!(listed(S::AtRisk).await, vec![renewal.id.clone()]);

    // Decided on 6/28, 79 days after the application but inside the validity: met.
    h.set_today(d(2026, 6, 28));
    renewal.up_to_board(d(2026, 4, 10), 600).await;
    let decided = renewal.decide(common::CareLevel::Care2, d(2026, 6, 28), None).await.unwrap();
    assert_eq!(decided.deadline_status, S::Met as i32);
    assert_eq!(listed(S::Met).await, vec![renewal.id.clone()]);
    assert!(listed(S::Missed).await.is_empty());
    let r = pb::GetInsurerStatisticsRequest {
        insurer_number: INSURER.to_owned(),
        window: Some(common::Period { start: Some(wire(d(2026, 4, 1))), end: Some(wire(d(2026, 4, 30))) }),
    };
    let mut client = replica.client.clone();
    let stats = client.get_insurer_statistics(signed(&replica.keys, &insurer, "GetInsurerStatistics", r)).await;
    let stats = stats.unwrap().into_inner().statistics.unwrap();
    assert_eq!((stats.decided_count, stats.decided_within_30_days_count, stats.decided_on_time_count), (1, 0, 1));
    assert_eq!(stats.overdue_open_count, 1, "only the 新規");
    replica.stop().await;
    discovery.stop(Duration::from_secs(2)).await;
}

/// Issue 16, item 3: 職権 by the insurer only, from the certification in force; a 転入 with a
/// 受給資格証明書 filed within the window is decided at once with the certificate's level and
/// end; later than the window it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ex_officio_and_transfer_applications() {
    let h = Harness::new(d(2026, 4, 20)).await;
    let state = FakeState::default();
    state.certified("0000077001", common::CareLevel::Care1, d(2025, 10, 1), d(2026, 9, 30));
    state.knows("0000077002", V::NotCertified).knows("0000077003", V::NotCertified);
    let fake = FakeEligibility::start(&h.internal, &state).await;
    let (people, discovery) = directory_at(&h.internal, fake.addr, policy());
    let replica = h.replica_with(people).await;

    // 職権: no applicant needed from the insurer; a care office may not file it.
    let ex_officio = pb::Application {
        r#type: pb::ApplicationType::ExOfficio as i32,
        applicant: None,
        ..new_application("0000077001", d(2026, 4, 15), "")
    };
    let office = crate::support::office(&"1".repeat(9));
    let mut as_office = ex_officio.clone();
    as_office.applicant = Some(pb::Applicant {
        kind: pb::ApplicantKind::CareManagementOffice as i32,
        office_number: office.clone(),
        ..Default::default()
    });
    as_office.acting_office_number = office.clone();
    let request = pb::SubmitApplicationRequest { request_id: rid(), application: Some(as_office) };
    let mut client = replica.client.clone();
    let refused = client
        .submit_application(signed(
            &replica.keys,
            &crate::support::office_caller(&office),
            "SubmitApplication",
            request,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    let mut changed = Driver::submit(&replica, ex_officio).await.unwrap();
    changed.up_to_board(d(2026, 4, 15), 950).await;
    h.set_today(d(2026, 5, 5));
    let decided = changed.decide(common::CareLevel::Care4, d(2026, 5, 5), None).await.unwrap();
    h.set_today(d(2026, 4, 20));
    assert_eq!(
        (decided.r#type, decided.previous_care_level),
        (pb::ApplicationType::ExOfficio as i32, common::CareLevel::Care1 as i32)
    );
    let validity = decided.decision.unwrap().validity.unwrap();
    // Like a level change: 6 months by default from the application date (plus the rest of April).
    assert_eq!((validity.start, validity.end), (Some(wire(d(2026, 4, 15))), Some(wire(d(2026, 10, 31)))));

    // 転入 from a Tokyo municipality on 4/10 with 要介護2 to 2026-12-31, filed 4/20 (10 days): carried over.
    let previous =
        (0..10).map(|d| format!("13101{d}")).find(|n| kaigo_platform::ids::InsurerNumber::parse(n).is_ok()).unwrap();
    let certificate = |moved: chrono::NaiveDate| pb::TransferCertificate {
        previous_insurer_number: previous.clone(),
        move_in_date: Some(wire(moved)),
        care_level: common::CareLevel::Care2 as i32,
        validity: Some(common::Period { start: Some(wire(d(2026, 1, 1))), end: Some(wire(d(2026, 12, 31))) }),
    };
    let transfer = |insured: &str, moved| pb::Application {
        r#type: pb::ApplicationType::Transfer as i32,
        transfer: Some(certificate(moved)),
        ..new_application(insured, d(2026, 4, 20), "")
    };
    let late = Driver::submit(&replica, transfer("0000077003", d(2026, 4, 5))).await.err().unwrap();
    assert_eq!(reason(&late), "TRANSFER_WINDOW_PASSED");
    let mut missing = transfer("0000077003", d(2026, 4, 10));
    missing.transfer = None;
    let err = Driver::submit(&replica, missing).await.err().unwrap();
    assert_eq!(crate::support::fields(&err), vec!["application.transfer".to_owned()]);
    let mut moved_in = Driver::submit(&replica, transfer("0000077002", d(2026, 4, 10))).await.unwrap();
    let survey = moved_in.survey_scheduled(d(2026, 4, 21)).await.unwrap_err();
    assert_eq!(reason(&survey), "CERTIFICATION_CARRIED_OVER");
    let wrong = moved_in.decide(common::CareLevel::Care3, d(2026, 4, 20), None).await.unwrap_err();
    assert_eq!(reason(&wrong), "TRANSFER_LEVEL_MISMATCH");
    let decided = moved_in.decide(common::CareLevel::Care2, d(2026, 4, 20), None).await.unwrap();
    let validity = decided.decision.unwrap().validity.unwrap();
    assert_eq!((validity.start, validity.end), (Some(wire(d(2026, 4, 20))), Some(wire(d(2026, 12, 31)))));
    assert_eq!(decided.transfer.unwrap().previous_insurer_number, previous);
    replica.stop().await;
    discovery.stop(Duration::from_secs(2)).await;
}
