//! A real careplan server on 127.0.0.1:0 behind `CallerLayer`, on a fresh PostgreSQL database,
//! with clients that sign their caller per RPC path as the gateway does.

use std::time::Duration;

use kaigo_careplan::Config;
use kaigo_platform::auth::{Caller, CallerKeys, CallerLayer, Role};
use kaigo_platform::config::ServerConfig;
use kaigo_platform::events::{Bus, LocalBus};
use kaigo_platform::ids::CareOfficeNumber;
use kaigo_platform::server::GrpcServices;
use kaigo_platform::service::{Background, BackgroundControl, ServiceContext};
use kaigo_platform::testkit::{SignedChannel, TestDatabase};
use kaigo_proto::kaigo::careplan::v1::care_plan_service_client::CarePlanServiceClient;
use sea_orm::ConnectionTrait;
use sea_orm_migration::MigratorTrait;
use tower::Layer;

/// Signs the caller (if any) for each call's own path.
pub type Signed = SignedChannel;

pub struct TestServer {
    pub keys: CallerKeys,
    server: kaigo_platform::testkit::TestServer,
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
        let server = kaigo_platform::testkit::TestServer::start(routes, health, &server_config).await;
        Self { keys, server, background: Some(control), conn, _db: db }
    }

    pub async fn client(&self, caller: Option<Caller>) -> CarePlanServiceClient<Signed> {
        CarePlanServiceClient::new(SignedChannel::new(self.server.channel().await, self.keys.clone(), caller))
    }

    pub async fn shutdown(mut self) {
        self.server.stop().await;
        if let Some(control) = self.background.take() {
            control.stop(Duration::from_secs(10)).await;
        }
    }
}

/// One read of a bundle in the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub rpc: String,
    pub party: String,
    pub outcome: String,
}

impl TestServer {
    /// The reads of `bundle_id` in the audit trail, oldest first, once there are at least
    /// `expected` (the trail is written in the background); panics if they never arrive.
    pub async fn trail(&self, bundle_id: &str, expected: usize) -> Vec<Read> {
        let conn = &self.conn;
        kaigo_platform::testkit::eventually(Duration::from_secs(10), || async move {
            let rows = conn
                .query_all_raw(sea_orm::Statement::from_sql_and_values(
                    conn.get_database_backend(),
                    "SELECT rpc, caller_party, outcome FROM audit_trail WHERE $1 = ANY(resources) ORDER BY id",
                    [bundle_id.into()],
                ))
                .await
                .expect("read the trail");
            let reads: Vec<Read> = rows
                .iter()
                .map(|r| Read {
                    rpc: r.try_get("", "rpc").expect("rpc"),
                    party: r.try_get("", "caller_party").expect("caller_party"),
                    outcome: r.try_get("", "outcome").expect("outcome"),
                })
                .collect();
            (reads.len() >= expected).then_some(reads)
        })
        .await
        .expect("the audited reads reach the trail")
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
