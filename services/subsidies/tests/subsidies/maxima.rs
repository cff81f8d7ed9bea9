//! Every string and list of a request has a documented maximum (issue 21 item 2): beyond it the
//! call is INVALID_ARGUMENT with one field violation naming the field's path, and nothing is
//! stored.

use kaigo_proto::kaigo::subsidies::v1 as pb;
use tonic::Code;

use crate::harness::*;

#[tokio::test]
async fn strings_and_lists_beyond_their_maximum_are_refused_naming_the_field() {
    let svc = Service::start().await;
    let number = office("13", 61);
    let mut client = svc.office_client(&number).await;

    // 33 category ids where a programme has at most 32, and 101 reader lines where 100 are taken.
    let many: Vec<String> = (0..33).map(|i| format!("c{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let status = client.create_application(create_care(care_costs(&number, &many, &[], 0, 0))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["application.costs.care_office.category_ids"]);
    let readers = vec![(1, 10_000); 101];
    let status =
        client.create_application(create_care(care_costs(&number, &["other"], &readers, 0, 0))).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["application.costs.care_office.readers"]);
    // A category id beyond 32 characters, named by its index.
    let long = "x".repeat(33);
    let status =
        client.create_application(create_care(care_costs(&number, &["other", &long], &[], 0, 0))).await.unwrap_err();
    assert_eq!(fields(&status), ["application.costs.care_office.category_ids[1]"]);
    assert_eq!(svc.application_count().await, 0);

    // Ids and tokens beyond their length: a programme id of 33 characters, an application id in a
    // longer UUID spelling, a page token padded past 16 characters, an applicant number past 10.
    let status = client.get_programme(pb::GetProgrammeRequest { programme_id: "f".repeat(33) }).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["programme_id"]);
    let status = client
        .get_application(pb::GetApplicationRequest { application_id: format!("urn:uuid:{}", new_id()) })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["application_id"]);
    let status = client
        .list_programmes(pb::ListProgrammesRequest { page_token: format!("{}1", "0".repeat(16)), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["page_token"]);
    let status = client
        .list_applications(pb::ListApplicationsRequest { applicant_number: format!("{number}0"), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["applicant_number"]);
}
