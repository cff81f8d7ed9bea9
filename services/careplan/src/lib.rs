//! kaigo-careplan: ケアプランデータ連携 — plans and actuals exchanged between care offices and providers in the standard CSV format.
//!
//! Shape (docs/architecture.md#service-crate): `api` decodes and validates requests and maps results, `domain`
//! holds the rules as plain functions, `store` is the only place with SQL.

pub mod api;
pub mod csv;
pub mod domain;
pub mod seed;
pub mod store;

use kaigo_platform::access::AccessFactsMigration;
use kaigo_platform::audit::migration::{AuditIndexMigration, AuditTableMigration};
use kaigo_platform::audit::{AuditOptions, Auditor};
use kaigo_platform::config::{Problems, Validate};
use kaigo_platform::events::EventTablesMigration;
use kaigo_platform::idempotency::migration::IdempotencyTableMigration;
use kaigo_platform::service::{ServiceContext, StartError};
use kaigo_platform::time::Clock;
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
    /// The last service month (YYYYMM) for which files of CSVバージョン 202208 (v3.2) are
    /// accepted; empty accepts them for every month (docs/domain/careplan-csv.md#settings).
    pub csv_202208_last_service_month: String,
    /// `strict` or `warn`: an office number with a letter at position 3 whose check digit
    /// fails is refused, or accepted with a warning (the rule for letters is UNCONFIRMED;
    /// docs/domain/careplan-csv.md#settings).
    pub lettered_office_check_digit: domain::spec::LetteredOfficeCheck,
    /// The denied-lookup alert (docs/domain/access.md#facts-copy):
    /// `careplan.access.denied_alert_per_minute`.
    pub access: kaigo_platform::access::AccessOptions,
}

/// 64 MiB, the contract's default per SendBundle call.
pub const DEFAULT_MAX_BUNDLE_BYTES: usize = 64 << 20;

impl Default for Config {
    fn default() -> Self {
        Self {
            max_bundle_bytes: DEFAULT_MAX_BUNDLE_BYTES,
            csv_202208_last_service_month: domain::spec::DEFAULT_202208_LAST_MONTH.to_string(),
            lettered_office_check_digit: domain::spec::LetteredOfficeCheck::Strict,
            access: kaigo_platform::access::AccessOptions::default(),
        }
    }
}

impl Config {
    /// The settings the codec applies, or the key that is wrong.
    pub fn spec_settings(&self) -> Result<domain::spec::Settings, &'static str> {
        let mut last_service_month = std::collections::BTreeMap::new();
        if !self.csv_202208_last_service_month.is_empty() {
            let month =
                <domain::values::YearMonth as domain::values::FieldType>::parse(&self.csv_202208_last_service_month)
                    .map_err(|_| "careplan.csv_202208_last_service_month")?;
            last_service_month.insert("202208".to_owned(), month);
        }
        Ok(domain::spec::Settings { last_service_month, lettered_office: self.lettered_office_check_digit })
    }
}

impl Validate for Config {
    fn validate(&self, problems: &mut Problems) {
        if !(1 << 20..=1 << 30).contains(&self.max_bundle_bytes) {
            problems.add("careplan.max_bundle_bytes", "must be between 1 MiB and 1 GiB");
        }
        if let Err(key) = self.spec_settings() {
            problems.add(key, "must be a year and month YYYYMM (e.g. 202503), or empty for no cut-over");
        }
        self.access.validate_in("careplan.access", problems);
    }
}

pub use api::Api;

/// Starts the service: its background tasks (the outbox relay) and its tonic server, with the
/// configured message limits (requests up to `max_bundle_bytes`).
pub async fn start(ctx: &ServiceContext, config: &Config) -> Result<CarePlanServiceServer<Api>, StartError> {
    start_with_clock(ctx, config, ctx.clock.clone()).await
}

/// [`start`] with the clock every record and licence rule asks for "now" and "today" (tests
/// and rehearsals set it).
pub async fn start_with_clock(
    ctx: &ServiceContext,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<CarePlanServiceServer<Api>, StartError> {
    let settings = config.spec_settings().map_err(|key| format!("{key} is not a YYYYMM"))?;
    let spec = Arc::new(domain::spec::Spec::embedded()?.with_settings(settings));
    let rules = Arc::new(domain::licence::LicenceRules::embedded()?);
    ctx.spawn_outbox_relay();
    // The copy of the registry's registrations and consents (group `careplan-access`), which
    // a read of one person's plans (CARE_PLAN) is decided on (docs/domain/access.md#in-kaigo).
    kaigo_platform::access::spawn_consumer(ctx);
    let auditor = Auditor::spawn(ctx.db.clone(), &ctx.background, clock.clone(), AuditOptions::default());
    let gate = kaigo_platform::access::Gate::builtin(NAME, &config.access);
    let api = Api { ctx: ctx.clone(), spec, rules, auditor, clock, gate };
    let server = kaigo_platform::limit_messages!(CarePlanServiceServer::new(api), ctx);
    // Requests carry whole send units: the larger of the two limits applies to them.
    Ok(server.max_decoding_message_size(config.max_bundle_bytes.max(ctx.max_message_bytes())))
}

/// Loads the demo data of `kaigo dev`: the demo offices, then the demo person's plan and this
/// month's 予定 (idempotent: a second run the same month changes nothing).
pub async fn seed_demo(ctx: &ServiceContext, config: &Config) -> Result<(), StartError> {
    let rules = domain::licence::LicenceRules::embedded()?;
    let clock = ctx.clock.clone();
    seed::seed(&ctx.db, &rules, clock.as_ref()).await?;
    let settings = config.spec_settings().map_err(|key| format!("{key} is not a YYYYMM"))?;
    let spec = Arc::new(domain::spec::Spec::embedded()?.with_settings(settings));
    seed::seed_plan(&ctx.db, &spec, clock.as_ref()).await
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
            Box::new(AuditIndexMigration),
            Box::new(store::kit_migration::copy_audit()),
            Box::new(store::service_types_migration::OfficeServiceTypesMigration),
            Box::new(AccessFactsMigration),
            Box::new(store::evidence::ServiceEvidenceMigration),
            Box::new(store::evidence::BundlePersonsMigration),
            Box::new(kaigo_platform::access::AccessIdentityLinksMigration),
            Box::new(kaigo_platform::audit::migration::AuditPartitionMigration),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_are_validated_naming_their_key() {
        let problems = |config: &Config| {
            let mut p = Problems::default();
            config.validate(&mut p);
            format!("{p:?}")
        };
        assert!(!problems(&Config::default()).contains("careplan."));
        let bad = Config { csv_202208_last_service_month: "2025-09".to_owned(), ..Config::default() };
        assert!(problems(&bad).contains("careplan.csv_202208_last_service_month"), "{}", problems(&bad));
        let open = Config { csv_202208_last_service_month: String::new(), ..Config::default() };
        assert!(open.spec_settings().unwrap().last_service_month.is_empty());
        let default = Config::default().spec_settings().unwrap();
        assert_eq!(default, domain::spec::Settings::default());
        let warn: Config = toml::from_str("lettered_office_check_digit = \"warn\"").unwrap();
        assert_eq!(warn.lettered_office_check_digit, domain::spec::LetteredOfficeCheck::Warn);
        assert!(toml::from_str::<Config>("lettered_office_check_digit = \"lenient\"").is_err());
    }
}
