//! Callers that stop reading a response stream (a download on a slow link) hold only their own
//! streams' windows on the gateway's upstream connections, never a whole connection's: the
//! other calls sharing those connections are answered.

use std::sync::atomic::Ordering;
use std::time::Duration;

use docs::document_service_client::DocumentServiceClient;
use kaigo_gateway::GatewayConfig;
use kaigo_proto::kaigo::documents::v1 as docs;

use crate::support::*;

/// Downloads held unread: three on each of the gateway's four connections to the replica (calls
/// go round robin), more than a connection's window when it was only 2.5 streams' worth.
const HELD: usize = 12;

fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test]
async fn a_call_is_answered_beside_downloads_whose_callers_stopped_reading() {
    let door = Door::open(GatewayConfig::default(), &["documents"]).await;
    let mut held = Vec::with_capacity(HELD);
    for n in 0..HELD {
        // Each on a connection of its own to the gateway (a caller of its own): what fills is
        // the gateway's upstream side, not one caller's connection.
        let mut client = DocumentServiceClient::new(channel(door.addr()).await);
        let token = door.office_token(&format!("slow-{n}"));
        let request = authorized(docs::DownloadAttachmentRequest::default(), &token);
        let mut stream = client.download_attachment(request).await.unwrap().into_inner();
        assert!(stream.message().await.unwrap().is_some(), "the first chunk arrives");
        held.push((client, stream));
    }

    // The replica's streams stop once every window between it and the callers is full: no
    // chunk sent for 2 s.
    let sent = &door.upstream.chunks_sent;
    let (mut last, mut still) = (0, 0);
    for _ in 0..240 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = sent.load(Ordering::SeqCst);
        (last, still) = if now == last { (now, still + 1) } else { (now, 0) };
        if still == 8 {
            break;
        }
    }
    assert_eq!(still, 8, "the downloads kept flowing: their callers should be holding them");
    // More than the callers' own windows took: the rest waits in the gateway's upstream streams.
    assert!(last > HELD * 8, "only {last} chunks of 256 KiB sent before the downloads stalled");

    // Calls on every one of the gateway's connections to the replica are answered.
    let mut client = DocumentServiceClient::new(channel(door.addr()).await);
    let token = door.office_token("another");
    for _ in 0..4 {
        let request = authorized(docs::GetAttachmentRequest::default(), &token);
        let answered = tokio::time::timeout(Duration::from_secs(30), client.get_attachment(request)).await;
        let answer = answered.expect("a call beside the held downloads waited for them").unwrap();
        assert_eq!(answer.into_inner().attachment.unwrap().file_name, "opinion.pdf");
    }
    drop(held);
}
