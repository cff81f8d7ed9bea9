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
use kaigo_gateway::{GatewayConfig, RoleLimits};
use kaigo_platform::auth::CallerKeys;
use kaigo_proto::kaigo::subsidies::v1 as subs;
use prost::Message;

use crate::support::*;

const LIST_PROGRAMMES: &str = "/kaigo.subsidies.v1.SubsidyService/ListProgrammes";
/// The message limit of these gateways' care offices.
const MAX_MESSAGE: usize = 1024;

struct Door {
    addr: SocketAddr,
    key: TestKey,
    _gw: TestGateway,
    _jwks: JwksServer,
    _upstream: TestUpstream,
}

/// A gateway whose care offices have one call per token (then a slow refill) and 1 KiB messages.
async fn door() -> Door {
    let key = TestKey::ed25519("ed-1");
    let jwks_server = JwksServer::start(jwks(&[&key])).await;
    let keys = CallerKeys::generate();
    let (upstream, server) = start_upstream("127.0.0.1:0", &keys, "a").await;
    let mut config = GatewayConfig::default();
    let limits = RoleLimits { rate_per_sec: 0.01, burst: 1, max_message_bytes: MAX_MESSAGE, ..RoleLimits::default() };
    config.roles.insert("care_office".to_owned(), limits);
    let gw = start_gateway(auth_config(&jwks_server.url), config, &keys, &[("subsidies", vec![upstream])]).await;
    Door { addr: gw.addr, key, _gw: gw, _jwks: jwks_server, _upstream: server }
}

/// A gRPC-Web message frame (flag 0) around `message`.
fn frame(message: &[u8]) -> Vec<u8> {
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(message);
    framed
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
/// own succeeds on the same connection.
async fn next_call_succeeds_after(door: &Door, connection: &mut Connection, refused: Call, code: tonic::Code) {
    let answer = connection.call(refused).await;
    assert_eq!(answer.grpc_status(), (code as i32).to_string(), "{:?}", answer.headers);
    assert!(answer.headers.get(http::header::CONNECTION).is_none(), "{:?}", answer.headers);
    let token = door.key.sign(&office_claims(&uuid::Uuid::new_v4().to_string()));
    let message = subs::ListProgrammesRequest::default().encode_to_vec();
    let answer = connection.call(Call::list_programmes(Some(&token), frame(&message))).await;
    assert_eq!(answer.grpc_status(), "0", "{:?} {:?}", answer.headers, answer.body);
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
    let mut connection = Connection::open(door.addr).await;
    let refused = Call::list_programmes(None, large_body(64 << 10));
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::Unauthenticated).await;
    let refused = Call::list_programmes(Some("not.a.token"), ok_body());
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::Unauthenticated).await;
}

#[tokio::test]
async fn after_a_refusal_at_the_rate_limit() {
    let door = door().await;
    let mut connection = Connection::open(door.addr).await;
    let token = door.key.sign(&office_claims("one-call"));
    let first = connection.call(Call::list_programmes(Some(&token), ok_body())).await;
    assert_eq!(first.grpc_status(), "0");
    let refused = Call::list_programmes(Some(&token), ok_body());
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::ResourceExhausted).await;
}

#[tokio::test]
async fn after_a_refusal_of_a_declared_length_over_the_limit() {
    let door = door().await;
    let mut connection = Connection::open(door.addr).await;
    let token = door.key.sign(&office_claims("declared"));
    let body = large_body(64 << 10);
    let length = body.len().to_string();
    let refused = Call::list_programmes(Some(&token), body).header("content-length", &length);
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::ResourceExhausted).await;
}

#[tokio::test]
async fn after_a_refusal_of_the_framing() {
    let door = door().await;
    let mut connection = Connection::open(door.addr).await;
    // A message over the limit, known from its prefix: refused mid-body.
    let token = door.key.sign(&office_claims("framing-size"));
    let refused = Call::list_programmes(Some(&token), large_body(64 << 10));
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::ResourceExhausted).await;
    // A trailers frame where a message belongs.
    let token = door.key.sign(&office_claims("framing-flag"));
    let mut body = vec![0x80, 0, 0, 0, 200];
    body.extend(std::iter::repeat_n(b'x', 200));
    let refused = Call::list_programmes(Some(&token), body);
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::InvalidArgument).await;
}

#[tokio::test]
async fn after_a_refusal_at_the_router() {
    let door = door().await;
    let mut connection = Connection::open(door.addr).await;
    let token = door.key.sign(&office_claims("router"));
    // No such service behind this gateway.
    let mut refused = Call::list_programmes(Some(&token), large_body(64 << 10));
    refused.path = "/kaigo.registry.v1.RegistryService/LoadIdentityLinks".to_owned();
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::Unimplemented).await;
    // Headers over the gateway's limit.
    let refused = Call::list_programmes(Some(&token), ok_body()).header("x-padding", &"p".repeat(70 << 10));
    next_call_succeeds_after(&door, &mut connection, refused, tonic::Code::ResourceExhausted).await;
}
