//! kaigo-subsidies: the card-reader, connection-support and opinion-sending subsidies and their
//! applications.
//!
//! Shape (docs/architecture.md#service-crate): `api` decodes and validates requests and maps results, `domain`
//! holds the rules as plain functions, `store` is the only place with SQL. Programmes are data
//! (`programmes/*.toml`, plus `subsidies.programme_dir`), loaded and checked at start.

pub mod api;
pub mod catalogue;
pub mod domain;
mod seed;
pub mod store;

use std::path::Path;
use std::sync::Arc;

use kaigo_platform::audit::migration::{AuditIndexMigration, AuditTableMigration};
use kaigo_platform::audit::{AuditOptions, Auditor};
use kaigo_platform::config::{Problems, Validate};
use kaigo_platform::events::EventTablesMigration;
use kaigo_platform::idempotency::migration::IdempotencyTableMigration;
use kaigo_platform::service::{ServiceContext, StartError};
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::subsidies::v1::subsidy_service_server::SubsidyServiceServer;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde::{Deserialize, Serialize};

pub use api::Api;
pub use catalogue::Catalogue;

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "subsidies";

/// `[subsidies]` configuration (`KAIGO_SUBSIDIES__*`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// A directory of programme files (`*.toml`, one per fiscal year) added to the built-in
    /// ones; a file with a built-in programme's id replaces it. Empty: built-in only.
    pub programme_dir: String,
    /// `kaigo dev` only: add a demo programme, the newest real one's tables open for the
    /// current fiscal year, so that demos can submit applications after the real deadline.
    /// Never set in production: its dates are not an announced programme's.
    pub demo_programme: bool,
}

impl Validate for Config {
    fn validate(&self, problems: &mut Problems) {
        if !self.programme_dir.is_empty() && !Path::new(&self.programme_dir).is_dir() {
            problems.add("subsidies.programme_dir", "is not a directory");
        }
    }
}

impl Config {
    /// Loads the programmes: built-in, then the configured directory (the demo programme, if
    /// configured, open on `today`).
    pub fn catalogue(&self, today: chrono::NaiveDate) -> Result<Catalogue, StartError> {
        let dir = (!self.programme_dir.is_empty()).then(|| Path::new(&self.programme_dir));
        let catalogue = Catalogue::load(dir)?;
        Ok(if self.demo_programme { catalogue.with_demo(today) } else { catalogue })
    }
}

/// Starts the service on the context's clock.
pub async fn start(ctx: &ServiceContext, config: &Config) -> Result<SubsidyServiceServer<Api>, StartError> {
    start_with_clock(ctx, config, ctx.clock.clone()).await
}

/// Starts the service with `clock` deciding "today" (deadline checks, payment dates).
pub async fn start_with_clock(
    ctx: &ServiceContext,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<SubsidyServiceServer<Api>, StartError> {
    let catalogue = Arc::new(config.catalogue(clock.today_jst())?);
    let ids: Vec<String> = catalogue.newest_first().iter().map(|p| p.programme_id.clone()).collect();
    tracing::info!(programmes = ?ids, "subsidy programmes loaded");
    ctx.spawn_outbox_relay();
    let auditor = Auditor::spawn(ctx.db.clone(), &ctx.background, clock.clone(), AuditOptions::default());
    let api = Api::new(ctx.db.clone(), catalogue, clock, auditor).with_reads(ctx.reads.clone());
    Ok(kaigo_platform::limit_messages!(SubsidyServiceServer::new(api), ctx))
}

/// Loads the demo data of `kaigo dev` (idempotent: a second run changes nothing).
pub async fn seed_demo(ctx: &ServiceContext, config: &Config) -> Result<(), StartError> {
    let clock = &ctx.clock;
    seed::seed(&ctx.db, &config.catalogue(clock.today_jst())?, clock.now()).await
}

/// This service's migrations, applied by `kaigo migrate subsidies`.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(EventTablesMigration),
            Box::new(store::migration::ApplicationTablesMigration),
            Box::new(IdempotencyTableMigration),
            Box::new(store::migration::copy_idempotency_keys()),
            Box::new(AuditTableMigration),
            Box::new(AuditIndexMigration),
            Box::new(store::migration::copy_application_reads()),
            Box::new(store::migration::HistoryAndReturns),
            Box::new(kaigo_platform::audit::migration::AuditPartitionMigration),
        ]
    }
}
