//! A real careplan server on 127.0.0.1:0 behind `CallerLayer` (testkit::ServiceHarness), on a
//! fresh PostgreSQL database, with clients that sign their caller per RPC path as the gateway does.

use std::time::Duration;

use kaigo_careplan::Config;
use kaigo_platform::auth::{Caller, Role};
pub use kaigo_platform::testkit::reason;
use kaigo_platform::testkit::{ServiceHarness, SignedChannel, TestDatabase, caller_for, context};
use kaigo_proto::kaigo::careplan::v1::care_plan_service_client::CarePlanServiceClient;
use sea_orm::ConnectionTrait;
use sea_orm_migration::MigratorTrait;

/// Signs the caller (if any) for each call's own path.
pub type Signed = SignedChannel;

pub struct TestServer {
    harness: ServiceHarness,
    /// Where the registry's facts go: the service's own access consumer applies them
    /// (docs/domain/access.md#facts-copy).
    pub feed: kaigo_platform::testkit::access::Feed,
    /// The service's own connection, for checks the API does not expose (the read audit).
    pub conn: sea_orm::DatabaseConnection,
    /// The Redis prefix of a server whose events travel on Redis Streams.
    _redis: Option<kaigo_platform::testkit::TestRedis>,
}

impl TestServer {
    pub async fn start() -> Self {
        let db = TestDatabase::create().await;
        let conn = kaigo_platform::db::connect(&db.config(), kaigo_careplan::NAME).await.expect("connect");
        Self::start_on(conn, Some(db)).await
    }

    /// A server on an existing connection (e.g. SQLite, as `kaigo dev` runs), migrated to the
    /// current version first; `db` (if any) is dropped with the server.
    pub async fn start_on(conn: sea_orm::DatabaseConnection, db: Option<TestDatabase>) -> Self {
        Self::start_with_clock(conn, db, kaigo_platform::time::system_clock()).await
    }

    /// A server on a fresh database with the `[careplan]` settings of `config`.
    pub async fn start_with_config(config: Config) -> Self {
        let db = TestDatabase::create().await;
        let conn = kaigo_platform::db::connect(&db.config(), kaigo_careplan::NAME).await.expect("connect");
        Self::start_configured(conn, Some(db), kaigo_platform::time::system_clock(), config).await
    }

    /// [`TestServer::start_on`] with the service asking `clock` for "now".
    pub async fn start_with_clock(
        conn: sea_orm::DatabaseConnection,
        db: Option<TestDatabase>,
        clock: std::sync::Arc<dyn kaigo_platform::time::Clock>,
    ) -> Self {
        Self::start_configured(conn, db, clock, Config::default()).await
    }

    async fn start_configured(
        conn: sea_orm::DatabaseConnection,
        db: Option<TestDatabase>,
        clock: std::sync::Arc<dyn kaigo_platform::time::Clock>,
        config: Config,
    ) -> Self {
        kaigo_careplan::Migrator::up(&conn, None).await.expect("migrate");
        let (ctx, control) = context(kaigo_careplan::NAME, conn.clone());
        let service = kaigo_careplan::start_with_clock(&ctx, &config, clock).await.expect("start");
        let feed = kaigo_platform::testkit::access::Feed::of(&ctx);
        let harness = ServiceHarness::serve(&ctx, control, db, service).await;
        Self { harness, feed, conn, _redis: None }
    }

    /// A server on `conn` (migrated first) whose reads go through the replicas of `database`
    /// (`database.read_urls`, as `kaigo serve` connects them); the pool is returned for the
    /// checks a test drives (`ReadPool::check_now`).
    pub async fn start_with_replicas(
        conn: sea_orm::DatabaseConnection,
        database: &kaigo_platform::config::DatabaseConfig,
    ) -> (Self, kaigo_platform::db::ReadPool) {
        kaigo_careplan::Migrator::up(&conn, None).await.expect("migrate");
        let (mut ctx, control) = context(kaigo_careplan::NAME, conn.clone());
        let reads =
            kaigo_platform::db::ReadPool::connect(database, kaigo_careplan::NAME, conn.clone(), &ctx.background)
                .await
                .expect("the read replicas");
        ctx.reads = reads.clone();
        let clock = kaigo_platform::time::system_clock();
        let service = kaigo_careplan::start_with_clock(&ctx, &Config::default(), clock).await.expect("start");
        let feed = kaigo_platform::testkit::access::Feed::of(&ctx);
        let harness = ServiceHarness::serve(&ctx, control, None, service).await;
        (Self { harness, feed, conn, _redis: None }, reads)
    }

    /// A server on a fresh database whose events (the registry's facts among them) travel on
    /// Redis Streams under a private prefix.
    pub async fn start_on_redis() -> Self {
        use kaigo_platform::events::{Bus, RedisBus};
        let db = TestDatabase::create().await;
        let conn = kaigo_platform::db::connect(&db.config(), kaigo_careplan::NAME).await.expect("connect");
        kaigo_careplan::Migrator::up(&conn, None).await.expect("migrate");
        let redis = kaigo_platform::testkit::TestRedis::create().await;
        let handle =
            kaigo_platform::redis::RedisHandle::connect(&redis.config()).await.expect("redis").expect("a handle");
        let (mut ctx, control) = context(kaigo_careplan::NAME, conn.clone());
        ctx.redis = Some(handle.clone());
        ctx.bus = Bus::Redis(RedisBus::new(handle, 10_000));
        let clock = kaigo_platform::time::system_clock();
        let service = kaigo_careplan::start_with_clock(&ctx, &Config::default(), clock).await.expect("start");
        let feed = kaigo_platform::testkit::access::Feed::of(&ctx);
        let harness = ServiceHarness::serve(&ctx, control, Some(db), service).await;
        Self { harness, feed, conn, _redis: Some(redis) }
    }

    pub async fn client(&self, caller: Option<Caller>) -> CarePlanServiceClient<Signed> {
        CarePlanServiceClient::new(self.harness.channel(caller).await)
    }

    pub async fn shutdown(self) {
        self.harness.shutdown().await;
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

/// A care office or a service provider acting for office `number`.
pub fn office(role: Role, number: &str) -> Caller {
    caller_for(role, number)
}
