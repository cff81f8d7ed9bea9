//! kaigo-eligibility: 介護保険資格確認 — is this person insured, at what care level, with which
//! co-payment ratio and cost limits, on a given date.
//!
//! The hot path of the platform. Reads are answered from a two-tier cache ([`cache`]) over
//! PostgreSQL; every read of a person is audited off the request path (`kaigo_platform::audit`); insurers
//! write persons and their periods idempotently and with optimistic concurrency ([`api`]).
//! Shape (docs/architecture.md#service-crate): `api` → `domain` (pure rules) → `store` (the only
//! SQL).

pub mod api;
pub mod cache;
pub mod domain;
mod events;

pub use events::NOTIFICATION_ACCEPTED_TOPIC;
pub mod extract;
pub mod key;
pub mod seed;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use kaigo_platform::access::{AccessFactsMigration, AccessOptions, Gate};
use kaigo_platform::audit::migration::{AuditIndexMigration, AuditTableMigration};
use kaigo_platform::audit::{AuditOptions, Auditor};
use kaigo_platform::config::{Problems, Validate};
use kaigo_platform::events::EventTablesMigration;
use kaigo_platform::idempotency::migration::IdempotencyTableMigration;
use kaigo_platform::service::{ServiceContext, StartError};
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::eligibility::v1::eligibility_service_server::EligibilityServiceServer;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde::{Deserialize, Serialize};

pub use api::Api;

/// The audit buffer: the hot path's bursts are far larger than other services' reads, so
/// records wait in a deeper buffer and are written in larger COPY batches.
const AUDIT: AuditOptions = AuditOptions { buffer: 100_000, batch: 5_000 };

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "eligibility";

/// `[eligibility]` configuration (`KAIGO_ELIGIBILITY__*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Whether the in-process L1 is used at all (off only to measure the L2 path).
    pub l1_enabled: bool,
    /// L1 (in-process) budget, bytes.
    pub l1_max_bytes: u64,
    /// L1 lifetime of a known person, milliseconds. Invalidation is by pub/sub; this bounds
    /// staleness if an invalidation is ever lost.
    pub l1_ttl_ms: u64,
    /// L1 lifetime of an unknown person (negative cache), milliseconds.
    pub negative_ttl_ms: u64,
    /// Redis hash buckets persons are spread over; about (persons / 64) keeps each bucket a
    /// compact listpack (Redis `hash-max-listpack-entries` 128).
    pub l2_buckets: u64,
    /// Longest wait for one Redis operation on the hot path, milliseconds; longer and the call
    /// is answered from the database, and L2 is skipped for a second. Keep it well above
    /// Redis's queueing delay under load, or a busy Redis is taken for a dead one.
    pub l2_timeout_ms: u64,
    /// Whether ImportInsuredPersons writes the persons each chunk created or changed to L2,
    /// complete (timeline, access facts, sealed details), after the chunk commits: the first
    /// check of an imported person is then an L2 hit instead of a database read.
    pub import_fills_l2: bool,
    /// Shortest certification validity, months (docs/domain/certification.md#validity).
    pub validity_min_months: u32,
    /// Longest certification validity, months (docs/domain/certification.md#validity: 48
    /// nationally; a municipality may cap lower, e.g. 36).
    pub validity_max_months: u32,
    /// A validity starting mid-month gets the rest of that month on top (UNCONFIRMED rule).
    pub mid_month_start_adds_rest_of_month: bool,
    /// The denied-lookup alert (docs/domain/access.md#facts-copy):
    /// `eligibility.access.denied_alert_per_minute`.
    pub access: AccessOptions,
    /// 住宅改修費 and 福祉用具購入費 (`eligibility.allowances.*`): the limits and how a rise of
    /// care need renews the home-modification allowance (docs/domain/eligibility.md#allowances).
    pub allowances: domain::allowances::AllowanceRules,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            l1_enabled: true,
            l1_max_bytes: 256 * 1024 * 1024,
            l1_ttl_ms: 60_000,
            negative_ttl_ms: 5_000,
            l2_buckets: 1 << 19,
            l2_timeout_ms: 250,
            import_fills_l2: true,
            validity_min_months: 3,
            validity_max_months: 48,
            mid_month_start_adds_rest_of_month: true,
            access: AccessOptions::default(),
            allowances: domain::allowances::AllowanceRules::default(),
        }
    }
}

impl Validate for Config {
    fn validate(&self, problems: &mut Problems) {
        if self.l1_max_bytes < 1024 * 1024 {
            problems.add("eligibility.l1_max_bytes", "must be at least 1 MiB");
        }
        if self.l1_ttl_ms == 0 || self.l1_ttl_ms > 3_600_000 {
            problems.add("eligibility.l1_ttl_ms", "must be between 1 ms and 1 hour");
        }
        if self.negative_ttl_ms > 600_000 {
            problems.add("eligibility.negative_ttl_ms", "must be at most 10 minutes");
        }
        if !(1..=60_000).contains(&self.l2_timeout_ms) {
            problems.add("eligibility.l2_timeout_ms", "must be between 1 and 60000");
        }
        if self.l2_buckets == 0 {
            problems.add("eligibility.l2_buckets", "must be at least 1");
        }
        if self.validity_min_months == 0 || self.validity_min_months > self.validity_max_months {
            problems.add("eligibility.validity_min_months", "must be at least 1 and at most validity_max_months");
        }
        self.access.validate_in("eligibility.access", problems);
        for (field, message) in self.allowances.problems() {
            problems.add(&format!("eligibility.allowances.{field}"), message);
        }
        if self.validity_max_months > 48 {
            problems.add("eligibility.validity_max_months", "must be at most 48 (介護保険法施行規則)");
        }
    }
}

impl Config {
    fn cache_settings(&self) -> cache::CacheSettings {
        cache::CacheSettings {
            l1_enabled: self.l1_enabled,
            l1_max_bytes: self.l1_max_bytes,
            l1_ttl: Duration::from_millis(self.l1_ttl_ms),
            negative_ttl: Duration::from_millis(self.negative_ttl_ms),
        }
    }

    fn validity_rules(&self) -> domain::validity::ValidityRules {
        domain::validity::ValidityRules {
            min_months: self.validity_min_months,
            max_months: self.validity_max_months,
            mid_month_start_adds_rest_of_month: self.mid_month_start_adds_rest_of_month,
        }
    }
}

/// The sealing purpose of the personal details cached in L2 (kaigo_platform::seal).
const L2_DETAILS_PURPOSE: &str = "eligibility.l2.details";

/// Builds the API on the context's clock and starts its background tasks: the outbox relay,
/// the audit writer, the cache invalidation listener and the event consumers.
pub fn build(ctx: &ServiceContext, config: &Config) -> Api {
    build_with_clock(ctx, config, ctx.clock.clone())
}

/// [`build`] with `clock` deciding "now" and "today" (JST).
pub fn build_with_clock(ctx: &ServiceContext, config: &Config, clock: Arc<dyn Clock>) -> Api {
    ctx.spawn_outbox_relay();
    let l2 = ctx.redis.clone().map(|redis| {
        let sealer = ctx.seal.sealer(L2_DETAILS_PURPOSE);
        cache::L2::new(redis, config.l2_buckets, Duration::from_millis(config.l2_timeout_ms), sealer)
            .with_import_fills(config.import_fills_l2)
    });
    let cache = cache::Cache::new(ctx.db.clone(), l2.clone(), &config.cache_settings()).with_reads(ctx.reads.clone());
    if let Some(l2) = l2 {
        let listening = cache.clone();
        ctx.background.spawn("eligibility-invalidation", move |stopping| l2.listen(listening, stopping));
    }
    let auditor = Auditor::spawn(ctx.db.clone(), &ctx.background, clock.clone(), AUDIT);
    let gate = Gate::builtin(NAME, &config.access);
    let api = Api::new(api::Inner {
        db: ctx.db.clone(),
        cache,
        auditor,
        rules: config.validity_rules(),
        clock,
        gate,
        allowances: config.allowances.clone(),
    });
    events::spawn_consumers(ctx, &api);
    api
}

/// Starts the service and returns its tonic server with the configured message limits.
pub async fn start(ctx: &ServiceContext, config: &Config) -> Result<EligibilityServiceServer<Api>, StartError> {
    Ok(kaigo_platform::limit_messages!(EligibilityServiceServer::new(build(ctx, config)), ctx))
}

/// Loads the demo data of `kaigo dev` (idempotent: a second run changes nothing).
pub async fn seed_demo(ctx: &ServiceContext, _config: &Config) -> Result<(), StartError> {
    seed::seed(&ctx.db, ctx.clock.as_ref()).await?;
    seed::allowances::seed(&ctx.db, ctx.clock.as_ref()).await
}

/// This service's migrations, applied by `kaigo migrate eligibility`.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(EventTablesMigration),
            Box::new(store::migration::CreateTables),
            Box::new(IdempotencyTableMigration),
            Box::new(store::migration::copy_requests()),
            Box::new(AuditTableMigration),
            Box::new(AuditIndexMigration),
            Box::new(store::migration::copy_audit_log()),
            Box::new(AccessFactsMigration),
            Box::new(store::migrate_offices::EnqueueCareManagementOffices),
            Box::new(kaigo_platform::access::AccessIdentityLinksMigration),
            Box::new(store::migrate_qualification::QualificationSpans),
            Box::new(store::allowances::CreateAllowanceUses),
            Box::new(kaigo_platform::audit::migration::AuditPartitionMigration),
        ]
    }
}
