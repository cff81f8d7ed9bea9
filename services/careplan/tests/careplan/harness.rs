//! A real careplan server on 127.0.0.1:0 behind `CallerLayer`, on a fresh PostgreSQL database,
//! with clients that sign their caller per RPC path as the gateway does.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use kaigo_careplan::Config;
use kaigo_platform::auth::{Caller, CallerKeys, CallerLayer, Role, unix_now};
use kaigo_platform::config::ServerConfig;
use kaigo_platform::events::{Bus, LocalBus};
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_platform::server::GrpcServices;
use kaigo_platform::service::{Background, BackgroundControl, ServiceContext};
use kaigo_platform::testkit::TestDatabase;
use kaigo_proto::kaigo::careplan::v1::care_plan_service_client::CarePlanServiceClient;
use sea_orm_migration::MigratorTrait;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tower::Layer;

pub struct TestServer {
    pub addr: std::net::SocketAddr,
    pub keys: CallerKeys,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    background: Option<BackgroundControl>,
    /// The service's own connection, for checks the API does not expose (the read audit).
    pub conn: sea_orm::DatabaseConnection,
    _db: Option<TestDatabase>,
}

impl TestServer {
    pub async fn start() -> Self {
        let db = TestDatabase::create().await;
        let conn = kaigo_platform::db::connect(&db.config(), kaigo_careplan::NAME).await.expect("connect");
        Self::start_on(conn, Some(db)).await
    }

    /// A server on an existing connection (e.g. SQLite, as `kaigo dev` runs).
    pub async fn start_on(conn: sea_orm::DatabaseConnection, db: Option<TestDatabase>) -> Self {
        kaigo_careplan::Migrator::up(&conn, None).await.expect("migrate");
        let (control, background) = Background::new();
        let server_config = ServerConfig { reflection: false, ..ServerConfig::default() };
        let ctx = ServiceContext {
            name: kaigo_careplan::NAME,
            server: server_config.clone(),
            db: conn.clone(),
            redis: None,
            bus: Bus::Local(LocalBus::new()),
            background,
        };
        let service = kaigo_careplan::start(&ctx, &Config::default()).await.expect("start");
        let keys = CallerKeys::generate();
        let services = GrpcServices::new(&server_config).expect("services").with_service(service);
        let health = services.health();
        let routes = CallerLayer::new(keys.clone()).layer(services.into_routes());
        let listener = kaigo_platform::server::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = kaigo_platform::server::serve(listener, routes, health, &server_config, async {
                let _ = stopped.await;
            })
            .await;
        });
        Self { addr, keys, stop: Some(stop), server: Some(server), background: Some(control), conn, _db: db }
    }

    pub async fn client(&self, caller: Option<Caller>) -> CarePlanServiceClient<Signed> {
        let channel =
            Channel::from_shared(format!("http://{}", self.addr)).expect("uri").connect().await.expect("connect");
        CarePlanServiceClient::new(Signed { inner: channel, keys: self.keys.clone(), caller: caller.map(Arc::new) })
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some(control) = self.background.take() {
            control.stop(Duration::from_secs(10)).await;
        }
    }
}

/// Signs the caller (if any) for each call's own path.
#[derive(Clone)]
pub struct Signed {
    inner: Channel,
    keys: CallerKeys,
    caller: Option<Arc<Caller>>,
}

impl tower::Service<http::Request<tonic::body::Body>> for Signed {
    type Response = <Channel as tower::Service<http::Request<tonic::body::Body>>>::Response;
    type Error = <Channel as tower::Service<http::Request<tonic::body::Body>>>::Error;
    type Future = <Channel as tower::Service<http::Request<tonic::body::Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: http::Request<tonic::body::Body>) -> Self::Future {
        if let Some(caller) = &self.caller {
            let path = request.uri().path().to_owned();
            self.keys.insert_headers(request.headers_mut(), caller, &path, unix_now());
        }
        self.inner.call(request)
    }
}

pub fn office(role: Role, number: &str) -> Caller {
    Caller {
        subject: format!("test-{}", role.as_str()),
        role,
        insurer: None,
        office: Some(CareOfficeNumber::parse(number).expect("office")),
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
}
