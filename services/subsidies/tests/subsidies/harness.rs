//! A running subsidies service and clients that sign as any caller.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use kaigo_platform::auth::{Caller, Role};
use kaigo_platform::ids::check_digit;
use kaigo_platform::testkit::{ServiceHarness, SignedChannel, TestDatabase, caller_for, context};
use kaigo_platform::time::SetClock;
use kaigo_proto::kaigo::subsidies::v1 as pb;
use kaigo_proto::kaigo::subsidies::v1::subsidy_service_client::SubsidyServiceClient;
use kaigo_subsidies::Config;
use sea_orm::DatabaseConnection;
use sea_orm_migration::MigratorTrait;
use tonic_types::StatusExt;

pub use kaigo_platform::testkit::reason;

pub type Client = SubsidyServiceClient<SignedChannel>;

pub struct Service {
    pub db: DatabaseConnection,
    pub clock: SetClock,
    pub harness: ServiceHarness,
}

/// 2026-02-02 10:00 JST: inside FY2025's window.
pub fn in_window() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 2, 1, 0, 0).unwrap()
}

pub fn with_check_digit(payload: &str) -> String {
    format!("{payload}{}", check_digit(payload.as_bytes()).unwrap())
}

/// A care office number in prefecture `pref` (two digits), serial `n`.
pub fn office(pref: &str, n: u32) -> String {
    with_check_digit(&format!("{pref}7{n:06}"))
}

/// A medical institution code in prefecture `pref`, serial `n`.
pub fn institution(pref: &str, n: u32) -> String {
    with_check_digit(&format!("{pref}1{n:06}"))
}

impl Service {
    pub async fn start() -> Self {
        Self::start_with(&Config::default()).await
    }

    /// [`Service::start`] with this configuration.
    pub async fn start_with(config: &Config) -> Self {
        let database = TestDatabase::create().await;
        let db = kaigo_platform::db::connect(&database.config(), kaigo_subsidies::NAME).await.unwrap();
        kaigo_subsidies::Migrator::up(&db, None).await.unwrap();
        Self::serve_with(database, db, config).await
    }

    /// Serves the service over `db` (already migrated).
    pub async fn serve(database: TestDatabase, db: DatabaseConnection) -> Self {
        Self::serve_with(database, db, &Config::default()).await
    }

    /// [`Service::serve`] with this configuration.
    pub async fn serve_with(database: TestDatabase, db: DatabaseConnection, config: &Config) -> Self {
        let (ctx, control) = context(kaigo_subsidies::NAME, db.clone());
        let clock = SetClock::new(in_window());
        let svc = kaigo_subsidies::start_with_clock(&ctx, config, Arc::new(clock.clone())).await.unwrap();
        let harness = ServiceHarness::serve(&ctx, control, Some(database), svc).await;
        Self { db, clock, harness }
    }

    pub async fn client(&self, caller: Caller) -> Client {
        SubsidyServiceClient::new(self.harness.channel(Some(caller)).await)
    }

    pub async fn office_client(&self, number: &str) -> Client {
        self.client(office_caller(number)).await
    }

    pub async fn institution_client(&self, code: &str) -> Client {
        self.client(caller_for(Role::MedicalInstitution, code)).await
    }

    pub async fn operator(&self) -> Client {
        let mut operator = kaigo_platform::testkit::caller(Role::Operator);
        operator.subject = "operator-1".to_owned();
        self.client(operator).await
    }

    pub async fn insurer(&self) -> Client {
        self.client(kaigo_platform::testkit::caller(Role::Insurer)).await
    }

    /// Rows in `applications`.
    pub async fn application_count(&self) -> u64 {
        use sea_orm::{EntityTrait, PaginatorTrait};
        kaigo_subsidies::store::application::Entity::find().count(&self.db).await.unwrap()
    }
}

/// Care-office costs.
pub fn care_costs(
    office: &str,
    categories: &[&str],
    readers: &[(i32, i64)],
    connection: i64,
    setup: i64,
) -> pb::CareOfficeCosts {
    pb::CareOfficeCosts {
        office_number: office.to_owned(),
        category_ids: categories.iter().map(|c| (*c).to_owned()).collect(),
        readers: readers
            .iter()
            .map(|&(quantity, unit_price_yen)| pb::ReaderPurchase { quantity, unit_price_yen })
            .collect(),
        connection_support_cost_yen: connection,
        careplan_setup_cost_yen: setup,
    }
}

/// Medical costs.
pub fn medical_costs(code: &str, kind: pb::InstitutionType, beds: i32, cost: i64) -> pb::MedicalInstitutionCosts {
    pb::MedicalInstitutionCosts {
        institution_code: code.to_owned(),
        institution_type: kind as i32,
        beds,
        software_change_cost_yen: cost,
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A create request for care-office costs under fy2025.
pub fn create_care(costs: pb::CareOfficeCosts) -> pb::CreateApplicationRequest {
    pb::CreateApplicationRequest {
        request_id: new_id(),
        application: Some(pb::Application {
            programme_id: "fy2025".to_owned(),
            costs: Some(pb::application::Costs::CareOffice(costs)),
            ..Default::default()
        }),
    }
}

/// A create request for medical costs under fy2025.
pub fn create_medical(costs: pb::MedicalInstitutionCosts) -> pb::CreateApplicationRequest {
    pb::CreateApplicationRequest {
        request_id: new_id(),
        application: Some(pb::Application {
            programme_id: "fy2025".to_owned(),
            costs: Some(pb::application::Costs::MedicalInstitution(costs)),
            ..Default::default()
        }),
    }
}

/// The BadRequest fields of a status.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// A care office acting for `number`.
pub fn office_caller(number: &str) -> Caller {
    caller_for(Role::CareOffice, number)
}
