//! Keys, tokens, upstream services and a gateway on loopback, for the tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kaigo_gateway::{AuthConfig, Claims, Gateway, GatewayConfig, RemoteUpstream, TokenVerifier, Upstream};
use kaigo_platform::auth::{Caller, CallerKeys, CallerLayer};
use kaigo_platform::config::ServerConfig;
use kaigo_platform::server::GrpcServices;
use kaigo_proto::kaigo::documents::v1 as docs;
use kaigo_proto::kaigo::eligibility::v1 as elig;
use kaigo_proto::kaigo::subsidies::v1 as subs;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower::Layer;

pub const ISSUER: &str = "https://idp.test";
pub const AUDIENCE: &str = "kaigo-test";
pub const OFFICE: &str = "0300000106";

/// A signing key with its public JWK.
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
    pub jwk: serde_json::Value,
}

impl TestKey {
    /// A fresh Ed25519 key.
    pub fn ed25519(kid: &str) -> Self {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let der = signing.to_pkcs8_der().unwrap();
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().as_bytes());
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            jwk: serde_json::json!({"kty":"OKP","crv":"Ed25519","x":x,"kid":kid,"alg":"EdDSA","use":"sig"}),
        }
    }

    /// A fresh P-256 key.
    pub fn p256(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let raw = pair.public_key_raw(); // 0x04 || x || y
        let (x, y) = (URL_SAFE_NO_PAD.encode(&raw[1..33]), URL_SAFE_NO_PAD.encode(&raw[33..65]));
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap(),
            jwk: serde_json::json!({"kty":"EC","crv":"P-256","x":x,"y":y,"kid":kid,"alg":"ES256"}),
        }
    }

    /// The RSA test key in tests/gateway/keys (RSA keys are slow to generate; this one is only
    /// ever used by these tests).
    pub fn rsa(kid: &str) -> Self {
        let mut jwk: serde_json::Value = serde_json::from_str(include_str!("keys/rsa.jwk.json")).unwrap();
        jwk["kid"] = kid.into();
        jwk["alg"] = "RS256".into();
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_pem(include_bytes!("keys/rsa.pem")).unwrap(),
            jwk,
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

pub fn now() -> i64 {
    kaigo_platform::auth::unix_now()
}

/// Claims of a care office, valid for an hour.
pub fn office_claims(subject: &str) -> Claims {
    let now = now();
    Claims {
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        sub: subject.to_owned(),
        exp: now + 3600,
        nbf: now - 10,
        iat: now - 10,
        role: "care_office".to_owned(),
        insurer_number: None,
        office_number: Some(OFFICE.to_owned()),
        institution_code: None,
        scope: String::new(),
        consents: vec!["consent-1".to_owned()],
    }
}

pub fn jwks(keys: &[&TestKey]) -> String {
    serde_json::json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() }).to_string()
}

/// A tiny HTTP/1.1 server answering every request with the current JWKS, counting requests.
pub struct JwksServer {
    pub url: String,
    pub document: Arc<Mutex<String>>,
    pub hits: Arc<AtomicUsize>,
    _task: JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(document: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let document = Arc::new(Mutex::new(document));
        let hits = Arc::new(AtomicUsize::new(0));
        let (doc, count) = (document.clone(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let (doc, count) = (doc.clone(), count.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut read = 0;
                    while !buf[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf[read..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => read += n,
                        }
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let body = doc.lock().clone();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                });
            }
        });
        Self { url, document, hits, _task: task }
    }

    pub fn publish(&self, document: String) {
        *self.document.lock() = document;
    }
}

/// A subsidies service that answers ListProgrammes with who called and which replica answered.
#[derive(Clone)]
pub struct EchoSubsidies {
    pub tag: &'static str,
}

#[tonic::async_trait]
impl subs::subsidy_service_server::SubsidyService for EchoSubsidies {
    async fn list_programmes(
        &self,
        request: tonic::Request<subs::ListProgrammesRequest>,
    ) -> Result<tonic::Response<subs::ListProgrammesResponse>, tonic::Status> {
        let caller: Caller = Caller::from_request(&request)?.clone();
        let mut response = tonic::Response::new(subs::ListProgrammesResponse::default());
        let metadata = response.metadata_mut();
        metadata.insert("x-upstream", self.tag.parse().unwrap());
        metadata.insert("x-caller-role", caller.role.as_str().parse().unwrap());
        metadata.insert("x-caller-consents", caller.consents.join(",").parse().unwrap());
        if let Some(timeout) = request.metadata().get("grpc-timeout") {
            metadata.insert("x-seen-timeout", timeout.clone());
        }
        Ok(response)
    }
}

/// An eligibility service whose CheckEligibility answers with an empty verdict.
#[derive(Clone)]
pub struct EchoEligibility;

#[tonic::async_trait]
impl elig::eligibility_service_server::EligibilityService for EchoEligibility {
    async fn check_eligibility(
        &self,
        request: tonic::Request<elig::CheckEligibilityRequest>,
    ) -> Result<tonic::Response<elig::CheckEligibilityResponse>, tonic::Status> {
        Caller::from_request(&request)?;
        Ok(tonic::Response::new(elig::CheckEligibilityResponse::default()))
    }

    /// Answers each request message as it arrives with the count so far (`rows_received`),
    /// so a client can wait for one answer before it sends the next message.
    async fn import_insured_persons(
        &self,
        request: tonic::Request<tonic::Streaming<elig::ImportInsuredPersonsRequest>>,
    ) -> Result<tonic::Response<tonic::codegen::BoxStream<elig::ImportInsuredPersonsResponse>>, tonic::Status> {
        Caller::from_request(&request)?;
        let mut messages = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut received = 0;
            while let Ok(Some(_)) = messages.message().await {
                received += 1;
                let progress = elig::ImportProgress { rows_received: received, ..Default::default() };
                let event = elig::import_insured_persons_response::Event::Progress(progress);
                if tx.send(Ok(elig::ImportInsuredPersonsResponse { event: Some(event) })).await.is_err() {
                    return;
                }
            }
        });
        let answers = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|a| (a, rx)) });
        Ok(tonic::Response::new(Box::pin(answers)))
    }
}

/// A documents service whose DownloadAttachment never ends: 256 KiB chunks for as long as the
/// caller takes them (counted in `chunks_sent`), and whose GetAttachment answers at once.
#[derive(Clone, Default)]
pub struct EndlessDocuments {
    pub chunks_sent: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl docs::document_service_server::DocumentService for EndlessDocuments {
    async fn get_attachment(
        &self,
        request: tonic::Request<docs::GetAttachmentRequest>,
    ) -> Result<tonic::Response<docs::GetAttachmentResponse>, tonic::Status> {
        Caller::from_request(&request)?;
        let attachment = docs::Attachment { file_name: "opinion.pdf".to_owned(), ..Default::default() };
        Ok(tonic::Response::new(docs::GetAttachmentResponse { attachment: Some(attachment) }))
    }

    async fn download_attachment(
        &self,
        request: tonic::Request<docs::DownloadAttachmentRequest>,
    ) -> Result<tonic::Response<tonic::codegen::BoxStream<docs::DownloadAttachmentResponse>>, tonic::Status> {
        Caller::from_request(&request)?;
        let sent = self.chunks_sent.clone();
        let chunks = futures::stream::repeat_with(move || {
            sent.fetch_add(1, Ordering::SeqCst);
            let chunk = docs::download_attachment_response::Payload::Chunk(vec![7; 256 * 1024]);
            Ok(docs::DownloadAttachmentResponse { payload: Some(chunk) })
        });
        Ok(tonic::Response::new(Box::pin(chunks)))
    }
}

/// A running upstream; dropping it (or [`Upstream::kill`]) stops it.
pub struct TestUpstream {
    /// The chunks its DownloadAttachment streams have sent.
    pub chunks_sent: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl TestUpstream {
    /// Stops the server: the listener closes and open connections are told to go away.
    pub async fn kill(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for TestUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A real service server on `addr` (port 0 for any), verifying caller headers with `keys`.
pub async fn start_upstream(addr: &str, keys: &CallerKeys, tag: &'static str) -> (SocketAddr, TestUpstream) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let local = listener.local_addr().unwrap();
    let services = GrpcServices::new(&ServerConfig::default())
        .unwrap()
        .with_service(subs::subsidy_service_server::SubsidyServiceServer::new(EchoSubsidies { tag }))
        .with_service(elig::eligibility_service_server::EligibilityServiceServer::new(EchoEligibility));
    let documents = EndlessDocuments::default();
    let chunks_sent = documents.chunks_sent.clone();
    let services = services.with_service(docs::document_service_server::DocumentServiceServer::new(documents));
    let health = services.health();
    let routes = CallerLayer::new(keys.clone()).layer(services.into_routes());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = ServerConfig { shutdown_grace_secs: 1, ..ServerConfig::default() };
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        let _ = kaigo_platform::server::serve(listener, routes, health, &config, shutdown).await;
    });
    (local, TestUpstream { chunks_sent, stop: Some(stop), task })
}

/// A running gateway.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub gateway: Gateway,
    _task: JoinHandle<()>,
}

pub fn auth_config(jwks_url: &str) -> AuthConfig {
    AuthConfig {
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        jwks_url: jwks_url.to_owned(),
        leeway_secs: 5,
        ..AuthConfig::default()
    }
}

/// Starts a gateway routing `upstreams` (short name → replica addresses).
pub async fn start_gateway(
    auth: AuthConfig,
    config: GatewayConfig,
    keys: &CallerKeys,
    upstreams: &[(&str, Vec<SocketAddr>)],
) -> TestGateway {
    start_front(auth, config, keys, upstreams, None).await
}

/// [`start_gateway`], with the demo sign-in of `kaigo dev` when `dev` is given.
pub async fn start_front(
    auth: AuthConfig,
    config: GatewayConfig,
    keys: &CallerKeys,
    upstreams: &[(&str, Vec<SocketAddr>)],
    dev: Option<kaigo_gateway::DevSignIn>,
) -> TestGateway {
    let verifier = TokenVerifier::from_config(&auth).await.unwrap();
    let routes: HashMap<String, Upstream> = upstreams
        .iter()
        .map(|(short, addrs)| ((*short).to_owned(), Upstream::Remote(Box::new(RemoteUpstream::from_addresses(addrs)))))
        .collect();
    let local = GrpcServices::new(&ServerConfig::default()).unwrap();
    let health = local.health();
    let tls = kaigo_gateway::server_tls(&config.tls).unwrap();
    let gateway = Gateway::new(routes, local.into_routes(), verifier, keys.clone(), &config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let front = kaigo_gateway::Front::new(gateway.clone(), &config.web, dev).unwrap();
    let task = tokio::spawn(async move {
        let options = kaigo_platform::server::ServeOptions { accept_http1: true, tls };
        let _ = kaigo_platform::server::serve_with(
            listener,
            front,
            health,
            &ServerConfig::default(),
            options,
            std::future::pending(),
        )
        .await;
    });
    TestGateway { addr, gateway, _task: task }
}

/// What most of these tests start from: a gateway on loopback, an Ed25519 key its JWKS server
/// publishes, and one upstream replica serving every service (kept alive with the door).
pub struct Door {
    pub gw: TestGateway,
    pub key: TestKey,
    /// The keys the gateway signs callers into upstream calls with.
    pub keys: CallerKeys,
    pub jwks: JwksServer,
    pub upstream: TestUpstream,
}

impl Door {
    /// A gateway with `config` routing each of `services` (`subsidies` …) to the replica.
    pub async fn open(config: GatewayConfig, services: &[&'static str]) -> Self {
        Self::open_routes(config, |replica| services.iter().map(|service| (*service, vec![replica])).collect()).await
    }

    /// A gateway with `config` and the routes `routes` makes of the replica's address.
    pub async fn open_routes(
        config: GatewayConfig,
        routes: impl FnOnce(SocketAddr) -> Vec<(&'static str, Vec<SocketAddr>)>,
    ) -> Self {
        let key = TestKey::ed25519("ed-1");
        let jwks_server = JwksServer::start(jwks(&[&key])).await;
        let keys = CallerKeys::generate();
        let (replica, upstream) = start_upstream("127.0.0.1:0", &keys, "a").await;
        let gw = start_gateway(auth_config(&jwks_server.url), config, &keys, &routes(replica)).await;
        Self { gw, key, keys, jwks: jwks_server, upstream }
    }

    pub fn addr(&self) -> SocketAddr {
        self.gw.addr
    }

    /// A care office's token for `subject`.
    pub fn office_token(&self, subject: &str) -> String {
        self.key.sign(&office_claims(subject))
    }
}

/// A gRPC-Web (and gRPC) frame: the flag byte (0 a message, 0x80 trailers), the length, `message`.
pub fn framed(flag: u8, message: &[u8]) -> Vec<u8> {
    let mut bytes = vec![flag];
    bytes.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(message);
    bytes
}

pub async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap()
}

/// Calls ListProgrammes with `token` (and extra metadata).
pub async fn list_programmes(
    channel: &tonic::transport::Channel,
    token: Option<&str>,
    metadata: &[(&'static str, &str)],
) -> Result<tonic::Response<subs::ListProgrammesResponse>, tonic::Status> {
    let mut client = subs::subsidy_service_client::SubsidyServiceClient::new(channel.clone());
    let mut request = tonic::Request::new(subs::ListProgrammesRequest::default());
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    for (key, value) in metadata {
        request.metadata_mut().insert(*key, value.parse().unwrap());
    }
    client.list_programmes(request).await
}

/// Calls CheckEligibility with `token`.
pub async fn check_eligibility(channel: &tonic::transport::Channel, token: &str) -> Result<(), tonic::Status> {
    let mut client = elig::eligibility_service_client::EligibilityServiceClient::new(channel.clone());
    let mut request = tonic::Request::new(elig::CheckEligibilityRequest::default());
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    client.check_eligibility(request).await.map(|_| ())
}

pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
}
