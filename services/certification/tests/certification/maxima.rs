//! Every string and list of a request has a documented maximum (issue 21 item 2): beyond it the
//! call is INVALID_ARGUMENT with one field violation naming the field's path.

use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::common::v1 as common;
use tonic::Code;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_and_lists_beyond_their_maximum_are_refused_naming_the_field() {
    let h = Harness::new(d(2026, 4, 10)).await;
    let replica = h.replica().await;
    let mut client = replica.client.clone();
    let insurer = insurer_caller(INSURER);

    // 21 designated service types where 20 are taken; a code listed twice is refused as well.
    let decision = |designated: Vec<String>| pb::RecordDecisionRequest {
        request_id: rid(),
        application_id: rid(),
        expected_version: 1,
        care_level: common::CareLevel::Care1 as i32,
        decision_date: Some(wire(d(2026, 4, 10))),
        designated_service_types: designated,
        ..Default::default()
    };
    let codes: Vec<String> = (10..31).map(|n| n.to_string()).collect();
    let err =
        client.record_decision(signed(&replica.keys, &insurer, "RecordDecision", decision(codes))).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["designated_service_types"]);
    let twice = decision(vec!["11".to_owned(), "11".to_owned()]);
    let err = client.record_decision(signed(&replica.keys, &insurer, "RecordDecision", twice)).await.unwrap_err();
    assert_eq!(fields(&err), ["designated_service_types[1]"]);

    // One character beyond: a family relationship of 51, an order_by of 33, a page token of 41.
    let mut application = new_application("0000000101", d(2026, 4, 10), "");
    application.applicant.as_mut().unwrap().family_relationship = "続".repeat(51);
    let r = pb::SubmitApplicationRequest { request_id: rid(), application: Some(application) };
    let err = client.submit_application(signed(&replica.keys, &insurer, "SubmitApplication", r)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["application.applicant.family_relationship"]);
    let list = pb::ListApplicationsRequest { order_by: format!("urgency{}", " ".repeat(26)), ..Default::default() };
    let err = client.list_applications(signed(&replica.keys, &insurer, "ListApplications", list)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["order_by"]);
    let list = pb::ListApplicationsRequest { page_token: format!("{}1.0", "0".repeat(38)), ..Default::default() };
    let err = client.list_applications(signed(&replica.keys, &insurer, "ListApplications", list)).await.unwrap_err();
    assert_eq!(fields(&err), ["page_token"]);

    // Ids are the 36-character hyphenated UUID: a longer spelling of one is refused.
    let get = pb::GetApplicationRequest { application_id: format!("urn:uuid:{}", rid()) };
    let err = client.get_application(signed(&replica.keys, &insurer, "GetApplication", get)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), ["application_id"]);
    replica.stop().await;
}
