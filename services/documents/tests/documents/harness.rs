//! A real documents server on 127.0.0.1:0 behind `CallerLayer`, on a fresh PostgreSQL database
//! and a private Redis prefix, with clients that sign their caller per RPC path.

use std::time::Duration;

use kaigo_documents::Config;
use kaigo_documents::blob::crypto::Keyring;
use kaigo_platform::auth::{Caller, CallerKeys, CallerLayer, Role};
use kaigo_platform::config::{Secret, ServerConfig};
use kaigo_platform::events::{Bus, RedisBus};
use kaigo_platform::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::server::GrpcServices;
use kaigo_platform::service::{Background, BackgroundControl, ServiceContext};
use kaigo_platform::testkit::{SignedChannel, TestDatabase, TestRedis};
use kaigo_proto::kaigo::documents::v1::document_service_client::DocumentServiceClient;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use tower::Layer;

/// Signs the caller for each call's own path, as the gateway does.
pub type Signed = SignedChannel;

/// The demo insurer (435073) and another one.
pub const INSURER: &str = "435073";
pub const OTHER_INSURER: &str = "122192";
/// The institution asked, and another one.
pub const INSTITUTION: &str = "1311234569";
pub const OTHER_INSTITUTION: &str = "0110113719";
/// The person's registered care office.
pub const CARE_OFFICE: &str = "1370000018";
/// The person.
pub const INSURED: &str = "0000000123";

/// A running server and what the tests inspect behind it.
pub struct TestServer {
    pub keys: CallerKeys,
    pub ctx: ServiceContext,
    pub config: Config,
    pub storage_dir: Option<tempfile::TempDir>,
    server: kaigo_platform::testkit::TestServer,
    background: Option<BackgroundControl>,
    // Dropped last: the database and the Redis prefix outlive every connection.
    _redis: TestRedis,
    _db: TestDatabase,
}

/// A config storing files in a fresh temporary directory.
pub fn local_config(max_bytes: u64) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        storage_url: format!("file://{}", dir.path().display()),
        encryption_keys: vec![Secret::new(Keyring::generate_entry("k1"))],
        max_attachment_bytes: max_bytes,
        ..Config::default()
    };
    (config, dir)
}

impl TestServer {
    /// Starts with local storage.
    pub async fn start() -> Self {
        let (config, dir) = local_config(8 * 1024 * 1024);
        Self::start_with(config, Some(dir)).await
    }

    /// Starts with `config`.
    pub async fn start_with(config: Config, storage_dir: Option<tempfile::TempDir>) -> Self {
        let db = TestDatabase::create().await;
        let conn = kaigo_platform::db::connect(&db.config(), kaigo_documents::NAME).await.expect("connect");
        Self::start_on(config, storage_dir, db, conn).await
    }

    /// Starts with `config` on `conn` to `db`, migrating it to the current version first.
    pub async fn start_on(
        config: Config,
        storage_dir: Option<tempfile::TempDir>,
        db: TestDatabase,
        conn: DatabaseConnection,
    ) -> Self {
        let redis = TestRedis::create().await;
        kaigo_documents::Migrator::up(&conn, None).await.expect("migrate");
        let handle = RedisHandle::connect(&redis.config()).await.expect("redis").expect("redis configured");
        let (control, background) = Background::new();
        let server_config = ServerConfig { reflection: false, ..ServerConfig::default() };
        let ctx = ServiceContext {
            name: kaigo_documents::NAME,
            server: server_config.clone(),
            db: conn,
            redis: Some(handle.clone()),
            bus: Bus::Redis(RedisBus::new(handle, 10_000)),
            background,
        };
        let service = kaigo_documents::start(&ctx, &config).await.expect("start");
        let keys = CallerKeys::generate();
        let services = GrpcServices::new(&server_config).expect("services").with_service(service);
        let health = services.health();
        let routes = CallerLayer::new(keys.clone()).layer(services.into_routes());
        let server = kaigo_platform::testkit::TestServer::start(routes, health, &server_config).await;
        Self { keys, ctx, config, storage_dir, server, background: Some(control), _redis: redis, _db: db }
    }

    /// A client calling as `caller`.
    pub async fn client(&self, caller: Caller) -> DocumentServiceClient<Signed> {
        DocumentServiceClient::new(SignedChannel::new(self.server.channel().await, self.keys.clone(), Some(caller)))
            .max_decoding_message_size(4 * 1024 * 1024)
    }

    /// The service's database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.ctx.db
    }

    /// Rows in `table` (our own schema).
    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .db()
            .query_one_raw(Statement::from_string(
                self.db().get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get("", "n").expect("n")
    }

    /// Stops the server, then the background tasks (the audit writer flushes), and drops
    /// the database.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// Stops the server and the background tasks, keeping the database for inspection.
    pub async fn stop(&mut self) {
        self.server.stop().await;
        if let Some(control) = self.background.take() {
            control.stop(Duration::from_secs(10)).await;
        }
    }
}

fn caller(role: Role) -> Caller {
    Caller {
        subject: format!("test-{}", role.as_str()),
        role,
        insurer: None,
        office: None,
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

/// An insurer's staff.
pub fn insurer(number: &str) -> Caller {
    Caller { insurer: Some(InsurerNumber::parse(number).expect("insurer")), ..caller(Role::Insurer) }
}

/// A medical institution.
pub fn institution(code: &str) -> Caller {
    Caller {
        institution: Some(MedicalInstitutionCode::parse(code).expect("institution")),
        ..caller(Role::MedicalInstitution)
    }
}

/// A care office, with the given consent references.
pub fn care_office(number: &str, consents: &[&str]) -> Caller {
    Caller {
        office: Some(CareOfficeNumber::parse(number).expect("office")),
        consents: consents.iter().map(|c| (*c).to_owned()).collect(),
        ..caller(Role::CareOffice)
    }
}

/// An operator.
pub fn operator() -> Caller {
    caller(Role::Operator)
}

/// A fresh request id.
pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The ErrorInfo reason of a status.
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

/// The field violations of a status, as `field` strings.
pub fn violations(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}
