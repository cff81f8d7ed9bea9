//! An application from draft to payment, idempotent retries, evidence, audit and the report.

use std::time::Duration;

use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::subsidies::v1 as pb;
use tonic::Code;

use crate::harness::*;

#[tokio::test]
async fn draft_to_payment_with_audit_and_report() {
    let svc = Service::start().await;
    let number = office("21", 11);
    let mut applicant = svc.office_client(&number).await;
    let mut operator = svc.operator().await;

    let draft = applicant
        .create_application(create_care(care_costs(&number, &["residential"], &[(2, 15_000)], 40_000, 0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(draft.status, pb::ApplicationStatus::Draft as i32);
    assert_eq!(draft.version, 1);
    assert_eq!(draft.prefecture_code, "21");
    assert_eq!(draft.calculation.as_ref().unwrap().eligible_amount_yen, 55_000);
    let id = draft.application_id.clone();

    // The office changes its costs, then attaches a receipt, then submits.
    let updated = applicant
        .update_application(pb::UpdateApplicationRequest {
            request_id: new_id(),
            application: Some(pb::Application {
                application_id: id.clone(),
                costs: Some(pb::application::Costs::CareOffice(care_costs(
                    &number,
                    &["residential"],
                    &[(2, 15_000)],
                    20_000,
                    0,
                ))),
                ..Default::default()
            }),
            expected_version: 1,
        })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(updated.calculation.as_ref().unwrap().eligible_amount_yen, 50_000);
    assert_eq!(updated.version, 2);

    let attached = applicant
        .attach_evidence(pb::AttachEvidenceRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 2,
            evidence: Some(pb::Evidence {
                attachment_id: uuid::Uuid::new_v4().to_string(),
                kind: pb::EvidenceKind::Receipt as i32,
                description: "領収書".to_owned(),
                attach_time: None,
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(attached.evidence.len(), 1);
    assert_eq!(attached.version, 3);

    let submit = pb::SubmitApplicationRequest { request_id: new_id(), application_id: id.clone(), expected_version: 3 };
    let submitted = applicant.submit_application(submit.clone()).await.unwrap().into_inner().application.unwrap();
    assert_eq!(submitted.status, pb::ApplicationStatus::Submitted as i32);
    assert!(submitted.submit_time.is_some());

    // A retry of the submission returns the first answer and changes nothing.
    let again = applicant.submit_application(submit).await.unwrap().into_inner().application.unwrap();
    assert_eq!(again, submitted);

    // The office cannot review its own application.
    let status = applicant
        .review_application(pb::ReviewApplicationRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 4,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    let reviewed = operator
        .review_application(pb::ReviewApplicationRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 4,
        })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(reviewed.status, pb::ApplicationStatus::UnderReview as i32);

    // Approving more than calculated is refused, and so is 0: the amount is always explicit
    // (0 is not "the eligible amount").
    for (amount, problem) in [(50_001, "must not exceed"), (0, "required"), (-1, "required")] {
        let status = operator
            .approve_application(pb::ApproveApplicationRequest {
                request_id: new_id(),
                application_id: id.clone(),
                expected_version: 5,
                approved_amount_yen: amount,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{amount}");
        assert_eq!(fields(&status), ["approved_amount_yen"], "{amount}");
        assert!(status.message().contains(problem), "{amount}: {}", status.message());
    }
    let approved = operator
        .approve_application(pb::ApproveApplicationRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 5,
            approved_amount_yen: 50_000,
        })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(approved.approved_amount_yen, 50_000);
    assert_eq!(approved.updated_by.as_ref().unwrap().subject, "operator-1");

    let paid = operator
        .record_payment(pb::RecordPaymentRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 6,
            paid_amount_yen: 50_000,
            paid_date: Some(kaigo_proto::google::r#type::Date { year: 2026, month: 2, day: 2 }),
            payment_reference: "KOKUHO-0001".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(paid.status, pb::ApplicationStatus::Paid as i32);
    assert_eq!(paid.paid_amount_yen, 50_000);

    // The office reads its application; each read is audited.
    let read = applicant.get_application(pb::GetApplicationRequest { application_id: id.clone() }).await.unwrap();
    assert_eq!(read.into_inner().application.unwrap().version, 7);
    let listed = operator.list_applications(pb::ListApplicationsRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.total_size, 1);
    // One record per call: the list names every application it showed. The trail is written
    // off the request path; wait for both records.
    let reads = eventually(Duration::from_secs(10), || async {
        let reads = kaigo_platform::audit::reads_of_resource(&svc.db, &id).await.unwrap();
        (reads.len() >= 2).then_some(reads)
    })
    .await
    .expect("both reads in the audit trail");
    let seen: Vec<_> = reads
        .iter()
        .map(|r| (r.rpc.as_str(), r.caller_role.as_str(), r.purpose.as_str(), r.outcome.as_str(), r.category.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("GetApplication", "care_office", "own_application", "allowed", "subsidy_application"),
            ("ListApplications", "operator", "subsidy_review", "allowed", "subsidy_application"),
        ]
    );
    assert_eq!(reads[0].caller_party, number);
    assert_eq!(reads[1].caller_party, "operator:operator-1");

    // A second office (Osaka) is approved but not yet paid; a third (Osaka) is rejected.
    for (n, outcome) in [(21, "approve"), (22, "reject")] {
        let other = office("27", n);
        let mut client = svc.office_client(&other).await;
        let app = client
            .create_application(create_care(care_costs(
                &other,
                &["other", "visit_day_short_stay"],
                &[(1, 10_000)],
                20_000,
                0,
            )))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap();
        let id = app.application_id;
        client
            .submit_application(pb::SubmitApplicationRequest {
                request_id: new_id(),
                application_id: id.clone(),
                expected_version: 1,
            })
            .await
            .unwrap();
        operator
            .review_application(pb::ReviewApplicationRequest {
                request_id: new_id(),
                application_id: id.clone(),
                expected_version: 2,
            })
            .await
            .unwrap();
        if outcome == "approve" {
            operator
                .approve_application(pb::ApproveApplicationRequest {
                    request_id: new_id(),
                    application_id: id,
                    expected_version: 3,
                    approved_amount_yen: 25_000,
                })
                .await
                .unwrap();
        } else {
            let rejected = operator
                .reject_application(pb::RejectApplicationRequest {
                    request_id: new_id(),
                    application_id: id,
                    expected_version: 3,
                    reason: "領収書の日付が対象期間外".to_owned(),
                })
                .await
                .unwrap()
                .into_inner()
                .application
                .unwrap();
            assert_eq!(rejected.rejection_reason, "領収書の日付が対象期間外");
        }
    }
    // A draft is not in the report.
    let drafting = office("27", 23);
    svc.office_client(&drafting)
        .await
        .create_application(create_care(care_costs(&drafting, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap();

    let report = operator
        .get_report(pb::GetReportRequest { programme_id: "fy2025".to_owned(), prefecture_code: String::new() })
        .await
        .unwrap()
        .into_inner();
    let rows: Vec<_> = report
        .rows
        .iter()
        .map(|r| {
            (
                r.prefecture_code.as_str(),
                r.category_key.as_str(),
                r.submitted_count,
                r.approved_count,
                r.approved_amount_yen,
                r.paid_count,
                r.paid_amount_yen,
                r.rejected_count,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("21", "residential", 1, 1, 50_000, 1, 50_000, 0),
            ("27", "other+visit_day_short_stay", 2, 1, 25_000, 0, 0, 1),
        ]
    );
    let total = report.total.unwrap();
    assert_eq!((total.submitted_count, total.approved_amount_yen, total.paid_amount_yen), (3, 75_000, 50_000));

    let osaka = operator
        .get_report(pb::GetReportRequest { programme_id: "fy2025".to_owned(), prefecture_code: "27".to_owned() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(osaka.rows.len(), 1);

    // Reports are for operators only.
    let status = applicant
        .get_report(pb::GetReportRequest { programme_id: "fy2025".to_owned(), prefecture_code: String::new() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_retried_create_returns_the_first_application_and_a_reused_id_is_refused() {
    let svc = Service::start().await;
    let code = institution("13", 5);
    let mut client = svc.institution_client(&code).await;
    let request = create_medical(medical_costs(&code, pb::InstitutionType::Hospital, 199, 1_000_000));
    let first = client.create_application(request.clone()).await.unwrap().into_inner();
    let second = client.create_application(request.clone()).await.unwrap().into_inner();
    assert_eq!(first, second);
    assert_eq!(first.application.as_ref().unwrap().calculation.as_ref().unwrap().eligible_amount_yen, 398_000);
    assert_eq!(svc.application_count().await, 1);

    // The same request_id with another body.
    let mut changed = request.clone();
    if let Some(pb::application::Costs::MedicalInstitution(m)) =
        changed.application.as_mut().and_then(|a| a.costs.as_mut())
    {
        m.software_change_cost_yen = 900_000;
    }
    let status = client.create_application(changed).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(reason(&status), "REQUEST_ID_REUSED");

    // The same request_id from another caller never returns this institution's application.
    let other = institution("13", 6);
    let status = svc.institution_client(&other).await.create_application(request).await.unwrap_err();
    assert_ne!(status.code(), Code::Ok);
    assert_eq!(svc.application_count().await, 1);
}
