//! The test harness: real PostgreSQL and Redis, replicas served by the platform's
//! `testkit::ServiceHarness` (real tonic servers on 127.0.0.1:0 behind CallerLayer), signed
//! callers, a shared settable clock.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use futures::future::BoxFuture;
use kaigo_certification::people::{Person, PersonDirectory, PersonStatus};
use kaigo_certification::{Config, Dependencies, Migrator, NAME, start_with};
pub use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::{CALLER_HEADER, Caller, CallerKeys, Role, SIGNATURE_HEADER, unix_now};
use kaigo_platform::config::RedisConfig;
use kaigo_platform::errors::ApiError;
use kaigo_platform::events::{Bus, RedisBus};
use kaigo_platform::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber};
use kaigo_platform::redis::RedisHandle;
pub use kaigo_platform::testkit::access::{self as facts, Feed};
use kaigo_platform::testkit::{self, ServiceHarness, SignedChannel, TestDatabase, TestRedis, TestRedisCluster};
pub use kaigo_platform::testkit::{caller, reason};
use kaigo_platform::time::SetClock;
use kaigo_proto::google::r#type::Date;
use kaigo_proto::kaigo::certification::v1 as pb;
use kaigo_proto::kaigo::certification::v1::certification_service_client::CertificationServiceClient;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::registry::v1 as pb_registry;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;

pub const INSURER: &str = "435073";
/// A person the test directory says the insurer does not know.
pub const UNKNOWN_PERSON: &str = "9999999999";

pub fn office(payload: &str) -> String {
    (0..10).map(|d| format!("{payload}{d}")).find(|n| CareOfficeNumber::parse(n).is_ok()).unwrap()
}

pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

pub fn wire(date: NaiveDate) -> Date {
    kaigo_proto::from_naive_date(date)
}

/// Noon JST on `date`.
pub fn noon_jst(date: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(3, 0, 0).unwrap())
}

/// Knows everyone except [`UNKNOWN_PERSON`].
struct TestDirectory;

impl PersonDirectory for TestDirectory {
    fn lookup<'a>(
        &'a self,
        _: &'a InsurerNumber,
        insured: &'a InsuredNumber,
        _: NaiveDate,
    ) -> BoxFuture<'a, Result<Person, ApiError>> {
        Box::pin(async move {
            Ok(if insured.as_str() == UNKNOWN_PERSON { PersonStatus::Unknown } else { PersonStatus::Known }.into())
        })
    }
}

/// One server instance (a replica), served by the platform's test harness behind its own
/// caller keys.
pub struct Replica {
    pub client: CertificationServiceClient<SignedChannel>,
    /// The keys this replica verifies callers with (sign requests with [`signed`]).
    pub keys: CallerKeys,
    harness: ServiceHarness,
}

impl Replica {
    /// Stops serving, then the background tasks (the read audit is flushed by then).
    pub async fn stop(self) {
        self.harness.shutdown().await;
    }
}

/// Where a harness's Redis lives: a prefix on the shared server, or a private cluster.
pub enum TestRedisTarget {
    Shared(TestRedis),
    Cluster(TestRedisCluster),
}

impl TestRedisTarget {
    fn config(&self) -> RedisConfig {
        match self {
            TestRedisTarget::Shared(redis) => redis.config(),
            TestRedisTarget::Cluster(cluster) => cluster.config(),
        }
    }
}

/// A database, a Redis prefix and a clock shared by the replicas of one test.
pub struct Harness {
    pub db: TestDatabase,
    pub redis: TestRedisTarget,
    /// The internal key certification signs its eligibility calls with (the fake eligibility
    /// verifies them with it).
    pub internal: CallerKeys,
    pub clock: SetClock,
    pub conn: DatabaseConnection,
    pub redis_handle: RedisHandle,
}

impl Harness {
    pub async fn new(today: NaiveDate) -> Self {
        Self::with_redis(today, TestRedisTarget::Shared(TestRedis::create().await)).await
    }

    pub async fn with_redis(today: NaiveDate, redis: TestRedisTarget) -> Self {
        Self::on_database(today, TestDatabase::create().await, redis).await
    }

    /// On `db` (fresh, or left part-migrated by a test of an upgrade), migrated to the latest.
    pub async fn on_database(today: NaiveDate, db: TestDatabase, redis: TestRedisTarget) -> Self {
        let conn = kaigo_platform::db::connect(&db.config(), NAME).await.unwrap();
        Migrator::up(&conn, None).await.unwrap();
        let redis_handle = RedisHandle::connect(&redis.config()).await.unwrap().unwrap();
        Self { db, redis, internal: CallerKeys::generate(), clock: SetClock::new(noon_jst(today)), conn, redis_handle }
    }

    /// Where the registry's facts go: the Redis bus every replica's access consumer reads
    /// (group `certification-access`), and the database the copy lives in. A replica must be
    /// running for them to be applied.
    pub fn feed(&self) -> Feed {
        Feed { bus: Bus::Redis(RedisBus::new(self.redis_handle.clone(), 10_000)), db: self.conn.clone() }
    }

    /// Registers `org` (`kind`) as the 担当 of `insured` of [`INSURER`] from 2026-01-01, with
    /// a consent to `categories` (none when empty), through the registry's events.
    pub async fn grant(
        &self,
        kind: OrganizationKind,
        org: &str,
        insured: &str,
        categories: &[Category],
    ) -> (pb_registry::Registration, Option<pb_registry::Consent>) {
        let feed = self.feed();
        let start = d(2026, 1, 1);
        let r = facts::register(&feed, kind, org, INSURER, insured, start).await;
        let c = if categories.is_empty() {
            None
        } else {
            Some(facts::consent(&feed, kind, org, INSURER, insured, categories, start).await)
        };
        (r, c)
    }

    /// A care office registered for `insured` with a consent covering CERTIFICATION.
    pub async fn follow(&self, office: &str, insured: &str) {
        self.grant(OrganizationKind::CareOffice, office, insured, &[Category::Certification]).await;
    }

    pub fn set_today(&self, today: NaiveDate) {
        self.clock.set(noon_jst(today));
    }

    pub async fn replica(&self) -> Replica {
        self.replica_with(Arc::new(TestDirectory)).await
    }

    /// A replica asking `people` about applicants: its own connection and Redis handle, the
    /// Redis event bus, the shared clock.
    pub async fn replica_with(&self, people: Arc<dyn PersonDirectory>) -> Replica {
        let conn = kaigo_platform::db::connect(&self.db.config(), NAME).await.unwrap();
        let redis = RedisHandle::connect(&self.redis.config()).await.unwrap().unwrap();
        let (mut ctx, control) = testkit::context(NAME, conn);
        ctx.redis = Some(redis.clone());
        ctx.bus = Bus::Redis(RedisBus::new(redis, 10_000));
        // A watch left open by a test holds the drain for at most this long.
        ctx.server.shutdown_grace_secs = 1;
        let config = Config { watch_poll_ms: 60_000, ..Config::default() };
        let deps = Dependencies { clock: Arc::new(self.clock.clone()), people };
        let service = start_with(&ctx, &config, deps).await.unwrap();
        let harness = ServiceHarness::serve(&ctx, control, None, service).await;
        let client = CertificationServiceClient::new(harness.channel(None).await);
        Replica { client, keys: harness.keys.clone(), harness }
    }
}

pub fn insurer_caller(number: &str) -> Caller {
    testkit::caller_for(Role::Insurer, number)
}

pub fn office_caller(number: &str) -> Caller {
    testkit::caller_for(Role::CareOffice, number)
}

/// `message` signed as `caller` for `rpc` of the certification service.
pub fn signed<T>(keys: &CallerKeys, caller: &Caller, rpc: &str, message: T) -> tonic::Request<T> {
    let path = format!("/kaigo.certification.v1.CertificationService/{rpc}");
    let (payload, signature) = keys.sign(caller, &path, unix_now());
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(CALLER_HEADER, payload.parse().unwrap());
    request.metadata_mut().insert(SIGNATURE_HEADER, signature.parse().unwrap());
    request
}

pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn metadata(status: &tonic::Status, key: &str) -> String {
    use tonic_types::StatusExt;
    status.get_details_error_info().and_then(|i| i.metadata.get(key).cloned()).unwrap_or_default()
}

/// The field paths of a BadRequest.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub fn new_application(insured: &str, date: NaiveDate, acting_office: &str) -> pb::Application {
    pb::Application {
        insurer_number: INSURER.to_owned(),
        insured_number: insured.to_owned(),
        r#type: pb::ApplicationType::New as i32,
        application_date: Some(wire(date)),
        applicant: Some(pb::Applicant {
            kind: pb::ApplicantKind::Family as i32,
            family_member_name: "山田 花子".to_owned(),
            family_relationship: "長女".to_owned(),
            office_number: String::new(),
        }),
        acting_office_number: acting_office.to_owned(),
        insured_category: common::InsuredCategory::First as i32,
        ..Default::default()
    }
}
