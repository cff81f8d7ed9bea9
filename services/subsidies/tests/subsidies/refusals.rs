//! Bad input and broken rules: clear errors, nothing stored.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use kaigo_platform::testkit::eventually;
use kaigo_proto::kaigo::subsidies::v1 as pb;
use tonic::Code;

use crate::harness::*;

#[tokio::test]
async fn a_second_application_for_the_same_office_is_refused() {
    let svc = Service::start().await;
    let number = office("01", 31);
    let mut client = svc.office_client(&number).await;
    let first = client
        .create_application(create_care(care_costs(&number, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let status = client
        .create_application(create_care(care_costs(&number, &["residential"], &[(2, 10_000)], 0, 0)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(reason(&status), "APPLICATION_EXISTS");
    // The refusal names the existing application, which is the caller's own.
    let info = tonic_types::StatusExt::get_error_details(&status).error_info().unwrap().clone();
    assert_eq!(info.metadata.get("application_id"), Some(&first.application_id));
    assert_eq!(svc.application_count().await, 1);
    let kept =
        client.get_application(pb::GetApplicationRequest { application_id: first.application_id }).await.unwrap();
    assert_eq!(kept.into_inner().application.unwrap().version, 1);
}

#[tokio::test]
async fn another_office_is_permission_denied() {
    let svc = Service::start().await;
    let mine = office("13", 41);
    let theirs = office("13", 42);
    let mut owner = svc.office_client(&mine).await;
    let mut intruder = svc.office_client(&theirs).await;
    let app = owner
        .create_application(create_care(care_costs(&mine, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let id = app.application_id.clone();

    // Applying in another office's name.
    let status = intruder
        .create_application(create_care(care_costs(&mine, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // Reading, submitting, listing by number: refused, and an unknown id looks the same.
    let status = intruder.get_application(pb::GetApplicationRequest { application_id: id.clone() }).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let unknown = uuid::Uuid::now_v7().to_string();
    let status = intruder.get_application(pb::GetApplicationRequest { application_id: unknown }).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = intruder
        .submit_application(pb::SubmitApplicationRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = intruder
        .list_applications(pb::ListApplicationsRequest { applicant_number: mine.clone(), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let own = intruder.list_applications(pb::ListApplicationsRequest::default()).await.unwrap().into_inner();
    assert!(own.applications.is_empty());

    // Insurers have no part in subsidies.
    let status = svc
        .insurer()
        .await
        .get_application(pb::GetApplicationRequest { application_id: id.clone() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);

    // The refused read is in the audit trail.
    let denied = eventually(Duration::from_secs(10), || async {
        let reads = kaigo_platform::audit::reads_of_resource(&svc.db, &id).await.unwrap();
        reads.into_iter().find(|r| r.outcome == "denied" && r.caller_party == theirs)
    })
    .await;
    assert!(denied.is_some(), "the refused read is audited");
    let unchanged = owner.get_application(pb::GetApplicationRequest { application_id: id }).await.unwrap();
    assert_eq!(unchanged.into_inner().application.unwrap().status, pb::ApplicationStatus::Draft as i32);
}

#[tokio::test]
async fn submission_closes_at_the_end_of_the_deadline_day_in_jst() {
    let svc = Service::start().await;
    let early = office("21", 51);
    let late = office("21", 52);
    let mut on_time = svc.office_client(&early).await;
    let mut too_late = svc.office_client(&late).await;
    let mut ids = Vec::new();
    for client in [&mut on_time, &mut too_late] {
        let number = if ids.is_empty() { &early } else { &late };
        let app = client
            .create_application(create_care(care_costs(number, &["other"], &[(1, 10_000)], 0, 0)))
            .await
            .unwrap()
            .into_inner()
            .application
            .unwrap();
        ids.push(app.application_id);
    }

    // 2026-03-13 23:59:59 JST is 14:59:59 UTC: still the deadline day.
    svc.clock.set(Utc.with_ymd_and_hms(2026, 3, 13, 14, 59, 59).unwrap());
    let submitted = on_time
        .submit_application(pb::SubmitApplicationRequest {
            request_id: new_id(),
            application_id: ids[0].clone(),
            expected_version: 1,
        })
        .await
        .unwrap();
    assert_eq!(submitted.into_inner().application.unwrap().status, pb::ApplicationStatus::Submitted as i32);

    // One second later it is 2026-03-14 in Tokyo (still the 13th in UTC).
    svc.clock.set(Utc.with_ymd_and_hms(2026, 3, 13, 15, 0, 0).unwrap());
    let status = too_late
        .submit_application(pb::SubmitApplicationRequest {
            request_id: new_id(),
            application_id: ids[1].clone(),
            expected_version: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "APPLICATION_DEADLINE_PASSED");
    let kept = too_late.get_application(pb::GetApplicationRequest { application_id: ids[1].clone() }).await.unwrap();
    let kept = kept.into_inner().application.unwrap();
    assert_eq!((kept.status, kept.version), (pb::ApplicationStatus::Draft as i32, 1));

    // No new drafts after the deadline either.
    let newcomer = office("21", 53);
    let status = svc
        .office_client(&newcomer)
        .await
        .create_application(create_care(care_costs(&newcomer, &["other"], &[(1, 10_000)], 0, 0)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(svc.application_count().await, 2);
}

#[tokio::test]
async fn bad_input_stores_nothing() {
    let svc = Service::start().await;
    let code = institution("27", 61);
    let mut hospital = svc.institution_client(&code).await;

    // A hospital without beds.
    let status = hospital
        .create_application(create_medical(medical_costs(&code, pb::InstitutionType::Hospital, 0, 500_000)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["application.costs.medical_institution.beds"]);

    // No institution type, an absurd cost, a bad request id.
    let mut request = create_medical(medical_costs(&code, pb::InstitutionType::Unspecified, 10, 5_000_000_000_000));
    request.request_id = "again".to_owned();
    let status = hospital.create_application(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut got = fields(&status);
    got.sort();
    assert_eq!(got, ["application.costs.medical_institution.institution_type", "request_id"]);

    // An unknown category, negative amounts.
    let number = office("27", 62);
    let status = svc
        .office_client(&number)
        .await
        .create_application(create_care(care_costs(&number, &["hot_spring"], &[(-1, 10_000)], -100, 0)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status).len(), 3, "{:?}", fields(&status));

    // Set-up support alone: a draft may hold it, but nothing is eligible, so it cannot be submitted.
    let setup_only = office("27", 63);
    let mut client = svc.office_client(&setup_only).await;
    let draft = client
        .create_application(create_care(care_costs(&setup_only, &["other"], &[], 0, 30_000)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    assert_eq!(draft.calculation.as_ref().unwrap().eligible_amount_yen, 0);
    let status = client
        .submit_application(pb::SubmitApplicationRequest {
            request_id: new_id(),
            application_id: draft.application_id.clone(),
            expected_version: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "NOTHING_ELIGIBLE");
    assert_eq!(svc.application_count().await, 1);
}

#[tokio::test]
async fn a_stale_version_is_aborted_and_workflow_order_is_enforced() {
    let svc = Service::start().await;
    let number = office("40", 71);
    let mut client = svc.office_client(&number).await;
    let mut operator = svc.operator().await;
    let app = client
        .create_application(create_care(care_costs(&number, &["other"], &[(1, 10_000)], 5_000, 0)))
        .await
        .unwrap()
        .into_inner()
        .application
        .unwrap();
    let id = app.application_id;
    let status = client
        .submit_application(pb::SubmitApplicationRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 7,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Aborted);

    // Approving a draft breaks the workflow.
    let status = operator
        .approve_application(pb::ApproveApplicationRequest {
            request_id: new_id(),
            application_id: id.clone(),
            expected_version: 1,
            approved_amount_yen: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "APPLICATION_NOT_UNDER_REVIEW");

    // A rejection needs a reason.
    let status = operator
        .reject_application(pb::RejectApplicationRequest {
            request_id: new_id(),
            application_id: id,
            expected_version: 1,
            reason: "  ".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["reason"]);
}
