//! ケアプランデータ連携 end to end through the gateway: two offices with real `kaigo serve`
//! processes, tokens verified by the gateway, caller context signed by it.

use kaigo_proto::kaigo::careplan::v1 as cp;
use kaigo_proto::kaigo::careplan::v1::care_plan_service_client::CarePlanServiceClient;
use kaigo_proto::kaigo::common::v1::YearMonth;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::support::{Bearer, Stack, mint};

const CARE: &str = "1370000018";
const PROV: &str = "1370000026";
const OTHER: &str = "1370000034";
const SEQ: &str = "20250425103100";

type Client = CarePlanServiceClient<InterceptedService<Channel, Bearer>>;

fn client(stack: &Stack, role: &str, office: &str) -> Client {
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", stack.addr("gateway"))).unwrap().connect_lazy();
    CarePlanServiceClient::with_interceptor(channel, Bearer::new(&mint(&stack.key, role, Some(office))))
}

fn golden(name: &str) -> cp::BundleFileContent {
    let path = format!("{}/../careplan/tests/golden/valid/{name}", env!("CARGO_MANIFEST_DIR"));
    cp::BundleFileContent { file_name: name.to_owned(), content: std::fs::read(path).unwrap() }
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn licence(client: &mut Client, office: &str) {
    client
        .register_licence(cp::RegisterLicenceRequest {
            request_id: rid(),
            office_number: office.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_careplan_bundle_goes_through_the_gateway_between_two_offices() {
    let mut stack = Stack::new(&["careplan"]).await;
    stack.start("careplan").await;
    stack.start("gateway").await;
    let mut care = client(&stack, "care_office", CARE);
    let mut prov = client(&stack, "service_provider", PROV);
    licence(&mut care, CARE).await;
    licence(&mut prov, PROV).await;

    let tail = format!("{CARE}_43_{PROV}_11_{SEQ}.CSV");
    let files = vec![
        golden(&format!("UPPLAN_202505_{tail}")),
        golden(&format!("UPSIKYU_202505_{tail}")),
        golden(&format!("UPHOSOKU_202505_{tail}")),
    ];
    let bundle = cp::Bundle {
        sender_office_number: CARE.into(),
        sender_service_type: "43".into(),
        receiver_office_number: PROV.into(),
        receiver_service_type: "11".into(),
        service_month: Some(YearMonth { year: 2025, month: 5 }),
        kind: cp::SendUnitKind::UsageTicket as i32,
        file_sequence: SEQ.into(),
        ..Default::default()
    };
    let sent = care
        .send_bundle(cp::SendBundleRequest { request_id: rid(), bundle: Some(bundle), files: files.clone() })
        .await
        .unwrap_or_else(|s| panic!("send: {s:?}\n{}", stack.log("careplan")))
        .into_inner()
        .bundle
        .unwrap();

    let inbox = prov.list_inbox(cp::ListInboxRequest::default()).await.unwrap().into_inner();
    assert_eq!(inbox.bundles.len(), 1);
    assert_eq!(inbox.bundles[0].bundle_id, sent.bundle_id);

    let mut stream = prov
        .download_bundle(cp::DownloadBundleRequest { bundle_id: sent.bundle_id.clone() })
        .await
        .unwrap()
        .into_inner();
    let mut received: Vec<(String, Vec<u8>)> = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        if let Some(cp::download_bundle_response::Payload::Chunk(chunk)) = message.payload {
            match received.last_mut() {
                Some((name, bytes)) if *name == chunk.file_name => bytes.extend_from_slice(&chunk.data),
                _ => received.push((chunk.file_name.clone(), chunk.data.to_vec())),
            }
        }
    }
    let mut expected: Vec<(String, Vec<u8>)> = files.into_iter().map(|f| (f.file_name, f.content)).collect();
    expected.sort();
    received.sort();
    assert_eq!(received, expected, "the provider receives the very bytes the office sent");
    prov.acknowledge_bundle(cp::AcknowledgeBundleRequest {
        request_id: rid(),
        bundle_id: sent.bundle_id.clone(),
        note: String::new(),
    })
    .await
    .unwrap();

    // A third office, authenticated at the gateway, still may not read the bundle.
    let mut other = client(&stack, "service_provider", OTHER);
    let err = other.get_bundle(cp::GetBundleRequest { bundle_id: sent.bundle_id.clone() }).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    let sent_list = care.list_sent(cp::ListSentRequest::default()).await.unwrap().into_inner();
    assert_eq!(sent_list.bundles[0].status, cp::BundleStatus::Acknowledged as i32);
}
