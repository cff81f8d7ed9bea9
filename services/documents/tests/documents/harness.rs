//! A real documents server on 127.0.0.1:0 behind `CallerLayer` (testkit::ServiceHarness), on a
//! fresh PostgreSQL database, with clients that sign their caller per RPC path.

use kaigo_documents::Config;
use kaigo_documents::blob::crypto::Keyring;
use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::config::Secret;
use kaigo_platform::service::ServiceContext;
pub use kaigo_platform::testkit::access::{self as facts, Feed};
pub use kaigo_platform::testkit::reason;
use kaigo_platform::testkit::{ServiceHarness, SignedChannel, TestDatabase, caller_for, context};
use kaigo_proto::kaigo::documents::v1::document_service_client::DocumentServiceClient;
use kaigo_proto::kaigo::registry::v1::{Consent, Registration};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;

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
    pub ctx: ServiceContext,
    pub config: Config,
    pub storage_dir: Option<tempfile::TempDir>,
    harness: Option<ServiceHarness>,
    /// The Redis prefix of a server whose events travel on Redis Streams.
    _redis: Option<kaigo_platform::testkit::TestRedis>,
    // Dropped last: the database outlives every connection, and the harness's shutdown (none
    // when the server runs on a database the test owns, e.g. a private primary).
    _db: Option<TestDatabase>,
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
        Self::start_with_clock(config, storage_dir, db, conn, kaigo_platform::time::system_clock()).await
    }

    /// [`TestServer::start_on`] with the service asking `clock` for "now".
    pub async fn start_with_clock(
        config: Config,
        storage_dir: Option<tempfile::TempDir>,
        db: TestDatabase,
        conn: DatabaseConnection,
        clock: std::sync::Arc<dyn kaigo_platform::time::Clock>,
    ) -> Self {
        kaigo_documents::Migrator::up(&conn, None).await.expect("migrate");
        let (ctx, control) = context(kaigo_documents::NAME, conn);
        let service = kaigo_documents::start_with_clock(&ctx, &config, clock).await.expect("start");
        let harness = ServiceHarness::serve(&ctx, control, None, service).await;
        Self { ctx, config, storage_dir, harness: Some(harness), _redis: None, _db: Some(db) }
    }

    /// Starts with local storage on `conn` (migrated first), its reads through the replicas
    /// of `database` (`database.read_urls`, as `kaigo serve` connects them); the pool is
    /// returned for the checks a test drives (`ReadPool::check_now`).
    pub async fn start_with_replicas(
        conn: DatabaseConnection,
        database: &kaigo_platform::config::DatabaseConfig,
    ) -> (Self, kaigo_platform::db::ReadPool) {
        let (config, dir) = local_config(8 * 1024 * 1024);
        kaigo_documents::Migrator::up(&conn, None).await.expect("migrate");
        let (mut ctx, control) = context(kaigo_documents::NAME, conn.clone());
        let reads = kaigo_platform::db::ReadPool::connect(database, kaigo_documents::NAME, conn, &ctx.background)
            .await
            .expect("the read replicas");
        ctx.reads = reads.clone();
        let service = kaigo_documents::start_with_clock(&ctx, &config, kaigo_platform::time::system_clock())
            .await
            .expect("start");
        let harness = ServiceHarness::serve(&ctx, control, None, service).await;
        let server = Self { ctx, config, storage_dir: Some(dir), harness: Some(harness), _redis: None, _db: None };
        (server, reads)
    }

    /// Starts with local storage, its events (the registry's facts among them) on Redis
    /// Streams under a private prefix.
    pub async fn start_on_redis() -> Self {
        use kaigo_platform::events::{Bus, RedisBus};
        let (config, dir) = local_config(8 * 1024 * 1024);
        let db = TestDatabase::create().await;
        let conn = kaigo_platform::db::connect(&db.config(), kaigo_documents::NAME).await.expect("connect");
        kaigo_documents::Migrator::up(&conn, None).await.expect("migrate");
        let redis = kaigo_platform::testkit::TestRedis::create().await;
        let handle =
            kaigo_platform::redis::RedisHandle::connect(&redis.config()).await.expect("redis").expect("a handle");
        let (mut ctx, control) = context(kaigo_documents::NAME, conn);
        ctx.redis = Some(handle.clone());
        ctx.bus = Bus::Redis(RedisBus::new(handle, 10_000));
        let service = kaigo_documents::start_with_clock(&ctx, &config, kaigo_platform::time::system_clock())
            .await
            .expect("start");
        let harness = ServiceHarness::serve(&ctx, control, None, service).await;
        Self { ctx, config, storage_dir: Some(dir), harness: Some(harness), _redis: Some(redis), _db: Some(db) }
    }

    /// A client calling as `caller`.
    pub async fn client(&self, caller: Caller) -> DocumentServiceClient<Signed> {
        let harness = self.harness.as_ref().expect("the server is running");
        DocumentServiceClient::new(harness.channel(Some(caller)).await).max_decoding_message_size(4 * 1024 * 1024)
    }

    /// Where the registry's facts go: the service's own access consumer applies them
    /// (docs/domain/access.md#facts-copy).
    pub fn feed(&self) -> Feed {
        Feed::of(&self.ctx)
    }

    /// Registers `org` (`kind`) as the 担当 of [`INSURED`] of [`INSURER`] from
    /// [`facts_start`], with a consent to `categories` (none when empty), through the
    /// registry's events.
    pub async fn grant(
        &self,
        kind: OrganizationKind,
        org: &str,
        categories: &[Category],
    ) -> (Registration, Option<Consent>) {
        let feed = self.feed();
        let r = facts::register(&feed, kind, org, INSURER, INSURED, facts_start()).await;
        let c = if categories.is_empty() {
            None
        } else {
            Some(facts::consent(&feed, kind, org, INSURER, INSURED, categories, facts_start()).await)
        };
        (r, c)
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
        if let Some(harness) = self.harness.take() {
            harness.shutdown().await;
        }
    }
}

/// An insurer's staff.
pub fn insurer(number: &str) -> Caller {
    caller_for(Role::Insurer, number)
}

/// A medical institution.
pub fn institution(code: &str) -> Caller {
    caller_for(Role::MedicalInstitution, code)
}

/// A care office, with the given consent references in its token (which grant nothing:
/// docs/domain/access.md#consent).
pub fn care_office(number: &str, consents: &[&str]) -> Caller {
    Caller { consents: consents.iter().map(|c| (*c).to_owned()).collect(), ..caller_for(Role::CareOffice, number) }
}

/// The first day of the registrations and consents tests put into the copy.
pub fn facts_start() -> chrono::NaiveDate {
    kaigo_platform::time::today_jst() - chrono::Days::new(30)
}

/// An operator.
pub fn operator() -> Caller {
    kaigo_platform::testkit::caller(Role::Operator)
}

/// The ErrorInfo metadata `key` of a status.
pub fn error_metadata(status: &tonic::Status, key: &str) -> String {
    use tonic_types::StatusExt;
    status.get_details_error_info().and_then(|i| i.metadata.get(key).cloned()).unwrap_or_default()
}

/// A fresh request id.
pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
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
