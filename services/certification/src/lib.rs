//! kaigo-certification: the 要介護認定 workflow from application to decision, with progress care
//! managers can follow.
//!
//! Shape (docs/architecture.md#service-crate): `api` decodes and validates requests and maps results, `domain`
//! holds the rules as plain functions, `store` is the only place with SQL.
//!
//! - **Workflow**: received → (survey scheduled → survey completed) ∥ (opinion requested →
//!   opinion received) → primary judgment → review board scheduled → decided → notified;
//!   withdrawn / cancelled before the decision ([`domain::workflow`]).
//! - **Progress across replicas**: steps are read from the database; a Redis pub/sub signal
//!   wakes watchers on every replica ([`signals`]).
//! - **Events**: `certification.decided` (outbox), `opinion.received` consumed ([`events`]).
//! - **Unknown persons**: identifiers are validated, then a pluggable [`people::PersonDirectory`]
//!   answers: `CheckEligibility` on the eligibility service (`certification.eligibility_url`),
//!   or, with no URL, a directory that accepts every well-formed person ([`people`]).
//! - **The person as a reader**: recognised by the account that filed the application
//!   ([`domain::access`]).

pub mod api;
pub mod deadlines;
pub mod domain;
pub mod events;
pub mod people;
pub mod signals;
pub mod store;

mod seed;

use std::sync::Arc;
use std::time::Duration;

use kaigo_platform::access::{AccessFactsMigration, AccessOptions, Gate};
use kaigo_platform::audit::migration::{AuditIndexMigration, AuditTableMigration};
use kaigo_platform::audit::{AuditOptions, Auditor};
use kaigo_platform::auth::CallerKeys;
use kaigo_platform::config::{Problems, Validate};
use kaigo_platform::events::{Consumer, ConsumerOptions, EventTablesMigration};
use kaigo_platform::idempotency::migration::IdempotencyTableMigration;
use kaigo_platform::service::{ServiceContext, StartError};
use kaigo_platform::time::{Clock, system_clock};
use kaigo_proto::kaigo::certification::v1::certification_service_server::CertificationServiceServer;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde::{Deserialize, Serialize};

pub use api::Api;

/// The tonic server `start` returns.
pub type CertificationServer = CertificationServiceServer<Api>;
pub use seed::{DEMO_INSURED_NUMBER, DEMO_INSURER_NUMBER};

/// The service's name: its database schema and its event consumer group.
pub const NAME: &str = "certification";

/// `[certification]` configuration (`KAIGO_CERTIFICATION__*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Days after the application date from which an open application counts as at risk of
    /// missing the 30-day deadline (1–30).
    pub at_risk_day: u32,
    /// A municipal maximum validity in months, stricter than the national ranges (0 = none;
    /// otherwise 3–48).
    pub validity_cap_months: u32,
    /// Whether a validity period starting mid-month also gets the rest of that month
    /// (docs/domain/certification.md#validity: UNCONFIRMED, hence a parameter).
    pub validity_adds_rest_of_start_month: bool,
    /// A 区分変更 decided 非該当 leaves the certification in force to its end instead of taking
    /// effect on the application date (docs/domain/certification.md#no-validity: UNCONFIRMED,
    /// hence a parameter; off by default).
    pub level_change_not_applicable_keeps_current: bool,
    /// A renewal (更新) decided inside the validity it renews is on time: not OVERDUE while that
    /// certification runs, MET when decided before it ends, counted so in the statistics
    /// (docs/domain/certification.md#renewal-deadline). The national guidance asks for the
    /// applicant's prior agreement, which kaigo does not record: on by default (agreement
    /// presumed); off, renewals keep the 30 days like every other application.
    pub renewal_on_time_within_validity: bool,
    /// Days after moving in (転入日) within which a 転入 with a 受給資格証明書 carries the
    /// previous municipality's certification over (docs/domain/certification.md#transfer;
    /// municipal guidance gives 14 days, hence the default; 1–90).
    pub transfer_window_days: u32,
    /// How often a watcher re-reads when no step signal arrives, in milliseconds (100–60000).
    pub watch_poll_ms: u64,
    /// The eligibility service applicants are checked against: `http://host:port`, e.g. its
    /// headless Service `http://kaigo-eligibility-headless:50051` (balanced over its pods).
    /// Empty: the check is off and every well-formed person is accepted (logged at start).
    pub eligibility_url: String,
    /// The longest wait for eligibility's answer, in milliseconds (100–30000); beyond it the
    /// submission is UNAVAILABLE and nothing is stored.
    pub eligibility_timeout_ms: u64,
    /// Refuse a person the insurer knows but who is not insured on the application date
    /// (資格喪失 on or before it, or 資格取得 after it) with `INSURED_PERSON_NOT_QUALIFIED`.
    /// docs/domain/certification.md#process: the sources are silent on such applications, hence a
    /// parameter; off by default.
    pub eligibility_refuse_unqualified: bool,
    /// The denied-lookup alert (docs/domain/access.md#facts-copy):
    /// `certification.access.denied_alert_per_minute`.
    pub access: AccessOptions,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            at_risk_day: 21,
            validity_cap_months: 0,
            validity_adds_rest_of_start_month: true,
            level_change_not_applicable_keeps_current: false,
            renewal_on_time_within_validity: true,
            transfer_window_days: 14,
            watch_poll_ms: 2000,
            eligibility_url: String::new(),
            eligibility_timeout_ms: 2000,
            eligibility_refuse_unqualified: false,
            access: AccessOptions::default(),
        }
    }
}

impl Validate for Config {
    fn validate(&self, problems: &mut Problems) {
        if !(1..=30).contains(&self.at_risk_day) {
            problems.add("certification.at_risk_day", "must be 1 to 30 (days after the application date)");
        }
        if self.validity_cap_months != 0 && !(3..=48).contains(&self.validity_cap_months) {
            problems.add("certification.validity_cap_months", "must be 0 (none) or 3 to 48");
        }
        if !(1..=90).contains(&self.transfer_window_days) {
            problems.add("certification.transfer_window_days", "must be 1 to 90 (days after moving in)");
        }
        if !(100..=60_000).contains(&self.watch_poll_ms) {
            problems.add("certification.watch_poll_ms", "must be 100 to 60000");
        }
        if !self.eligibility_url.is_empty()
            && let Err(problem) = people::parse_url(&self.eligibility_url)
        {
            problems.add("certification.eligibility_url", problem);
        }
        if !(100..=30_000).contains(&self.eligibility_timeout_ms) {
            problems.add("certification.eligibility_timeout_ms", "must be 100 to 30000");
        }
        self.access.validate_in("certification.access", problems);
    }
}

impl Config {
    /// The rule parameters.
    pub fn settings(&self) -> api::Settings {
        api::Settings {
            at_risk_day: self.at_risk_day,
            renewal_on_time_within_validity: self.renewal_on_time_within_validity,
            transfer_window_days: self.transfer_window_days,
            validity: domain::validity::ValidityPolicy {
                municipal_cap_months: (self.validity_cap_months != 0).then_some(self.validity_cap_months),
                add_rest_of_start_month: self.validity_adds_rest_of_start_month,
                level_change_not_applicable_keeps_current: self.level_change_not_applicable_keeps_current,
            },
            watch_poll: Duration::from_millis(self.watch_poll_ms),
        }
    }

    /// How the eligibility-backed person directory behaves.
    pub fn eligibility_policy(&self) -> people::EligibilityPolicy {
        people::EligibilityPolicy {
            timeout: Duration::from_millis(self.eligibility_timeout_ms),
            refuse_unqualified: self.eligibility_refuse_unqualified,
        }
    }
}

/// What `start` plugs in; tests replace the clock and the person directory.
#[derive(Clone)]
pub struct Dependencies {
    /// Now: the workflow's dates, deadlines and the read audit's timestamps.
    pub clock: Arc<dyn Clock>,
    /// Unknown-person check.
    pub people: Arc<dyn people::PersonDirectory>,
}

impl Default for Dependencies {
    fn default() -> Self {
        Self { clock: system_clock(), people: Arc::new(people::AcceptingDirectory) }
    }
}

/// Starts the service as `kaigo serve` runs it: its background tasks (the outbox relay, the
/// opinion.received consumer, the step-signal subscription, the read-audit writer) and its
/// tonic server, with the
/// configured message limits. Applicants are checked against eligibility at
/// `certification.eligibility_url` (calls signed with `keys`, the internal secret); with no
/// URL every well-formed person is accepted, which is logged once here.
pub async fn start(
    ctx: &ServiceContext,
    config: &Config,
    keys: &CallerKeys,
) -> Result<CertificationServiceServer<Api>, StartError> {
    let people: Arc<dyn people::PersonDirectory> = if config.eligibility_url.is_empty() {
        tracing::warn!(
            "certification: certification.eligibility_url is empty, so applicants are not checked against \
             eligibility: every well-formed 被保険者番号 is accepted"
        );
        Arc::new(people::AcceptingDirectory)
    } else {
        let policy = config.eligibility_policy();
        let (channel, discovery) = people::balanced_channel(&config.eligibility_url, policy.timeout)?;
        ctx.background.spawn("certification-eligibility-discovery", move |stopping| discovery.run(stopping));
        tracing::info!(url = %config.eligibility_url, "certification: applicants are checked against eligibility");
        Arc::new(people::EligibilityDirectory::new(channel, keys.clone(), policy))
    };
    start_with(ctx, config, Dependencies { clock: ctx.clock.clone(), people }).await
}

/// [`start`] with explicit dependencies.
pub async fn start_with(
    ctx: &ServiceContext,
    config: &Config,
    deps: Dependencies,
) -> Result<CertificationServiceServer<Api>, StartError> {
    let relay = ctx.spawn_outbox_relay();
    let signals = signals::StepSignals::new(ctx.redis.clone());
    let forwarding = signals.clone();
    ctx.background.spawn("certification-step-signals", move |stopping| forwarding.run(stopping));
    let handler =
        events::OpinionReceivedHandler { db: ctx.db.clone(), clock: deps.clock.clone(), signals: signals.clone() };
    let consumer = Consumer::new(
        ctx.db.clone(),
        ctx.bus.clone(),
        ConsumerOptions::new(NAME, &[events::OPINION_RECEIVED_TOPIC]),
        Arc::new(handler),
    );
    ctx.background.spawn("certification-opinion-consumer", move |stopping| consumer.run(stopping.wait()));
    // The copy of the registry's facts organisations' reads are decided on (group
    // `certification-access`); nothing is cached from it.
    kaigo_platform::access::spawn_consumer(ctx);
    let auditor = Auditor::spawn(ctx.db.clone(), &ctx.background, deps.clock.clone(), AuditOptions::default());
    // Open applications by deadline standing, for operators (kaigo.certification.applications.open).
    let (db, clock, at_risk_day) = (ctx.db.clone(), deps.clock.clone(), config.settings().at_risk_day);
    ctx.background
        .spawn("certification-deadline-figures", move |stopping| deadlines::run(db, clock, at_risk_day, stopping));
    let api = Api::new(api::Inner {
        db: ctx.db.clone(),
        reads: ctx.reads.clone(),
        auditor,
        clock: deps.clock,
        people: deps.people,
        signals,
        settings: config.settings(),
        relay_waker: Some(relay.waker()),
        gate: Gate::builtin(NAME, &config.access),
    });
    Ok(kaigo_platform::limit_messages!(CertificationServiceServer::new(api), ctx))
}

/// Loads the demo data of `kaigo dev` (idempotent: a second run changes nothing).
pub async fn seed_demo(ctx: &ServiceContext, config: &Config) -> Result<(), StartError> {
    seed::seed(ctx, config).await
}

/// This service's migrations, applied by `kaigo migrate certification`. Released ones keep
/// their place and behaviour; new ones are appended.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(EventTablesMigration),
            Box::new(store::migration::CertificationTables),
            Box::new(IdempotencyTableMigration),
            Box::new(store::legacy::copy_idempotency_keys()),
            Box::new(AuditTableMigration),
            Box::new(AuditIndexMigration),
            Box::new(store::legacy::copy_read_audit()),
            Box::new(store::migration::OnTimeUntil),
            Box::new(AccessFactsMigration),
            Box::new(kaigo_platform::access::AccessIdentityLinksMigration),
            Box::new(kaigo_platform::audit::migration::AuditPartitionMigration),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_ranges_are_checked_with_their_keys() {
        let mut problems = Problems::default();
        Config::default().validate(&mut problems);
        assert!(format!("{problems:?}").find("certification.").is_none());
        let bad = Config {
            at_risk_day: 0,
            validity_cap_months: 2,
            watch_poll_ms: 10,
            eligibility_url: "https://kaigo-eligibility-headless:50051".into(),
            eligibility_timeout_ms: 50,
            transfer_window_days: 0,
            ..Config::default()
        };
        let mut problems = Problems::default();
        bad.validate(&mut problems);
        let text = format!("{problems:?}");
        for key in [
            "certification.at_risk_day",
            "certification.validity_cap_months",
            "certification.watch_poll_ms",
            "certification.eligibility_url",
            "certification.eligibility_timeout_ms",
            "certification.transfer_window_days",
        ] {
            assert!(text.contains(key), "{key} in {text}");
        }
        let capped = Config { validity_cap_months: 36, ..Config::default() }.settings();
        assert_eq!(capped.validity.municipal_cap_months, Some(36));
        assert_eq!(Config::default().settings().validity.municipal_cap_months, None);
        let wired = Config { eligibility_url: "http://kaigo-eligibility-headless:50051".into(), ..Config::default() };
        let mut problems = Problems::default();
        wired.validate(&mut problems);
        assert!(!format!("{problems:?}").contains("certification."), "{problems:?}");
        assert_eq!(wired.eligibility_policy().timeout, Duration::from_secs(2));
        assert!(!wired.eligibility_policy().refuse_unqualified);
    }
}
