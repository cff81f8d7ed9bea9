//! Starting eligibility servers and calling them as a given caller.

use kaigo_eligibility::Config;
use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::config::RedisConfig;
use kaigo_platform::events::{Bus, RedisBus};
use kaigo_platform::ids::{CareOfficeNumber, InsurerNumber, MedicalInstitutionCode};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::testkit::access::{self, Feed};
use kaigo_platform::testkit::{ServiceHarness, SignedChannel, TestDatabase, context};
use kaigo_proto::google::r#type::Date;
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_client::EligibilityServiceClient;
use sea_orm_migration::MigratorTrait;

pub use kaigo_platform::testkit::reason;

pub type Client = EligibilityServiceClient<SignedChannel>;

/// A running eligibility server.
pub struct Server {
    pub api: kaigo_eligibility::Api,
    pub harness: ServiceHarness,
    /// The registry's facts go in here (docs/domain/access.md#facts-copy).
    pub feed: Feed,
}

impl Server {
    /// Starts a server over `db` (migrated here), with Redis when given.
    pub async fn start(db: &TestDatabase, redis: Option<RedisConfig>) -> Server {
        let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
        kaigo_eligibility::Migrator::up(&conn, None).await.unwrap();
        Self::serve(conn, redis).await
    }

    /// Starts a server over `db` (migrated here) with Redis and `config`.
    pub async fn start_with(db: &TestDatabase, redis: RedisConfig, config: &Config) -> Server {
        let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
        kaigo_eligibility::Migrator::up(&conn, None).await.unwrap();
        Self::serve_with(conn, Some(redis), config).await
    }

    /// Starts a server over `db` (migrated here) with `config`, with Redis when given.
    pub async fn start_config(db: &TestDatabase, redis: Option<RedisConfig>, config: &Config) -> Server {
        let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
        kaigo_eligibility::Migrator::up(&conn, None).await.unwrap();
        Self::serve_with(conn, redis, config).await
    }

    /// Starts a server over `conn` (already migrated), with Redis when given.
    pub async fn serve(conn: sea_orm::DatabaseConnection, redis: Option<RedisConfig>) -> Server {
        // A loaded test machine may take longer than production's 250 ms for one Redis round
        // trip; a timeout would skip L2 and make cache assertions flaky. Faults (a killed
        // server) fail at once whatever the timeout.
        Self::serve_with(conn, redis, &Config { l2_timeout_ms: 2_000, ..Config::default() }).await
    }

    async fn serve_with(conn: sea_orm::DatabaseConnection, redis: Option<RedisConfig>, config: &Config) -> Server {
        let (mut ctx, control) = context("eligibility", conn);
        if let Some(config) = redis {
            let handle = RedisHandle::connect(&config).await.unwrap();
            if let Some(handle) = &handle {
                ctx.bus = Bus::Redis(RedisBus::new(handle.clone(), 10_000));
            }
            ctx.redis = handle;
        }
        let api = kaigo_eligibility::build(&ctx, config);
        let service =
            kaigo_proto::kaigo::eligibility::v1::eligibility_service_server::EligibilityServiceServer::new(api.clone());
        let feed = Feed::of(&ctx);
        let harness = ServiceHarness::serve(&ctx, control, None, service).await;
        Server { api, harness, feed }
    }

    /// Registers `org` (`kind`) for the person of [`INSURER`] from 2000-04-01 with a consent
    /// to `categories`, through the registry's events (no consent when empty).
    pub async fn grant(&self, kind: OrganizationKind, org: &str, insured: &str, categories: &[Category]) {
        let start = chrono::NaiveDate::from_ymd_opt(2000, 4, 1).unwrap();
        access::register(&self.feed, kind, org, INSURER, insured, start).await;
        if !categories.is_empty() {
            access::consent(&self.feed, kind, org, INSURER, insured, categories, start).await;
        }
    }

    /// A client calling as `caller`.
    pub async fn client(&self, caller: Caller) -> Client {
        EligibilityServiceClient::new(self.harness.channel(Some(caller)).await)
    }

    /// Stops serving and flushes background work (audit, relay).
    pub async fn stop(self) {
        self.harness.shutdown().await;
    }
}

pub const INSURER: &str = "435073";
pub const OTHER_INSURER: &str = "122192";
pub const OFFICE: &str = "0300000106";
pub const OTHER_OFFICE: &str = "0300000007";

pub fn insurer(number: &str) -> Caller {
    Caller {
        subject: "municipal-system".into(),
        role: Role::Insurer,
        insurer: Some(InsurerNumber::parse(number).unwrap()),
        office: None,
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

pub fn office(role: Role, number: &str) -> Caller {
    Caller {
        subject: "care-software".into(),
        role,
        insurer: None,
        office: Some(CareOfficeNumber::parse(number).unwrap()),
        institution: None,
        scopes: vec![],
        consents: vec![],
    }
}

pub fn clinic(consents: Vec<String>) -> Caller {
    Caller {
        subject: "ehr".into(),
        role: Role::MedicalInstitution,
        insurer: None,
        office: None,
        institution: Some(MedicalInstitutionCode::parse("0110113719").unwrap()),
        scopes: vec![],
        consents,
    }
}

pub fn date(y: i32, m: i32, d: i32) -> Date {
    Date { year: y, month: m, day: d }
}

pub fn period(start: Date, end: Option<Date>) -> Option<common::Period> {
    Some(common::Period { start: Some(start), end })
}

pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Creates a 第1号 person insured from 2020-04-01; returns its version.
pub async fn create_person(client: &mut Client, insured: &str) -> i64 {
    create_person_at(client, INSURER, insured).await
}

pub async fn create_person_at(client: &mut Client, insurer_number: &str, insured: &str) -> i64 {
    let person = pb::InsuredPerson {
        insurer_number: insurer_number.into(),
        insured_number: insured.into(),
        name_kanji: "介護 花子".into(),
        name_kana: "カイゴ ハナコ".into(),
        birth_date: Some(date(1950, 5, 3)),
        sex: common::Sex::Female as i32,
        insured_category: common::InsuredCategory::First as i32,
        qualification_acquired_date: Some(date(2020, 4, 1)),
        ..Default::default()
    };
    let response = client
        .upsert_insured_person(pb::UpsertInsuredPersonRequest {
            request_id: rid(),
            person: Some(person),
            expected_version: 0,
        })
        .await
        .unwrap();
    response.into_inner().person.unwrap().version
}

/// Records a certification; returns the person's new version.
pub async fn certify(
    client: &mut Client,
    insured: &str,
    version: i64,
    level: common::CareLevel,
    start: Date,
    end: Date,
) -> i64 {
    let request = pb::RecordCertificationRequest {
        request_id: rid(),
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        expected_version: version,
        certification: Some(pb::CertificationPeriod {
            care_level: level as i32,
            certified_date: Some(start),
            validity: period(start, Some(end)),
            ..Default::default()
        }),
    };
    client.record_certification(request).await.unwrap().into_inner().person_version
}

/// CheckEligibility as of a date.
pub async fn check(client: &mut Client, insured: &str, as_of: Date) -> pb::EligibilityResult {
    client
        .check_eligibility(pb::CheckEligibilityRequest {
            insurer_number: INSURER.into(),
            insured_number: insured.into(),
            as_of: Some(as_of),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .result
        .unwrap()
}

/// A history's records without the qualification spans (every person has at least one:
/// docs/domain/eligibility.md#qualification).
pub fn periods(records: Vec<pb::EligibilityRecord>) -> Vec<pb::EligibilityRecord> {
    records.into_iter().filter(|r| r.kind != pb::RecordKind::Qualification as i32).collect()
}

pub fn verdict(result: &pb::EligibilityResult) -> pb::EligibilityVerdict {
    pb::EligibilityVerdict::try_from(result.verdict).unwrap()
}

/// Waits until every outbox event is published and every consumer group of
/// `eligibility.changed` on `redis` has handled every entry: the writes' repeated invalidations
/// are done (within 20 s, or the test fails with `what`).
pub async fn changed_events_handled(outbox: &sea_orm::DatabaseConnection, redis: &RedisHandle, what: &str) {
    use sea_orm::{ConnectionTrait, Statement};
    let bus = RedisBus::new(redis.clone(), 10);
    let settled = kaigo_platform::testkit::eventually(std::time::Duration::from_secs(20), || async {
        let row = outbox
            .query_one_raw(Statement::from_string(
                outbox.get_database_backend(),
                "SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL",
            ))
            .await
            .ok()??;
        let unpublished: i64 = row.try_get("", "n").ok()?;
        let backlog = bus.backlog(kaigo_eligibility::store::write::CHANGED_TOPIC).await.ok()?;
        (unpublished == 0 && !backlog.is_empty() && backlog.iter().all(|(_, n)| *n == 0)).then_some(())
    })
    .await;
    assert!(settled.is_some(), "{what}");
}
