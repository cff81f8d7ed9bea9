//! The exchange end to end through a real server: a care office sends a 第6表+第7表+補足 unit,
//! the provider watches, lists, downloads the very bytes and acknowledges, then sends 実績 and
//! their delete back. Retries change nothing; a third office cannot read; no licence, an
//! unregistered receiver and a bad file are refused with nothing stored.

use std::time::Duration;

use kaigo_platform::auth::{Caller, Role};
use kaigo_proto::kaigo::careplan::v1::care_plan_service_client::CarePlanServiceClient;
use kaigo_proto::kaigo::careplan::v1::download_bundle_response::Payload;
use kaigo_proto::kaigo::careplan::v1::{
    AcknowledgeBundleRequest, Bundle, BundleFileContent, BundleStatus, DownloadBundleRequest, GetBundleRequest,
    GetLicenceRequest, LicenceStatus, ListInboxRequest, ListSentRequest, RegisterLicenceRequest, SendBundleRequest,
    SendUnitKind, WatchInboxRequest,
};
use kaigo_proto::kaigo::common::v1::YearMonth;
use tonic_types::StatusExt;

use crate::harness::{Signed, TestServer, office, reason};

pub const CARE: &str = "1370000018";
pub const PROV: &str = "1370000026";
pub const OTHER: &str = "1370000034";

pub fn golden(dir: &str, name: &str) -> BundleFileContent {
    let path = format!("{}/tests/golden/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    BundleFileContent { file_name: name.to_owned(), content: std::fs::read(path).unwrap() }
}

pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

const USAGE_SEQ: &str = "20250425103100";

pub fn usage_files() -> Vec<BundleFileContent> {
    let tail = format!("{CARE}_43_{PROV}_11_{USAGE_SEQ}.CSV");
    vec![
        golden("valid", &format!("UPPLAN_202505_{tail}")),
        golden("valid", &format!("UPSIKYU_202505_{tail}")),
        golden("valid", &format!("UPHOSOKU_202505_{tail}")),
    ]
}

fn address(from: (&str, &str), to: (&str, &str), kind: SendUnitKind, seq: &str) -> Bundle {
    Bundle {
        sender_office_number: from.0.to_owned(),
        sender_service_type: from.1.to_owned(),
        receiver_office_number: to.0.to_owned(),
        receiver_service_type: to.1.to_owned(),
        service_month: Some(YearMonth { year: 2025, month: 5 }),
        kind: kind as i32,
        file_sequence: seq.to_owned(),
        ..Bundle::default()
    }
}

pub fn usage_request(request_id: &str, files: Vec<BundleFileContent>) -> SendBundleRequest {
    SendBundleRequest {
        request_id: request_id.to_owned(),
        bundle: Some(address((CARE, "43"), (PROV, "11"), SendUnitKind::UsageTicket, USAGE_SEQ)),
        files,
    }
}

pub type Client = CarePlanServiceClient<Signed>;

/// Registers `number` with a paid year from today, as the office itself.
pub async fn licensed(server: &TestServer, role: Role, number: &str) -> (Client, Caller) {
    let caller = office(role, number);
    let mut client = server.client(Some(caller.clone())).await;
    let licence = client
        .register_licence(RegisterLicenceRequest {
            request_id: rid(),
            office_number: number.to_owned(),
            expected_version: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .licence
        .unwrap();
    assert_eq!((licence.status, licence.version), (LicenceStatus::Active as i32, 1));
    (client, caller)
}

/// Downloads a bundle: its metadata and each file's bytes, chunks joined.
pub async fn download(client: &mut Client, id: &str) -> (Bundle, Vec<(String, Vec<u8>)>) {
    let mut stream =
        client.download_bundle(DownloadBundleRequest { bundle_id: id.to_owned() }).await.unwrap().into_inner();
    let mut bundle = None;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut open = false;
    while let Some(message) = stream.message().await.unwrap() {
        match message.payload.unwrap() {
            Payload::Bundle(b) => bundle = Some(b),
            Payload::Chunk(chunk) => {
                if !open {
                    files.push((chunk.file_name.clone(), Vec::new()));
                }
                let last = files.last_mut().unwrap();
                assert_eq!(last.0, chunk.file_name);
                last.1.extend_from_slice(&chunk.data);
                open = !chunk.last;
            }
        }
    }
    (bundle.unwrap(), files)
}

#[tokio::test]
async fn a_usage_ticket_goes_to_the_provider_and_actuals_come_back() {
    let server = TestServer::start().await;
    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let (mut prov, _) = licensed(&server, Role::ServiceProvider, PROV).await;
    let mut watch = prov.watch_inbox(WatchInboxRequest::default()).await.unwrap().into_inner();

    let request_id = rid();
    let sent = care.send_bundle(usage_request(&request_id, usage_files())).await.unwrap().into_inner().bundle.unwrap();
    assert_eq!(sent.status, BundleStatus::Sent as i32);
    assert_eq!(sent.files.len(), 3);
    assert!(sent.person_count > 0);
    assert_eq!(sent.sent_by.as_ref().unwrap().organization_number, CARE);

    // Retries: the same request_id, and the same unit under a new request_id, change nothing.
    let again = care.send_bundle(usage_request(&request_id, usage_files())).await.unwrap().into_inner();
    assert_eq!(again.bundle.unwrap(), sent);
    let resent = care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap().into_inner();
    assert_eq!(resent.bundle.unwrap().bundle_id, sent.bundle_id);
    let listed = care.list_sent(ListSentRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.bundles.len(), 1);
    // The same sequence with other content (the same 第6表 written in another style) is refused.
    let mut changed = usage_files();
    changed[0].content = golden("style", &format!("UPPLAN_202505_{CARE}_43_{PROV}_11_20250425103200.CSV")).content;
    let err = care.send_bundle(usage_request(&rid(), changed)).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::AlreadyExists, "SEQUENCE_ALREADY_SENT"));

    // The provider is told of the arrival and finds it in its inbox.
    let arrival = tokio::time::timeout(Duration::from_secs(5), watch.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(arrival.bundle.unwrap().bundle_id, sent.bundle_id);
    let inbox = prov.list_inbox(ListInboxRequest::default()).await.unwrap().into_inner();
    assert_eq!(inbox.bundles.iter().map(|b| b.bundle_id.as_str()).collect::<Vec<_>>(), vec![sent.bundle_id.as_str()]);
    assert_eq!(inbox.bundles[0].files, sent.files, "a listing carries the files' metadata");

    // Downloaded byte for byte; the first download delivers it.
    let (meta, files) = download(&mut prov, &sent.bundle_id).await;
    assert_eq!(meta.status, BundleStatus::Delivered as i32);
    let expected: Vec<_> = usage_files().into_iter().map(|f| (f.file_name, f.content)).collect();
    assert_eq!(files, expected);
    let ack = prov
        .acknowledge_bundle(AcknowledgeBundleRequest {
            request_id: rid(),
            bundle_id: sent.bundle_id.clone(),
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .bundle
        .unwrap();
    assert_eq!(ack.status, BundleStatus::Acknowledged as i32);
    assert!(ack.deliver_time.is_some() && ack.acknowledge_time.is_some());
    let seen = care.get_bundle(GetBundleRequest { bundle_id: sent.bundle_id.clone() }).await.unwrap().into_inner();
    assert_eq!(seen.bundle.unwrap().status, BundleStatus::Acknowledged as i32);

    // 実績 and their delete travel back the same way.
    let actuals = format!("UPJSK_202505_{PROV}_11_{CARE}_43_20250601090000.CSV");
    let delete = format!("DLTJSK_202505_{PROV}_11_{CARE}_43_20250602090000.CSV");
    for (name, kind, seq) in
        [(&actuals, SendUnitKind::Actuals, "20250601090000"), (&delete, SendUnitKind::ActualsDelete, "20250602090000")]
    {
        let request = SendBundleRequest {
            request_id: rid(),
            bundle: Some(address((PROV, "11"), (CARE, "43"), kind, seq)),
            files: vec![golden("valid", name)],
        };
        prov.send_bundle(request).await.unwrap();
    }
    let inbox = care.list_inbox(ListInboxRequest { page_size: 1, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(inbox.bundles[0].kind, SendUnitKind::Actuals as i32);
    assert!(!inbox.next_page_token.is_empty());
    let page2 = care
        .list_inbox(ListInboxRequest { page_size: 1, page_token: inbox.next_page_token.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page2.bundles[0].kind, SendUnitKind::ActualsDelete as i32);
    assert!(page2.next_page_token.is_empty());
    let (_, files) = download(&mut care, &inbox.bundles[0].bundle_id).await;
    assert_eq!(files, vec![(actuals.clone(), golden("valid", &actuals).content)]);

    // Every read of a bundle is in the audit trail (who and how, never the contents).
    let trail = server.trail(&sent.bundle_id, 2).await;
    let actions: Vec<_> = trail.iter().map(|a| (a.rpc.as_str(), a.party.as_str(), a.outcome.as_str())).collect();
    assert_eq!(actions, vec![("DownloadBundle", PROV, "allowed"), ("GetBundle", CARE, "allowed")]);
    // An open watch keeps its connection busy: close it before the graceful shutdown.
    drop(watch);
    server.shutdown().await;
}

#[tokio::test]
async fn only_the_two_offices_read_a_bundle() {
    let server = TestServer::start().await;
    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let (_prov, _) = licensed(&server, Role::ServiceProvider, PROV).await;
    let (mut third, _) = licensed(&server, Role::ServiceProvider, OTHER).await;
    let sent = care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap().into_inner().bundle.unwrap();

    let id = sent.bundle_id.clone();
    let err = third.get_bundle(GetBundleRequest { bundle_id: id.clone() }).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::PermissionDenied, "NOT_A_PARTY"));
    let err = third.download_bundle(DownloadBundleRequest { bundle_id: id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let err = third
        .acknowledge_bundle(AcknowledgeBundleRequest { request_id: rid(), bundle_id: id.clone(), note: String::new() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let err =
        third.list_inbox(ListInboxRequest { office_number: PROV.to_owned(), ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    // The sender cannot acknowledge its own bundle either.
    let err = care
        .acknowledge_bundle(AcknowledgeBundleRequest { request_id: rid(), bundle_id: id.clone(), note: String::new() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);

    // The insurer of the persons in it may read for audit; another insurer may not.
    let insurer = |number: &str| kaigo_platform::testkit::caller_for(Role::Insurer, number);
    let mut stranger = server.client(Some(insurer("131011"))).await;
    let err = stranger.get_bundle(GetBundleRequest { bundle_id: id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let mut own = server.client(Some(insurer("435073"))).await;
    own.get_bundle(GetBundleRequest { bundle_id: id.clone() }).await.unwrap();

    let trail = server.trail(&id, 4).await;
    let outcomes: Vec<_> = trail.iter().map(|a| (a.party.as_str(), a.outcome.as_str())).collect();
    assert_eq!(outcomes, vec![(OTHER, "denied"), (OTHER, "denied"), ("131011", "denied"), ("435073", "allowed")]);
    server.shutdown().await;
}

#[tokio::test]
async fn sending_needs_a_licence_and_a_registered_receiver() {
    let server = TestServer::start().await;
    let mut unlicensed = server.client(Some(office(Role::CareOffice, CARE))).await;
    let err = unlicensed.send_bundle(usage_request(&rid(), usage_files())).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::FailedPrecondition, "LICENCE_REQUIRED"));
    let licence = unlicensed.get_licence(GetLicenceRequest::default()).await.unwrap().into_inner().licence.unwrap();
    assert_eq!(licence.status, LicenceStatus::None as i32);

    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let err = care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::FailedPrecondition, "RECEIVER_NOT_REGISTERED"));
    // A receiver registered on the wrong side is not a provider either.
    let mut as_office = server.client(Some(office(Role::CareOffice, PROV))).await;
    as_office
        .register_licence(RegisterLicenceRequest {
            request_id: rid(),
            office_number: PROV.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap_err();
    assert_eq!(reason(&err), "RECEIVER_NOT_REGISTERED");

    // Another office cannot send in the care office's name.
    let mut impostor = server.client(Some(office(Role::CareOffice, OTHER))).await;
    let err = impostor.send_bundle(usage_request(&rid(), usage_files())).await.unwrap_err();
    assert_eq!((err.code(), reason(&err).as_str()), (tonic::Code::PermissionDenied, "NOT_SENDER"));
    assert!(care.list_sent(ListSentRequest::default()).await.unwrap().into_inner().bundles.is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_bundle_lists_every_problem_and_stores_nothing() {
    let server = TestServer::start().await;
    let (mut care, _) = licensed(&server, Role::CareOffice, CARE).await;
    let (mut prov, _) = licensed(&server, Role::ServiceProvider, PROV).await;
    let mut files = usage_files();
    files.remove(1);
    files[0] = golden("invalid/column-count", &files[0].file_name.clone());
    let err = care.send_bundle(usage_request(&rid(), files)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // Each problem is a field violation: the path names file, line and column, the reason is
    // the stable code (issue 17 item 7), the description the rule.
    let violations = err.get_error_details().bad_request().unwrap().field_violations.clone();
    let found: Vec<_> = violations.iter().map(|v| (v.field.as_str(), v.reason.as_str())).collect();
    assert_eq!(found, vec![("files[0].line[2]", "COLUMN_COUNT"), ("files", "MISSING_REQUIRED_FILE")]);
    assert!(violations[0].description.contains("25 columns"), "{violations:?}");

    // A file named for another month than the bundle says: the problem is in its name.
    let mut files = usage_files();
    files[2] = golden("valid", "UPHOSOKU_000000_1370000018_43_1370000026_11_20250425103000.CSV");
    let err = care.send_bundle(usage_request(&rid(), files)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let violations = err.get_error_details().bad_request().unwrap().field_violations.clone();
    assert!(
        violations.iter().any(|v| v.field == "files[2].file_name" && v.reason == "SEQUENCE_MISMATCH"),
        "{violations:?}"
    );

    assert!(care.list_sent(ListSentRequest::default()).await.unwrap().into_inner().bundles.is_empty());
    assert!(prov.list_inbox(ListInboxRequest::default()).await.unwrap().into_inner().bundles.is_empty());
    server.shutdown().await;
}
