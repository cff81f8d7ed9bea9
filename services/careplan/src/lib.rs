//! kaigo-careplan: ケアプランデータ連携 — plans and actuals exchanged between care offices and providers in the standard CSV format.
//!
//! Shape (docs/architecture.md#service-crate): `api` decodes and validates requests and maps results, `domain`
//! holds the rules as plain functions, `store` is the only place with SQL.

pub mod api;
pub mod csv;
pub mod domain;
pub mod seed;
pub mod store;

use kaigo_platform::audit::migration::AuditTableMigration;
use kaigo_platform::audit::{AuditOptions, Auditor};
use kaigo_platform::config::{Problems, Validate};
use kaigo_platform::events::EventTablesMigration;
use kaigo_platform::idempotency::migration::IdempotencyTableMigration;
use kaigo_platform::service::{ServiceContext, StartError};
use kaigo_platform::time::{Clock, system_clock};
use std::sync::Arc;

use kaigo_proto::kaigo::careplan::v1::care_plan_service_server::CarePlanServiceServer;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde::{Deserialize, Serialize};

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "careplan";

/// `[careplan]` configuration (`KAIGO_CAREPLAN__*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Largest request this service accepts, in bytes: a SendBundle carries a whole send unit
    /// (a 10,000-person 第6表 is about 13 MB), so it has its own limit above the server's.
    pub max_bundle_bytes: usize,
}

/// 64 MiB, the contract's default per SendBundle call.
pub const DEFAULT_MAX_BUNDLE_BYTES: usize = 64 << 20;

impl Default for Config {
    fn default() -> Self {
        Self { max_bundle_bytes: DEFAULT_MAX_BUNDLE_BYTES }
    }
}

impl Validate for Config {
    fn validate(&self, problems: &mut Problems) {
        if !(1 << 20..=1 << 30).contains(&self.max_bundle_bytes) {
            problems.add("careplan.max_bundle_bytes", "must be between 1 MiB and 1 GiB");
        }
    }
}

pub use api::Api;

/// Starts the service: its background tasks (the outbox relay) and its tonic server, with the
/// configured message limits (requests up to `max_bundle_bytes`).
pub async fn start(ctx: &ServiceContext, config: &Config) -> Result<CarePlanServiceServer<Api>, StartError> {
    start_with_clock(ctx, config, system_clock()).await
}

/// [`start`] with the clock every record and licence rule asks for "now" and "today" (tests
/// and rehearsals set it).
pub async fn start_with_clock(
    ctx: &ServiceContext,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<CarePlanServiceServer<Api>, StartError> {
    let spec = Arc::new(domain::spec::Spec::embedded()?);
    let rules = Arc::new(domain::licence::LicenceRules::embedded()?);
    ctx.spawn_outbox_relay();
    let auditor = Auditor::spawn(ctx.db.clone(), &ctx.background, clock.clone(), AuditOptions::default());
    let api = Api { ctx: ctx.clone(), spec, rules, auditor, clock };
    let server = kaigo_platform::limit_messages!(CarePlanServiceServer::new(api), ctx);
    // Requests carry whole send units: the larger of the two limits applies to them.
    Ok(server.max_decoding_message_size(config.max_bundle_bytes.max(ctx.max_message_bytes())))
}

/// Loads the demo data of `kaigo dev` (idempotent: a second run changes nothing).
pub async fn seed_demo(ctx: &ServiceContext, _config: &Config) -> Result<(), StartError> {
    let rules = domain::licence::LicenceRules::embedded()?;
    seed::seed(&ctx.db, &rules, system_clock().as_ref()).await
}

/// This service's migrations, applied by `kaigo migrate careplan`.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(EventTablesMigration),
            Box::new(store::migration::CarePlanTablesMigration),
            Box::new(IdempotencyTableMigration),
            Box::new(store::kit_migration::copy_idempotency()),
            Box::new(AuditTableMigration),
            Box::new(store::kit_migration::copy_audit()),
            Box::new(store::service_types_migration::OfficeServiceTypesMigration),
        ]
    }
}
