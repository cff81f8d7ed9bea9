//! kaigo-registry: the relationship and consent registry (docs/domain/access.md#registry).
//!
//! Registrations of organisations as a person's 担当, the person's consents, the
//! 居宅サービス計画作成依頼届出, identity confirmation with the card, and the person's own view.
//! The access decision itself is `kaigo_access::RuleTable::decide`; this service holds the
//! facts it rests on and publishes every change as an event (`registry.registration_changed`,
//! `registry.consent_changed`, `registry.care_plan_notification_accepted`).
//!
//! Shape (docs/architecture.md#service-crate): `api` decodes, validates and maps; `domain` holds
//! the rules as plain functions; `store` is the only place with SQL. `cards` is the virtual
//! card issuer of `kaigo dev` and the tests; `sweep` ends registrations without service.

pub mod api;
pub mod cards;
mod changes;
pub mod domain;
pub mod events;
pub mod recorded;
mod seed;
pub mod store;
pub mod sweep;
mod wire;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kaigo_access::RuleTable;
use kaigo_platform::audit::migration::{AuditIndexMigration, AuditTableMigration};
use kaigo_platform::audit::trail::{ReadSource, TrailClient};
use kaigo_platform::audit::{AuditOptions, Auditor};
use kaigo_platform::auth::CallerKeys;
use kaigo_platform::config::{Problems, Validate};
use kaigo_platform::events::{Consumer, ConsumerOptions, EventTablesMigration};
use kaigo_platform::idempotency::migration::IdempotencyTableMigration;
use kaigo_platform::service::{ServiceContext, StartError};
use kaigo_platform::time::Clock;
use kaigo_proto::kaigo::registry::v1::registry_service_server::RegistryServiceServer;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde::{Deserialize, Serialize};
use tonic::transport::Endpoint;

pub use api::{Api, AuditSources};

/// The tonic server `start` returns.
pub type RegistryServer = RegistryServiceServer<Api>;
pub use domain::card::TrustAnchors;

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "registry";

/// Topic of [`kaigo_proto::kaigo::registry::v1::RegistrationChanged`].
pub const TOPIC_REGISTRATION_CHANGED: &str = "registry.registration_changed";
/// Topic of [`kaigo_proto::kaigo::registry::v1::ConsentChanged`].
pub const TOPIC_CONSENT_CHANGED: &str = "registry.consent_changed";
/// Topic of [`kaigo_proto::kaigo::registry::v1::CarePlanNotificationAccepted`].
pub const TOPIC_NOTIFICATION_ACCEPTED: &str = "registry.care_plan_notification_accepted";
/// Topic of identity-link changes (payload `IdentityLinkChanged`, key: the link id).
pub const TOPIC_IDENTITY_LINK_CHANGED: &str = "registry.identity_link_changed";

/// `[registry]` configuration (`KAIGO_REGISTRY__*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// PEM file of the CA certificates card certificates must chain to (the operator's
    /// stand-in for J-LIS). Empty: only the virtual CA of `virtual_cards_dir`, if any; with
    /// neither, card confirmations are refused (`CARD_READER_NOT_CONFIGURED`).
    pub trust_anchor_file: String,
    /// `kaigo dev` only: a directory where a test CA and virtual cards for the demo persons
    /// are created (or reused), the CA trusted and the cards linked by `seed_demo`. Never set
    /// in production.
    pub virtual_cards_dir: String,
    /// How long a card challenge is valid, seconds (10–900).
    pub challenge_ttl_secs: u64,
    /// How long a completed card confirmation backs a registration or consent, seconds
    /// (60–86,400).
    pub confirmation_use_secs: u64,
    /// Months without service evidence after which a registration ends by itself (1–60;
    /// docs/domain/access.md#registrations, **UNCONFIRMED**).
    pub no_service_months: u32,
    /// How often the sweep looks for registrations without service, milliseconds
    /// (10–86,400,000).
    pub sweep_interval_ms: u64,
    /// A rule table replacing the built-in one (docs/domain/access.md#rule-table). Empty:
    /// built-in.
    pub rules_file: String,
    /// The services whose read audit trails the person's access log gathers
    /// (docs/domain/access.md#access-log), by name (`eligibility`, `certification`,
    /// `documents`, `careplan`) → `http://host:port` (`kaigo.audit.v1.AuditTrailService` is
    /// served on each service's own port). `kaigo dev` asks them in process. Empty: the log
    /// holds this service's own reads only.
    pub audit_sources: BTreeMap<String, String>,
    /// The longest wait for one service's trail, milliseconds (100–30,000); a service that does
    /// not answer in time is named in the answer, which is marked partial.
    pub audit_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            trust_anchor_file: String::new(),
            virtual_cards_dir: String::new(),
            challenge_ttl_secs: 120,
            confirmation_use_secs: 1800,
            no_service_months: 6,
            sweep_interval_ms: 3_600_000,
            rules_file: String::new(),
            audit_sources: BTreeMap::new(),
            audit_timeout_ms: 2000,
        }
    }
}

impl Validate for Config {
    fn validate(&self, problems: &mut Problems) {
        if !self.trust_anchor_file.is_empty() {
            match std::fs::read(&self.trust_anchor_file) {
                Ok(pem) => {
                    if let Err(e) = TrustAnchors::from_pem(&pem) {
                        problems.add("registry.trust_anchor_file", e);
                    }
                }
                Err(_) => problems.add("registry.trust_anchor_file", "cannot be read"),
            }
        }
        if !(10..=900).contains(&self.challenge_ttl_secs) {
            problems.add("registry.challenge_ttl_secs", "must be 10–900");
        }
        if !(60..=86_400).contains(&self.confirmation_use_secs) {
            problems.add("registry.confirmation_use_secs", "must be 60–86400");
        }
        if !(1..=60).contains(&self.no_service_months) {
            problems.add("registry.no_service_months", "must be 1–60");
        }
        if !(10..=86_400_000).contains(&self.sweep_interval_ms) {
            problems.add("registry.sweep_interval_ms", "must be 10–86400000");
        }
        if !self.rules_file.is_empty() {
            match std::fs::read_to_string(&self.rules_file) {
                Ok(text) => {
                    if let Err(e) = RuleTable::from_toml(&text) {
                        problems.add("registry.rules_file", e.to_string());
                    }
                }
                Err(_) => problems.add("registry.rules_file", "cannot be read"),
            }
        }
        if !self.virtual_cards_dir.is_empty() && Path::new(&self.virtual_cards_dir).is_file() {
            problems.add("registry.virtual_cards_dir", "is a file, not a directory");
        }
        for (name, url) in &self.audit_sources {
            let key = format!("registry.audit_sources.{name}");
            if !domain::access_log::is_service_name(name) || name == NAME {
                problems.add(&key, "must name another service: 1–32 lower-case letters");
            }
            if let Err(problem) = source_endpoint(url) {
                problems.add(&key, problem);
            }
        }
        if !(100..=30_000).contains(&self.audit_timeout_ms) {
            problems.add("registry.audit_timeout_ms", "must be 100–30000");
        }
    }
}

impl Config {
    /// The rule table: the configured file, or the built-in one.
    pub fn rules(&self) -> Result<RuleTable, StartError> {
        if self.rules_file.is_empty() {
            return Ok(RuleTable::builtin());
        }
        let text = std::fs::read_to_string(&self.rules_file)
            .map_err(|e| format!("registry.rules_file {}: {e}", self.rules_file))?;
        Ok(RuleTable::from_toml(&text)?)
    }

    /// The trust anchors: the configured file plus the virtual CA (created if missing).
    pub fn trust_anchors(&self) -> Result<TrustAnchors, StartError> {
        let mut pem = Vec::new();
        if !self.trust_anchor_file.is_empty() {
            pem = std::fs::read(&self.trust_anchor_file)
                .map_err(|e| format!("registry.trust_anchor_file {}: {e}", self.trust_anchor_file))?;
            pem.push(b'\n');
        }
        if !self.virtual_cards_dir.is_empty() {
            let ca = cards::VirtualCa::load_or_create(Path::new(&self.virtual_cards_dir))?;
            pem.extend_from_slice(ca.certificate_pem().as_bytes());
        }
        if pem.is_empty() {
            return Ok(TrustAnchors::none());
        }
        Ok(TrustAnchors::from_pem(&pem)?)
    }
}

/// `registry.audit_sources` URL as an endpoint: `http://host:port` (h2c inside the cluster, like
/// the gateway's upstreams), nothing after the port.
fn source_endpoint(url: &str) -> Result<Endpoint, String> {
    let uri: tonic::transport::Uri = url.parse().map_err(|_| "is not a URL".to_owned())?;
    if uri.scheme_str() != Some("http") || uri.host().is_none_or(str::is_empty) {
        return Err("must be an http://host:port URL".to_owned());
    }
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty()) {
        return Err("must be http://host:port, without a path".to_owned());
    }
    Endpoint::from_shared(url.to_owned()).map_err(|_| "is not a URL".to_owned())
}

impl Config {
    /// The configured trails over the network, each call signed with `keys` (the internal
    /// secret the services verify); channels connect on first use.
    pub fn audit_sources(&self, keys: &CallerKeys) -> Result<AuditSources, StartError> {
        let timeout = Duration::from_millis(self.audit_timeout_ms);
        let mut sources: Vec<(String, Arc<dyn ReadSource>)> = Vec::new();
        for (name, url) in &self.audit_sources {
            let endpoint = source_endpoint(url).map_err(|e| format!("registry.audit_sources.{name} {url} {e}"))?;
            let channel = endpoint.connect_timeout(timeout).tcp_nodelay(true).connect_lazy();
            sources.push((name.clone(), Arc::new(TrailClient::new(channel, keys.clone(), timeout))));
        }
        Ok(Arc::new(sources))
    }
}

/// Starts the service with the system clock, gathering the access log from the configured
/// services (calls signed with `keys`).
pub async fn start(
    ctx: &ServiceContext,
    config: &Config,
    keys: &CallerKeys,
) -> Result<RegistryServiceServer<Api>, StartError> {
    let sources = config.audit_sources(keys)?;
    start_with(ctx, config, ctx.clock.clone(), sources).await
}

/// Starts the service with `clock` deciding "now" (challenges, dates, the sweep), and no other
/// service's trail in the access log.
pub async fn start_with_clock(
    ctx: &ServiceContext,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<RegistryServiceServer<Api>, StartError> {
    start_with(ctx, config, clock, Arc::new(Vec::new())).await
}

/// Starts the service with `clock` and the access log gathered from `sources` (over the
/// network, or in process in `kaigo dev` and the tests).
pub async fn start_with(
    ctx: &ServiceContext,
    config: &Config,
    clock: Arc<dyn Clock>,
    sources: AuditSources,
) -> Result<RegistryServiceServer<Api>, StartError> {
    let rules = Arc::new(config.rules()?);
    let anchors = Arc::new(config.trust_anchors()?);
    ctx.spawn_outbox_relay();
    let auditor = Auditor::spawn(ctx.db.clone(), &ctx.background, clock.clone(), AuditOptions::default());
    let settings = api::Settings {
        challenge_ttl: chrono::Duration::seconds(i64::try_from(config.challenge_ttl_secs).unwrap_or(120)),
        confirmation_use: chrono::Duration::seconds(i64::try_from(config.confirmation_use_secs).unwrap_or(1800)),
    };
    let db = ctx.db.clone();
    let sweep_clock = clock.clone();
    let months = config.no_service_months;
    let every = Duration::from_millis(config.sweep_interval_ms);
    ctx.background.spawn("registry-sweep", move |stopping| sweep::run(db, sweep_clock, months, every, stopping));
    let consumer = Consumer::new(
        ctx.db.clone(),
        ctx.bus.clone(),
        ConsumerOptions::new(NAME, &[events::TOPIC_SERVICE_EVIDENCE]),
        Arc::new(events::ServiceEvidence { clock: clock.clone() }),
    );
    ctx.background.spawn("registry-service-evidence", move |stopping| consumer.run(stopping.wait()));
    let migrated = Consumer::new(
        ctx.db.clone(),
        ctx.bus.clone(),
        ConsumerOptions::new("registry-migration", &[events::TOPIC_CARE_MANAGEMENT_MIGRATED]),
        Arc::new(events::MigratedOffices { clock: clock.clone() }),
    );
    ctx.background.spawn("registry-migrated-offices", move |stopping| migrated.run(stopping.wait()));
    let api = Api::new(ctx.db.clone(), clock, auditor, rules, anchors, settings, sources);
    Ok(kaigo_platform::limit_messages!(RegistryServiceServer::new(api), ctx))
}

/// Loads the demo data of `kaigo dev` (idempotent): with `virtual_cards_dir`, a virtual card
/// per demo person, linked in the identity-link table.
pub async fn seed_demo(ctx: &ServiceContext, config: &Config) -> Result<(), StartError> {
    seed::seed(&ctx.db, config, ctx.clock.now()).await
}

/// This service's migrations, applied by `kaigo migrate registry`.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(EventTablesMigration),
            Box::new(IdempotencyTableMigration),
            Box::new(AuditTableMigration),
            Box::new(AuditIndexMigration),
            Box::new(store::migration::RegistryTablesMigration),
            Box::new(store::migration::IdentityLinkVersionMigration),
            Box::new(kaigo_platform::audit::migration::AuditPartitionMigration),
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn problems(config: &Config) -> String {
        let mut problems = Problems::default();
        config.validate(&mut problems);
        format!("{problems:?}")
    }

    #[test]
    fn the_defaults_are_valid_and_every_bad_value_names_its_key() {
        assert_eq!(problems(&Config::default()), "Problems([])");
        let bad = Config {
            trust_anchor_file: "/nonexistent/anchor.pem".into(),
            challenge_ttl_secs: 5,
            confirmation_use_secs: 10,
            no_service_months: 0,
            sweep_interval_ms: 1,
            rules_file: "/nonexistent/rules.toml".into(),
            ..Config::default()
        };
        let found = problems(&bad);
        for key in [
            "registry.trust_anchor_file",
            "registry.challenge_ttl_secs",
            "registry.confirmation_use_secs",
            "registry.no_service_months",
            "registry.sweep_interval_ms",
            "registry.rules_file",
        ] {
            assert!(found.contains(key), "{key} in {found}");
        }
    }

    #[test]
    fn a_rule_file_and_an_anchor_file_are_checked_when_configured() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.toml");
        std::fs::write(&rules, "[[rule]]\nrole = \"nobody\"\nrelationship = \"self\"\n").unwrap();
        let anchor = dir.path().join("anchor.pem");
        std::fs::write(&anchor, "not a certificate").unwrap();
        let config = Config {
            rules_file: rules.display().to_string(),
            trust_anchor_file: anchor.display().to_string(),
            ..Config::default()
        };
        let found = problems(&config);
        assert!(found.contains("registry.rules_file") && found.contains("rule[0].role"), "{found}");
        assert!(found.contains("registry.trust_anchor_file"), "{found}");
        std::fs::write(&rules, kaigo_access::DEFAULT_RULES).unwrap();
        let ca = cards::VirtualCa::generate().unwrap();
        std::fs::write(&anchor, ca.certificate_pem()).unwrap();
        assert_eq!(problems(&config), "Problems([])");
        assert_eq!(config.rules().unwrap(), RuleTable::builtin());
        assert!(!config.trust_anchors().unwrap().is_empty());
    }

    #[test]
    fn the_virtual_ca_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { virtual_cards_dir: dir.path().join("cards").display().to_string(), ..Config::default() };
        assert!(!config.trust_anchors().unwrap().is_empty());
        let first = std::fs::read_to_string(dir.path().join("cards/ca.pem")).unwrap();
        config.trust_anchors().unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("cards/ca.pem")).unwrap(), first);
        assert!(Config::default().trust_anchors().unwrap().is_empty());
    }
}
