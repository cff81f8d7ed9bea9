//! Returns for correction (差戻し), applying again after a rejection, the history of every
//! change, the listing's order, windows per applicant kind and the explanation's language
//! (docs/domain/subsidies.md#workflow).

use chrono::{TimeZone, Utc};
use kaigo_proto::kaigo::subsidies::v1 as pb;
use tonic::Code;

use crate::harness::*;

fn get(id: &str) -> pb::GetApplicationRequest {
    pb::GetApplicationRequest { application_id: id.to_owned() }
}

fn submit(id: &str, version: i64) -> pb::SubmitApplicationRequest {
    pb::SubmitApplicationRequest { request_id: new_id(), application_id: id.to_owned(), expected_version: version }
}

fn give_back(id: &str, version: i64, reasons: &[&str]) -> pb::ReturnApplicationRequest {
    pb::ReturnApplicationRequest {
        request_id: new_id(),
        application_id: id.to_owned(),
        expected_version: version,
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
    }
}

#[tokio::test]
async fn a_returned_application_is_corrected_and_resubmitted_with_its_history_kept() {
    let svc = Service::start().await;
    let number = office("21", 11);
    let mut applicant = svc.office_client(&number).await;
    let mut operator = svc.operator().await;
    let created = applicant
        .create_application(create_care(care_costs(&number, &["residential"], &[(3, 20_000)], 30_000, 0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let id = created.application_id.clone();
    applicant.submit_application(submit(&id, 1)).await.unwrap();

    // Reasons are required, each non-empty and bounded; the applicant cannot return.
    for (reasons, field) in
        [(vec![], "reasons"), (vec!["  "], "reasons[0]"), (vec!["ok", &*"長".repeat(1_001)], "reasons[1]")]
    {
        let status = operator.return_application(give_back(&id, 2, &reasons)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(fields(&status), [field]);
    }
    let many: Vec<&str> = vec!["x"; 21];
    assert_eq!(fields(&operator.return_application(give_back(&id, 2, &many)).await.unwrap_err()), ["reasons"]);
    let status = applicant.return_application(give_back(&id, 2, &["mine"])).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let returned = operator
        .return_application(give_back(
            &id,
            2,
            &["見積書の台数と申請の台数が違います", "接続サポートの内訳を添付してください"],
        ))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(returned.status, pb::ApplicationStatus::Returned as i32);
    assert_eq!(returned.return_reasons.len(), 2);
    // Returned: the operator can neither review nor approve it, nor return it again.
    let status = operator
        .review_application(pb::ReviewApplicationRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 3,
        })
        .await
        .unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::FailedPrecondition, "APPLICATION_NOT_SUBMITTED".to_owned()));
    let status = operator.return_application(give_back(&id, 3, &["again"])).await.unwrap_err();
    assert_eq!(reason(&status), "APPLICATION_NOT_PENDING");

    // The applicant corrects the costs (two readers) and submits again, after the deadline:
    // the first submission was in time (fy2025: resubmit_returned_after_deadline).
    svc.clock.set(Utc.with_ymd_and_hms(2026, 3, 20, 1, 0, 0).unwrap());
    let corrected = applicant
        .update_application(pb::UpdateApplicationRequest {
            request_id: new_id(),
            application: Some(pb::Application {
                application_id: id.clone(),
                costs: Some(pb::application::Costs::CareOffice(care_costs(
                    &number,
                    &["residential"],
                    &[(2, 10_000)],
                    30_000,
                    0,
                ))),
                ..Default::default()
            }),
            expected_version: 3,
        })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(corrected.status, pb::ApplicationStatus::Returned as i32);
    assert_eq!(corrected.calculation.as_ref().unwrap().eligible_amount_yen, 50_000);
    let resubmitted = applicant.submit_application(submit(&id, 4)).await.unwrap().into_inner().application.unwrap();
    assert_eq!(resubmitted.status, pb::ApplicationStatus::Submitted as i32);
    assert_eq!(resubmitted.version, 5);

    // Every change with who and when; each version's costs and amount stay readable.
    let read = applicant.get_application(get(&id)).await.unwrap().into_inner().application.unwrap();
    use pb::ApplicationStatus as S;
    let history: Vec<_> = read
        .history
        .iter()
        .map(|e| {
            let actor = e.actor.as_ref().unwrap();
            (e.version, e.action.as_str(), e.from_status, e.to_status, actor.role, e.eligible_amount_yen)
        })
        .collect();
    let (office_role, operator_role) = (
        kaigo_proto::kaigo::common::v1::Role::CareOffice as i32,
        kaigo_proto::kaigo::common::v1::Role::Operator as i32,
    );
    assert_eq!(
        history,
        [
            (1, "create", S::Unspecified as i32, S::Draft as i32, office_role, 55_000),
            (2, "submit", S::Draft as i32, S::Submitted as i32, office_role, 55_000),
            (3, "return", S::Submitted as i32, S::Returned as i32, operator_role, 55_000),
            (4, "update", S::Returned as i32, S::Returned as i32, office_role, 50_000),
            (5, "submit", S::Returned as i32, S::Submitted as i32, office_role, 50_000),
        ]
    );
    assert_eq!(read.history[2].reasons.len(), 2);
    assert_eq!(read.history[2].actor.as_ref().unwrap().subject, "operator-1");
    let late = Utc.with_ymd_and_hms(2026, 3, 20, 1, 0, 0).unwrap().timestamp();
    assert_eq!(read.history[4].time.as_ref().unwrap().seconds, late);
    // Lists do not carry the history.
    let listed = applicant.list_applications(pb::ListApplicationsRequest::default()).await.unwrap().into_inner();
    assert!(listed.applications.iter().all(|a| a.history.is_empty()));

    // A draft is not resubmitted after the deadline: only a returned application is.
    let late_office = office("21", 12);
    let mut late_applicant = svc.office_client(&late_office).await;
    let status = late_applicant
        .create_application(create_care(care_costs(&late_office, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap_err();
    assert_eq!(reason(&status), "APPLICATION_DEADLINE_PASSED");
}

#[tokio::test]
async fn a_rejected_applicant_applies_again_only_when_the_programme_allows_it() {
    // FY2025 as built in: one application only.
    let svc = Service::start().await;
    let number = office("13", 21);
    let rejected = reject_one(&svc, &number).await;
    let status = svc
        .office_client(&number)
        .await
        .create_application(create_care(care_costs(&number, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::FailedPrecondition, "REAPPLICATION_NOT_ALLOWED".to_owned()));
    assert_eq!(svc.application_count().await, 1);
    drop(rejected);

    // The same programme with reapply_after_rejection = true, from the programme directory.
    let dir = tempfile::tempdir().unwrap();
    let file =
        kaigo_subsidies::catalogue::FY2025.replace("reapply_after_rejection = false", "reapply_after_rejection = true");
    std::fs::write(dir.path().join("fy2025.toml"), file).unwrap();
    let config = kaigo_subsidies::Config { programme_dir: dir.path().display().to_string(), ..Default::default() };
    let svc = Service::start_with(&config).await;
    let first = reject_one(&svc, &number).await;
    let mut client = svc.office_client(&number).await;
    let second = client
        .create_application(create_care(care_costs(&number, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_ne!(second.application_id, first);
    assert_eq!(second.attempt, 2);
    // The rejected one is kept; a third while the second is open is refused.
    let kept = client.get_application(get(&first)).await.unwrap().into_inner().application.unwrap();
    assert_eq!((kept.status, kept.attempt), (pb::ApplicationStatus::Rejected as i32, 1));
    let status = client
        .create_application(create_care(care_costs(&number, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::AlreadyExists, "APPLICATION_EXISTS".to_owned()));
}

/// Creates, submits and rejects an application of `number`; its id.
async fn reject_one(svc: &Service, number: &str) -> String {
    let mut client = svc.office_client(number).await;
    let created = client
        .create_application(create_care(care_costs(number, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let id = created.application_id;
    client.submit_application(submit(&id, 1)).await.unwrap();
    svc.operator()
        .await
        .reject_application(pb::RejectApplicationRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 2,
            reason: "対象外の機器".to_owned(),
        })
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn applications_are_listed_newest_first_across_pages_with_filters() {
    let svc = Service::start().await;
    let mut created = Vec::new();
    for n in 0..5u32 {
        // A second apart, so that creation order is the listing's order.
        svc.clock.set(in_window() + chrono::Duration::seconds(i64::from(n)));
        let number = office(if n % 2 == 0 { "13" } else { "27" }, 30 + n);
        let app = svc
            .office_client(&number)
            .await
            .create_application(create_care(care_costs(&number, &["other"], &[(1, 10_000)], 0, 0)))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap();
        created.push(app.application_id);
    }
    let mut operator = svc.operator().await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = operator
            .list_applications(pb::ListApplicationsRequest { page_size: 2, page_token: token, ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 5);
        seen.extend(page.applications.into_iter().map(|a| a.application_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let newest_first: Vec<_> = created.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    let tokyo = operator
        .list_applications(pb::ListApplicationsRequest { prefecture_code: "13".to_owned(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = tokyo.applications.iter().map(|a| a.application_id.clone()).collect();
    assert_eq!(ids, [created[4].clone(), created[2].clone(), created[0].clone()]);
    let status = operator
        .list_applications(pb::ListApplicationsRequest { page_token: created[0].clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["page_token"]);
    let status = operator
        .list_applications(pb::ListApplicationsRequest { statuses: vec![1; 17], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["statuses"]);
}

#[tokio::test]
async fn each_applicant_kind_submits_inside_its_own_window() {
    // FY2025 with the medical window closing a month before the care offices'.
    let dir = tempfile::tempdir().unwrap();
    let file = kaigo_subsidies::catalogue::FY2025.replacen(
        "[windows.medical_institution]\nopen_date = \"2025-08-01\"",
        "[windows.medical_institution]\nopen_date = \"2025-10-01\"",
        1,
    );
    let file = file.replace(
        "# offices' day is taken until one is published.\ndeadline = \"2026-03-13\"",
        "# offices' day is taken until one is published.\ndeadline = \"2026-02-13\"",
    );
    assert_ne!(file, kaigo_subsidies::catalogue::FY2025);
    std::fs::write(dir.path().join("fy2025.toml"), file).unwrap();
    let config = kaigo_subsidies::Config { programme_dir: dir.path().display().to_string(), ..Default::default() };
    let svc = Service::start_with(&config).await;
    // 2026-02-20 JST: the care offices' window is open, the medical institutions' closed.
    svc.clock.set(Utc.with_ymd_and_hms(2026, 2, 20, 1, 0, 0).unwrap());
    let code = institution("01", 41);
    let status = svc
        .institution_client(&code)
        .await
        .create_application(create_medical(medical_costs(&code, pb::InstitutionType::Clinic, 0, 100_000)))
        .await
        .unwrap_err();
    assert_eq!((status.code(), reason(&status)), (Code::FailedPrecondition, "APPLICATION_DEADLINE_PASSED".to_owned()));
    assert!(status.message().contains("medical_institution") && status.message().contains("2026-02-13"));
    let number = office("01", 42);
    let mut office_client = svc.office_client(&number).await;
    let app = office_client
        .create_application(create_care(care_costs(&number, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    office_client.submit_application(submit(&app.application_id, 1)).await.unwrap();
}

#[tokio::test]
async fn the_explanation_follows_the_callers_language_japanese_by_default() {
    let svc = Service::start().await;
    let number = office("13", 51);
    let mut client = svc.office_client(&number).await;
    let calc = |lang: Option<&'static str>| {
        let mut request = tonic::Request::new(pb::CalculateSubsidyRequest {
            programme_id: "fy2025".to_owned(),
            costs: Some(pb::calculate_subsidy_request::Costs::CareOffice(care_costs(
                &number,
                &["other"],
                &[(2, 30_000)],
                20_000,
                0,
            ))),
        });
        if let Some(lang) = lang {
            request.metadata_mut().insert("accept-language", lang.parse().unwrap());
        }
        request
    };
    let lines = |r: pb::CalculateSubsidyResponse| -> Vec<String> {
        r.calculation.unwrap().lines.into_iter().map(|l| l.description).collect()
    };
    let ja = lines(client.calculate_subsidy(calc(None)).await.unwrap().into_inner());
    assert!(ja.iter().any(|l| l.contains("カードリーダー 2台")), "{ja:?}");
    for header in ["en-US,en;q=0.9,ja;q=0.8", "en", "fr, en;q=0.5"] {
        let en = lines(client.calculate_subsidy(calc(Some(header))).await.unwrap().into_inner());
        assert_eq!(en.len(), ja.len());
        assert!(en.iter().any(|l| l.contains("2 card readers")), "{header}: {en:?}");
    }
    for header in ["ja-JP", "ja,en;q=0.9", "fr", "en;q=0"] {
        let same = lines(client.calculate_subsidy(calc(Some(header))).await.unwrap().into_inner());
        assert_eq!(same, ja, "{header}");
    }
}
