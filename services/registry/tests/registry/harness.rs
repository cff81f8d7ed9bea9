//! A running registry on a fresh database, the Redis event bus, a set clock, a test CA as its
//! trust anchor, and clients that sign as any caller.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::events::{Bus, RedisBus};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::testkit::{ServiceHarness, SignedChannel, TestDatabase, TestRedis, caller, context};
use kaigo_platform::time::SetClock;
use kaigo_proto::kaigo::registry::v1 as pb;
use kaigo_proto::kaigo::registry::v1::registry_service_client::RegistryServiceClient;
use kaigo_registry::Config;
use kaigo_registry::cards::{VirtualCa, VirtualCard};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;

pub use kaigo_platform::testkit::reason;

pub type Client = RegistryServiceClient<SignedChannel>;

pub const INSURER: &str = "435073";
pub const OTHER_INSURER: &str = "122192";
pub const OFFICE: &str = "4371000128";
pub const OTHER_OFFICE: &str = "4371000201";
pub const INSTITUTION: &str = "1311234569";

/// 2026-12-04 10:00 JST.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 1, 0, 0).unwrap()
}

pub fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn person(insured: &str) -> pb::PersonRef {
    pb::PersonRef { insurer_number: INSURER.into(), insured_number: insured.into() }
}

pub fn date(y: i32, m: i32, d: i32) -> kaigo_proto::google::r#type::Date {
    kaigo_proto::google::r#type::Date { year: y, month: m, day: d }
}

pub fn office() -> Caller {
    caller(Role::CareOffice)
}

pub fn insurer() -> Caller {
    caller(Role::Insurer)
}

/// An insured person whose token subject is `link`.
pub fn person_caller(link: &str) -> Caller {
    let mut c = caller(Role::InsuredPerson);
    c.subject = link.to_owned();
    c
}

pub struct Registry {
    pub db: DatabaseConnection,
    pub clock: SetClock,
    pub harness: ServiceHarness,
    pub ca: VirtualCa,
    pub redis: TestRedis,
    pub redis_handle: RedisHandle,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let database = TestDatabase::create().await;
        let db = kaigo_platform::db::connect(&database.config(), kaigo_registry::NAME).await.unwrap();
        Self::start_on(db, Some(database), adjust).await
    }

    /// The registry on `db` (PostgreSQL or the SQLite of `kaigo dev`), migrated here.
    pub async fn start_on(
        db: DatabaseConnection,
        database: Option<TestDatabase>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        kaigo_registry::Migrator::up(&db, None).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = VirtualCa::generate().unwrap();
        let anchor = dir.path().join("anchor.pem");
        std::fs::write(&anchor, ca.certificate_pem()).unwrap();
        let mut config =
            Config { trust_anchor_file: anchor.display().to_string(), sweep_interval_ms: 20, ..Config::default() };
        adjust(&mut config);
        let redis = TestRedis::create().await;
        let redis_handle = RedisHandle::connect(&redis.config()).await.unwrap().unwrap();
        let (mut ctx, control) = context(kaigo_registry::NAME, db.clone());
        ctx.redis = Some(redis_handle.clone());
        ctx.bus = Bus::Redis(RedisBus::new(redis_handle.clone(), 10_000));
        let clock = SetClock::new(t0());
        let svc = kaigo_registry::start_with_clock(&ctx, &config, Arc::new(clock.clone())).await.unwrap();
        let harness = ServiceHarness::serve(&ctx, control, database, svc).await;
        Self { db, clock, harness, ca, redis, redis_handle, _dir: dir }
    }

    pub async fn client(&self, caller: Caller) -> Client {
        RegistryServiceClient::new(self.harness.channel(Some(caller)).await)
    }

    pub fn card(&self, serial: &str) -> VirtualCard {
        VirtualCard::issue(&self.ca, serial, false).unwrap()
    }

    /// The insurer links `serial` to `insured`.
    pub async fn link(&self, serial: &str, insured: &str, revoked: bool) {
        let links = vec![pb::IdentityLink { link_id: serial.into(), insured_number: insured.into(), revoked }];
        self.client(insurer())
            .await
            .load_identity_links(pb::LoadIdentityLinksRequest {
                request_id: id(),
                insurer_number: INSURER.into(),
                links,
            })
            .await
            .unwrap();
    }

    /// `caller` confirms `card` at its reader: the confirmation id.
    pub async fn confirm(&self, caller: Caller, card: &VirtualCard) -> pb::CompleteCardConfirmationResponse {
        let mut client = self.client(caller).await;
        let started = client
            .start_card_confirmation(pb::StartCardConfirmationRequest { request_id: id() })
            .await
            .unwrap()
            .into_inner();
        client
            .complete_card_confirmation(pb::CompleteCardConfirmationRequest {
                request_id: id(),
                confirmation_id: started.confirmation_id,
                signature: card.sign(&started.challenge).unwrap(),
                certificate: card.certificate_der().to_vec(),
                intermediates: vec![],
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Card confirmation, registration and a consent for `categories`, by the care office.
    pub async fn register_with_consent(
        &self,
        serial: &str,
        insured: &str,
        categories: &[pb::Category],
    ) -> pb::Registration {
        self.link(serial, insured, false).await;
        let card = self.card(serial);
        let confirmed = self.confirm(office(), &card).await;
        let mut client = self.client(office()).await;
        let registration = client
            .register_organization(pb::RegisterOrganizationRequest {
                request_id: id(),
                person: Some(person(insured)),
                organization: None,
                evidence: pb::Evidence::CardConfirmation as i32,
                card_confirmation_id: confirmed.confirmation_id.clone(),
                start_date: None,
            })
            .await
            .unwrap()
            .into_inner()
            .registration
            .unwrap();
        if !categories.is_empty() {
            client.record_consent(consent_request(insured, &confirmed.confirmation_id, categories)).await.unwrap();
        }
        registration
    }

    pub async fn check(&self, caller: Caller, insured: &str, category: pb::Category) -> pb::CheckAccessResponse {
        self.client(caller)
            .await
            .check_access(pb::CheckAccessRequest {
                person: Some(person(insured)),
                category: category as i32,
                date: None,
                organization: None,
            })
            .await
            .unwrap()
            .into_inner()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), sql.to_owned()))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }
}

/// A consent to the office itself, given at its reader.
pub fn consent_request(insured: &str, confirmation: &str, categories: &[pb::Category]) -> pb::RecordConsentRequest {
    pb::RecordConsentRequest {
        request_id: id(),
        person: Some(person(insured)),
        grantee: Some(pb::Grantee {
            grantee: Some(pb::grantee::Grantee::Organization(pb::Organization {
                kind: pb::OrganizationKind::CareOffice as i32,
                number: OFFICE.into(),
            })),
        }),
        categories: categories.iter().map(|c| *c as i32).collect(),
        purpose: kaigo_proto::kaigo::common::v1::Purpose::CarePlanning as i32,
        source: pb::ConsentSource::CardReader as i32,
        card_confirmation_id: confirmation.into(),
        valid_from: None,
        valid_until: None,
    }
}

pub fn allowed(r: &pb::CheckAccessResponse) -> bool {
    r.decision == pb::Decision::Allowed as i32
}
