//! Every string and list of a request has a documented maximum (issue 21 item 2): beyond it the
//! call is INVALID_ARGUMENT with one field violation naming the field's path; duplicates in a
//! filter list are folded.

use kaigo_proto::kaigo::documents::v1::{
    CancelOpinionRequestRequest, GetOpinionRequest, ListOpinionRequestsRequest, ListOpinionsRequest, OpinionStatus,
};
use tonic::Code;

use crate::harness::*;

#[tokio::test]
async fn strings_and_lists_beyond_their_maximum_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let mut doctor = server.client(institution(INSTITUTION)).await;
    let mut insurer_client = server.client(insurer(INSURER)).await;

    // A filter of 17 states where 16 are taken; 16 repeats of one state are folded, not refused.
    let submitted = OpinionStatus::Submitted as i32;
    let status = doctor
        .list_opinions(ListOpinionsRequest { statuses: vec![submitted; 17], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violations(&status), ["statuses"]);
    doctor.list_opinions(ListOpinionsRequest { statuses: vec![submitted; 16], ..Default::default() }).await.unwrap();

    // One character beyond: an application id of 65, a reason of 201.
    let status = insurer_client
        .list_opinion_requests(ListOpinionRequestsRequest { application_id: "a".repeat(65), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violations(&status), ["application_id"]);
    let status = insurer_client
        .cancel_opinion_request(CancelOpinionRequestRequest {
            request_id: rid(),
            opinion_request_id: rid(),
            reason: "理".repeat(201),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violations(&status), ["reason"]);

    // Ids are the 36-character hyphenated UUID: a longer spelling of one is refused.
    let status = doctor
        .get_opinion(GetOpinionRequest { opinion_id: format!("urn:uuid:{}", rid()), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violations(&status), ["opinion_id"]);
    server.shutdown().await;
}
