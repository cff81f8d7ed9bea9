//! WatchInbox through a real server: the catch-up, a resume after a cursor without repeats, a
//! late-committed bundle with an older id, and no watching of another office's inbox.

use std::time::Duration;

use kaigo_platform::auth::Role;
use kaigo_proto::kaigo::careplan::v1::{RegisterLicenceRequest, WatchInboxRequest};

use crate::exchange::{CARE, PROV, rid, usage_files, usage_request};
use crate::harness::{TestServer, office};

#[tokio::test]
async fn watch_inbox_resumes_after_its_cursor() {
    let server = TestServer::start().await;
    for (role, number) in [(Role::CareOffice, CARE), (Role::ServiceProvider, PROV)] {
        let mut c = server.client(Some(office(role, number))).await;
        c.register_licence(RegisterLicenceRequest {
            request_id: rid(),
            office_number: number.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let mut care = server.client(Some(office(Role::CareOffice, CARE))).await;
    let mut prov = server.client(Some(office(Role::ServiceProvider, PROV))).await;
    let sent = care.send_bundle(usage_request(&rid(), usage_files())).await.unwrap().into_inner().bundle.unwrap();
    let mut watch = prov.watch_inbox(WatchInboxRequest::default()).await.unwrap().into_inner();
    let first = tokio::time::timeout(Duration::from_secs(5), watch.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(first.bundle.unwrap().bundle_id, sent.bundle_id);
    drop(watch);
    // Resuming after that cursor shows nothing old; a new arrival comes through.
    let mut resumed = prov
        .watch_inbox(WatchInboxRequest { after_cursor: first.cursor.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(tokio::time::timeout(Duration::from_millis(600), resumed.message()).await.is_err());
    let plan = crate::exchange::golden("valid", "DLTPLAN_202505_1370000018_43_1370000026_11_20250502090000.CSV");
    let mut request = usage_request(&rid(), vec![plan]);
    if let Some(b) = request.bundle.as_mut() {
        b.kind = kaigo_proto::kaigo::careplan::v1::SendUnitKind::UsageTicketDelete as i32;
        b.file_sequence = "20250502090000".to_owned();
    }
    let delete = care.send_bundle(request).await.unwrap().into_inner().bundle.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), resumed.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(next.bundle.unwrap().bundle_id, delete.bundle_id);
    // A bundle whose id is older than the newest sent but whose transaction committed later
    // (ids are taken before the commit) still comes through. (300 ms: after the resume cursor,
    // which is more than the 600 ms wait above before the delete.)
    let (secs, nanos) = uuid::Uuid::parse_str(&delete.bundle_id).unwrap().get_timestamp().unwrap().to_unix();
    let earlier = secs * 1000 + u64::from(nanos / 1_000_000) - 300;
    let late_id = uuid::Builder::from_unix_timestamp_millis(earlier, &[9; 10]).into_uuid().to_string();
    let now = chrono::Utc::now();
    let late = kaigo_careplan::store::entities::bundle::Model {
        id: late_id.clone(),
        sender_office: CARE.to_owned(),
        sender_service_type: "43".to_owned(),
        receiver_office: PROV.to_owned(),
        receiver_service_type: "11".to_owned(),
        service_month: "202505".to_owned(),
        kind: kaigo_proto::kaigo::careplan::v1::SendUnitKind::UsageTicketDelete as i32,
        file_sequence: "20250502090500".to_owned(),
        content_hash: String::new(),
        person_count: 0,
        insurer_numbers: String::new(),
        status: kaigo_proto::kaigo::careplan::v1::BundleStatus::Sent as i32,
        sent_at: now,
        sent_by_subject: "late".to_owned(),
        delivered_at: None,
        acknowledged_at: None,
        acknowledged_by_subject: None,
        acknowledge_note: String::new(),
        request_id: rid(),
    };
    kaigo_careplan::store::insert_bundle(&server.conn, late, vec![]).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), resumed.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(next.bundle.unwrap().bundle_id, late_id);
    assert!(tokio::time::timeout(Duration::from_millis(600), resumed.message()).await.is_err(), "sent once only");
    drop(resumed);
    // Someone else's inbox cannot be watched.
    let err =
        care.watch_inbox(WatchInboxRequest { office_number: PROV.to_owned(), ..Default::default() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    server.shutdown().await;
}

/// The usage unit of [`usage_files`] under another file sequence (the names carry it; the
/// bytes do not).
pub(crate) fn usage_at(seq: &str) -> kaigo_proto::kaigo::careplan::v1::SendBundleRequest {
    let files = usage_files()
        .into_iter()
        .map(|mut f| {
            f.file_name = f.file_name.replace("20250425103100", seq);
            f
        })
        .collect();
    let mut request = usage_request(&rid(), files);
    if let Some(b) = request.bundle.as_mut() {
        b.file_sequence = seq.to_owned();
    }
    request
}

/// The next message of a watch (10 s: a guard against a hung test, not a speed assertion).
async fn next_id(watch: &mut tonic::Streaming<kaigo_proto::kaigo::careplan::v1::WatchInboxResponse>) -> String {
    let message = tokio::time::timeout(Duration::from_secs(10), watch.message()).await.unwrap().unwrap().unwrap();
    message.bundle.unwrap().bundle_id
}

/// Issue 17 item 1: an ACKNOWLEDGED bundle is never streamed, neither by the catch-up of a new
/// or resumed watch nor by the live polls and their look-back. Each check sends a later bundle
/// as a marker: the scan that finds the marker also covers the acknowledged one, so the first
/// message being the marker shows the acknowledged bundle was left out (no waiting on a clock).
#[tokio::test]
async fn watch_inbox_never_streams_acknowledged_bundles() {
    let server = TestServer::start().await;
    let (mut care, _) = crate::exchange::licensed(&server, Role::CareOffice, CARE).await;
    let (mut prov, _) = crate::exchange::licensed(&server, Role::ServiceProvider, PROV).await;
    let before = uuid::Uuid::now_v7().to_string();
    let a = care.send_bundle(usage_at("20250425110000")).await.unwrap().into_inner().bundle.unwrap();
    prov.acknowledge_bundle(kaigo_proto::kaigo::careplan::v1::AcknowledgeBundleRequest {
        request_id: rid(),
        bundle_id: a.bundle_id.clone(),
        note: String::new(),
    })
    .await
    .unwrap();

    // Catch-up with nothing unacknowledged, then the live phase: the marker comes first.
    let mut fresh = prov.watch_inbox(WatchInboxRequest::default()).await.unwrap().into_inner();
    // A resumed watch whose cursor is older than the acknowledged bundle.
    let mut resumed =
        prov.watch_inbox(WatchInboxRequest { after_cursor: before, ..Default::default() }).await.unwrap().into_inner();
    let b = care.send_bundle(usage_at("20250425120000")).await.unwrap().into_inner().bundle.unwrap();
    assert_eq!(next_id(&mut fresh).await, b.bundle_id, "the acknowledged bundle is not an arrival");
    assert_eq!(next_id(&mut resumed).await, b.bundle_id, "nor after a resume cursor");

    // A new watch catches up on B (unacknowledged) only; its live look-back from B covers A
    // (sent moments before B), which stays out: the next message is the next arrival.
    let mut later = prov.watch_inbox(WatchInboxRequest::default()).await.unwrap().into_inner();
    assert_eq!(next_id(&mut later).await, b.bundle_id);
    let c = care.send_bundle(usage_at("20250425130000")).await.unwrap().into_inner().bundle.unwrap();
    assert_eq!(next_id(&mut later).await, c.bundle_id);
    assert_eq!(next_id(&mut fresh).await, c.bundle_id);

    // A bundle acknowledged while a watch is open is not streamed by a later poll either.
    let d = care.send_bundle(usage_at("20250425140000")).await.unwrap().into_inner().bundle.unwrap();
    assert_eq!(next_id(&mut later).await, d.bundle_id);
    prov.acknowledge_bundle(kaigo_proto::kaigo::careplan::v1::AcknowledgeBundleRequest {
        request_id: rid(),
        bundle_id: d.bundle_id.clone(),
        note: String::new(),
    })
    .await
    .unwrap();
    let mut after_ack = prov.watch_inbox(WatchInboxRequest::default()).await.unwrap().into_inner();
    let e = care.send_bundle(usage_at("20250425150000")).await.unwrap().into_inner().bundle.unwrap();
    // Unacknowledged B and C come first in the catch-up, then E; A and D never.
    let ids = [next_id(&mut after_ack).await, next_id(&mut after_ack).await, next_id(&mut after_ack).await];
    assert_eq!(ids, [b.bundle_id.clone(), c.bundle_id.clone(), e.bundle_id.clone()]);
    drop((fresh, resumed, later, after_ack));
    server.shutdown().await;
}
