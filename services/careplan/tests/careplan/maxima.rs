//! Every string and list of a request has a documented maximum (issue 21 item 2): beyond it the
//! call is INVALID_ARGUMENT with one field violation naming the field's path.

use kaigo_platform::auth::Role;
use kaigo_proto::kaigo::careplan::v1::{
    AcknowledgeBundleRequest, BundleFileContent, GetCarePlanSummaryRequest, ListSentRequest, RegisterLicenceRequest,
    ValidateFilesRequest, WatchInboxRequest,
};
use tonic_types::StatusExt;

use crate::exchange::{CARE, rid};
use crate::harness::{TestServer, office};

/// The fields of the field violations of a refused call, which must be INVALID_ARGUMENT.
fn fields(err: &tonic::Status) -> Vec<String> {
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    err.get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn strings_and_lists_beyond_their_maximum_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let mut client = server.client(Some(office(Role::CareOffice, CARE))).await;

    // Free text one character beyond its documented maximum (100 and 64 characters).
    let err = client
        .register_licence(RegisterLicenceRequest {
            request_id: rid(),
            office_number: CARE.to_owned(),
            office_name: "事".repeat(101),
            payment_reference: "R".repeat(65),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["office_name", "payment_reference"]);

    // 65 files where at most 64 are parsed in one call: refused before any parsing.
    let file = BundleFileContent { file_name: "UPPLAN.CSV".to_owned(), content: Vec::new() };
    let err = client
        .validate_files(ValidateFilesRequest { files: vec![file.clone(); 65], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["files"]);

    // A file name beyond 128 characters, named by its index.
    let long = BundleFileContent { file_name: format!("{}.CSV", "X".repeat(125)), content: Vec::new() };
    let err = client
        .validate_files(ValidateFilesRequest { files: vec![file, long], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["files[1].file_name"]);

    // Ids and tokens are 36 characters: a UUID in another (longer) spelling is refused too.
    let urn = format!("urn:uuid:{}", rid());
    let err = client
        .acknowledge_bundle(AcknowledgeBundleRequest {
            request_id: rid(),
            bundle_id: urn.clone(),
            note: "x".repeat(501),
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["bundle_id", "note"]);
    let err = client.list_sent(ListSentRequest { page_token: urn.clone(), ..Default::default() }).await.unwrap_err();
    assert_eq!(fields(&err), ["page_token"]);
    let err = client
        .list_sent(ListSentRequest { office_number: format!("{CARE}0"), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["office_number"]);
    let err = client.watch_inbox(WatchInboxRequest { after_cursor: urn, ..Default::default() }).await.unwrap_err();
    assert_eq!(fields(&err), ["after_cursor"]);
    // A person's numbers are 6 and 10 characters.
    let err = client
        .get_care_plan_summary(GetCarePlanSummaryRequest {
            insurer_number: "4350730".into(),
            insured_number: "00000000011".into(),
            service_month: None,
        })
        .await
        .unwrap_err();
    assert_eq!(fields(&err), ["insurer_number", "insured_number"]);
    server.shutdown().await;
}
