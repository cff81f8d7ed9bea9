//! A gRPC-Web call answered before its body was read, over HTTP/1.1: each kind of early
//! refusal leaves the connection serving the caller's next call. The refused call's body is
//! still arriving when the gateway decides (its first bytes, a pause, then the rest), as a
//! browser's upload would; a server that answered with the body unread would close the
//! connection the client had queued its next call on.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use kaigo_gateway::{Claims, GatewayConfig, RoleLimits};
use kaigo_proto::kaigo::eligibility::v1 as elig;
use kaigo_proto::kaigo::subsidies::v1 as subs;
use prost::Message;

use crate::support::*;

const LIST_PROGRAMMES: &str = "/kaigo.subsidies.v1.SubsidyService/ListProgrammes";
/// The message limit of these gateways' care offices.
const MAX_MESSAGE: usize = 1024;

/// A gateway whose care offices have one call per token (then a slow refill) and 1 KiB messages.
async fn door() -> Door {
    let mut config = GatewayConfig::default();
    let limits = RoleLimits { rate_per_sec: 0.01, burst: 1, max_message_bytes: MAX_MESSAGE, ..RoleLimits::default() };
    config.roles.insert("care_office".to_owned(), limits);
    Door::open(config, &["subsidies"]).await
}

/// A gRPC-Web message frame around `message`.
fn frame(message: &[u8]) -> Vec<u8> {
    framed(0, message)
}

/// A call of one connection: path, headers and its body in two parts.
struct Call {
    path: String,
    headers: Vec<(String, String)>,
    first: Vec<u8>,
    rest: Vec<u8>,
}

impl Call {
    /// ListProgrammes with `token` (none: unauthenticated) and `body`, split after its first bytes.
    fn list_programmes(token: Option<&str>, body: Vec<u8>) -> Self {
        let mut headers = vec![
            ("content-type".to_owned(), "application/grpc-web+proto".to_owned()),
            ("x-grpc-web".to_owned(), "1".to_owned()),
        ];
        if let Some(token) = token {
            headers.push(("authorization".to_owned(), format!("Bearer {token}")));
        }
        let split = body.len().min(3);
        let (first, rest) = body.split_at(split);
        Self { path: LIST_PROGRAMMES.to_owned(), headers, first: first.to_vec(), rest: rest.to_vec() }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One HTTP/1.1 connection to the gateway, as a browser keeps it.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<StreamBody<futures::channel::mpsc::Receiver<FrameResult>>>,
}

type FrameResult = Result<Frame<Bytes>, std::convert::Infallible>;

/// A call's answer: the status, the headers and the body.
struct Answer {
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    /// The grpc-status: in the headers (trailers-only) or in the gRPC-Web trailer frame.
    fn grpc_status(&self) -> String {
        if let Some(status) = self.headers.get("grpc-status") {
            return status.to_str().unwrap().to_owned();
        }
        let text = String::from_utf8_lossy(&self.body);
        let status = text.split("grpc-status:").nth(1).unwrap_or_else(|| panic!("no grpc-status in {text:?}"));
        status.trim_start().chars().take_while(char::is_ascii_digit).collect()
    }

    /// The status of a trailers-only refusal, with its message and details.
    fn status(&self) -> tonic::Status {
        tonic::Status::from_header_map(&self.headers).expect("a trailers-only answer")
    }
}

impl Connection {
    async fn open(addr: SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        Self { sender }
    }

    /// Sends `call`: its head and first bytes, then after a pause the rest; its answer.
    async fn call(&mut self, call: Call) -> Answer {
        let (mut tx, rx) = futures::channel::mpsc::channel::<FrameResult>(4);
        let mut request = http::Request::post(format!("http://gateway{}", call.path));
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        let request = request.body(StreamBody::new(rx)).unwrap();
        self.sender.ready().await.expect("the connection still serves calls");
        tx.try_send(Ok(Frame::data(Bytes::from(call.first)))).unwrap();
        let answer = self.sender.send_request(request);
        let rest = async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            // The gateway may have answered (and a broken server closed the connection).
            let _ = futures::SinkExt::send(&mut tx, Ok(Frame::data(Bytes::from(call.rest)))).await;
        };
        let (answer, ()) = tokio::join!(answer, rest);
        let (parts, body) = answer.expect("an answer").into_parts();
        Answer { headers: parts.headers, body: body.collect().await.expect("the whole answer").to_bytes() }
    }
}

/// `refused` is answered `code` (and no `connection: close`), then a call with a token of its
/// own succeeds on the same connection. The refusal.
async fn next_call_succeeds_after(
    door: &Door,
    connection: &mut Connection,
    refused: Call,
    code: tonic::Code,
) -> Answer {
    let refusal = connection.call(refused).await;
    assert_eq!(refusal.grpc_status(), (code as i32).to_string(), "{:?}", refusal.headers);
    assert!(refusal.headers.get(http::header::CONNECTION).is_none(), "{:?}", refusal.headers);
    let token = door.office_token(&uuid::Uuid::new_v4().to_string());
    let message = subs::ListProgrammesRequest::default().encode_to_vec();
    let answer = connection.call(Call::list_programmes(Some(&token), frame(&message))).await;
    assert_eq!(answer.grpc_status(), "0", "{:?} {:?}", answer.headers, answer.body);
    refusal
}

fn ok_body() -> Vec<u8> {
    frame(&subs::ListProgrammesRequest::default().encode_to_vec())
}

/// A body of `len` bytes that is one (large) message frame.
fn large_body(len: usize) -> Vec<u8> {
    frame(&vec![0u8; len - 5])
}

#[tokio::test]
async fn after_a_refusal_at_authentication() {
    let door = door().await;
    let mut connection = Connection::open(door.addr()).await;
    let refused = Call::list_programmes(None, large_body(64 << 10));
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::Unauthenticated).await;
    let refused = Call::list_programmes(Some("not.a.token"), ok_body());
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::Unauthenticated).await;
}

#[tokio::test]
async fn after_a_refusal_at_the_rate_limit() {
    let door = door().await;
    let mut connection = Connection::open(door.addr()).await;
    let token = door.office_token("one-call");
    let first = connection.call(Call::list_programmes(Some(&token), ok_body())).await;
    assert_eq!(first.grpc_status(), "0");
    let refused = Call::list_programmes(Some(&token), ok_body());
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::ResourceExhausted).await;
}

#[tokio::test]
async fn after_a_refusal_of_a_declared_length_over_the_limit() {
    let door = door().await;
    let mut connection = Connection::open(door.addr()).await;
    let token = door.office_token("declared");
    let body = large_body(64 << 10);
    let length = body.len().to_string();
    let refused = Call::list_programmes(Some(&token), body).header("content-length", &length);
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::ResourceExhausted).await;
}

#[tokio::test]
async fn after_a_refusal_of_the_framing() {
    let door = door().await;
    let mut connection = Connection::open(door.addr()).await;
    // A message over the limit, known from its prefix: refused mid-body.
    let token = door.office_token("framing-size");
    let refused = Call::list_programmes(Some(&token), large_body(64 << 10));
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::ResourceExhausted).await;
    // A trailers frame where a message belongs.
    let token = door.office_token("framing-flag");
    let mut body = vec![0x80, 0, 0, 0, 200];
    body.extend(std::iter::repeat_n(b'x', 200));
    let refused = Call::list_programmes(Some(&token), body);
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::InvalidArgument).await;
}

#[tokio::test]
async fn after_a_refusal_at_the_router() {
    let door = door().await;
    let mut connection = Connection::open(door.addr()).await;
    let token = door.office_token("router");
    // No such service behind this gateway.
    let mut refused = Call::list_programmes(Some(&token), large_body(64 << 10));
    refused.path = "/kaigo.registry.v1.RegistryService/LoadIdentityLinks".to_owned();
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::Unimplemented).await;
    // Headers over the gateway's limit.
    let refused = Call::list_programmes(Some(&token), ok_body()).header("x-padding", &"p".repeat(70 << 10));
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::ResourceExhausted).await;
}

#[tokio::test]
async fn after_a_refusal_at_the_concurrency_limit() {
    // Service providers may have one call in flight; care offices as many as they like.
    let mut config = GatewayConfig::default();
    config.roles.insert("service_provider".to_owned(), RoleLimits { max_concurrency: 1, ..RoleLimits::default() });
    let door = Door::open(config, &["subsidies", "eligibility"]).await;
    let provider = door.key.sign(&Claims { role: "service_provider".to_owned(), ..office_claims("provider") });
    // A provider's import is under way: its first message has been answered, its stream is
    // open, and its call holds the role's one place until it ends.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let messages = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let mut request = tonic::Request::new(messages);
    request.metadata_mut().insert("authorization", format!("Bearer {provider}").parse().unwrap());
    tx.send(elig::ImportInsuredPersonsRequest::default()).await.unwrap();
    let mut client = elig::eligibility_service_client::EligibilityServiceClient::new(channel(door.addr()).await);
    let mut answers = client.import_insured_persons(request).await.unwrap().into_inner();
    let first = tokio::time::timeout(Duration::from_secs(10), answers.message()).await;
    assert!(matches!(first, Ok(Ok(Some(_)))), "the import's first answer: {first:?}");

    // Another provider call on a browser's connection is refused at the limit, mid-body.
    let mut connection = Connection::open(door.addr()).await;
    let refused = Call::list_programmes(Some(&provider), large_body(64 << 10));
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::Unavailable).await;

    drop(tx);
    let end = tokio::time::timeout(Duration::from_secs(10), answers.message()).await;
    assert!(matches!(end, Ok(Ok(None))), "the import ends with OK: {end:?}");
}

#[tokio::test]
async fn after_a_refusal_at_an_open_circuit_breaker() {
    // Nothing listens where eligibility is said to be: one failure opens its breaker for a minute.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let config = GatewayConfig { breaker_failures: 1, breaker_open_ms: 60_000, ..GatewayConfig::default() };
    let door =
        Door::open_routes(config, |replica| vec![("subsidies", vec![replica]), ("eligibility", vec![dead])]).await;
    let token = door.office_token("breaker");
    let failed = check_eligibility(&channel(door.addr()).await, &token).await.unwrap_err();
    assert_eq!(failed.code(), tonic::Code::Unavailable, "{failed:?}");
    assert!(door.gw.gateway.circuit_open("eligibility"));

    let mut connection = Connection::open(door.addr()).await;
    let mut refused = Call::list_programmes(Some(&token), large_body(64 << 10));
    refused.path = "/kaigo.eligibility.v1.EligibilityService/CheckEligibility".to_owned();
    let refusal = next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::Unavailable).await;
    assert_eq!(reason(&refusal.status()), "UPSTREAM_CIRCUIT_OPEN");
}
