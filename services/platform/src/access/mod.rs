//! The access decision as every service takes it: from its own copy of the registry's facts
//! (docs/domain/access.md#facts-copy).
//!
//! - [`AccessFactsMigration`], then [`AccessIdentityLinksMigration`]: the copy
//!   (`access_registrations`, `access_consents`, `access_identity_links`), keyed by
//!   the registry's ids with the registry's version, indexed by person.
//! - [`FactsHandler`] / [`spawn_consumer`]: applies `registry.registration_changed` and
//!   `registry.consent_changed` into the copy, exactly once (the consumer's dedup) and in any
//!   order (a version is stored only over an older one). A service that caches the facts
//!   wraps it ([`spawn_consumer_with`], [`changed_person`]) to learn whose facts changed.
//! - [`load`] / [`load_many`]: a person's [`Facts`] (or a batch's, in two queries);
//!   [`registered_persons`]: the persons an organisation holds a registration for (the
//!   candidates of its lists, each then decided on its facts).
//! - [`Gate::decide`]: the one call a service makes — may this caller see this category of this
//!   person on this date — answered by `kaigo_access::RuleTable::decide` and mapped to
//!   PERMISSION_DENIED `NOT_REGISTERED`, `CONSENT_REQUIRED` (ErrorInfo metadata `category`) or
//!   `NOT_PERMITTED`. A person who does not exist has no facts, so an organisation gets the
//!   same `NOT_REGISTERED` for them as for a person it is not registered for (permission before
//!   existence). Denials are counted (metric `kaigo.access.denied`, labels organization_kind,
//!   reason, service) and an organisation passing a threshold of denials per minute is logged once.
//!
//! The caller's own word (the token's `consents` claim, the `x-kaigo-consent` header) is not
//! an input: nothing here reads it.

mod handler;
mod migration;
mod store;
pub mod wire;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
/// The decision's own types, re-exported so a service needs no dependency of its own on
/// `kaigo-access`.
pub use kaigo_access::{Category, Consent, Decision, Denial, Grantee, OrganizationKind, Registration, RuleTable};
use kaigo_access::{Relationship, Viewer};
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

pub use handler::{
    FactsHandler, category_of, changed_person, consent_row, identity_link_row, kind_of, registration_row,
    spawn_consumer, spawn_consumer_with,
};
pub use migration::{AccessFactsMigration, AccessIdentityLinksMigration};
pub use store::{
    ConsentRow, IdentityLinkRow, RegistrationRow, apply_consent, apply_identity_link, apply_registration,
    consent_version, identity_link_version, linked_persons, load, load_many, registered_persons, registration_version,
};

use crate::auth::{Caller, Role};
use crate::config::{Problems, Validate};
use crate::errors::ApiError;

/// The registry's topic of registration changes (payload `kaigo.registry.v1.RegistrationChanged`).
pub const TOPIC_REGISTRATION_CHANGED: &str = "registry.registration_changed";
/// The registry's topic of consent changes (payload `kaigo.registry.v1.ConsentChanged`).
pub const TOPIC_CONSENT_CHANGED: &str = "registry.consent_changed";
/// The registry's topic of identity-link changes (payload `kaigo.registry.v1.IdentityLinkChanged`).
pub const TOPIC_IDENTITY_LINK_CHANGED: &str = "registry.identity_link_changed";

/// A person, by 保険者番号 and 被保険者番号 (owned: a map key, a hook's argument).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Person {
    /// 保険者番号.
    pub insurer: String,
    /// 被保険者番号.
    pub insured: String,
}

/// A person, borrowed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PersonRef<'a> {
    /// 保険者番号.
    pub insurer: &'a str,
    /// 被保険者番号.
    pub insured: &'a str,
}

// The 被保険者番号 is personal data: a person's Debug names the insurer only, as
// `InsuredNumber`'s does (CONTRIBUTING.md, personal data).
impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Person({}, <redacted>)", self.insurer)
    }
}

impl fmt::Debug for PersonRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonRef({}, <redacted>)", self.insurer)
    }
}

impl<'a> PersonRef<'a> {
    /// The person `insurer` + `insured`.
    pub fn new(insurer: &'a str, insured: &'a str) -> Self {
        Self { insurer, insured }
    }
}

impl From<PersonRef<'_>> for Person {
    fn from(p: PersonRef<'_>) -> Self {
        Person { insurer: p.insurer.to_owned(), insured: p.insured.to_owned() }
    }
}

impl Person {
    /// Borrowed.
    pub fn as_ref(&self) -> PersonRef<'_> {
        PersonRef { insurer: &self.insurer, insured: &self.insured }
    }
}

/// What the decision needs to know about one person: their registrations and consents, every
/// version's newest state (ended and withdrawn ones too: the date decides).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Registrations of organisations as the person's 担当.
    pub registrations: Vec<Registration>,
    /// The person's consents.
    pub consents: Vec<Consent>,
    /// The person's identity links that are not revoked (link ids, sorted): an
    /// `insured_person` caller whose token subject is one of them is the person
    /// (docs/domain/access.md#own-view).
    pub links: Vec<String>,
    /// How far the copy had come for the person when these facts were read: the sum of the
    /// versions of every one of the person's rows (revoked links too), read with the facts in
    /// one statement. Every change the copy applies raises a row's version or adds a row, so
    /// the stamp of a later read is higher whenever the facts changed in between: a cache
    /// compares stamps to refuse facts older than a change it was told of
    /// (docs/domain/access.md#facts-copy). 0 for facts made by hand.
    pub stamp: i64,
}

impl Facts {
    /// An estimate of the heap the facts hold (for caches bounded in bytes).
    pub fn weight(&self) -> usize {
        self.registrations.len() * 64 + self.consents.len() * 96 + self.links.len() * 48
    }
}

/// Settings of the denied-lookup alert, embedded in a service's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AccessOptions {
    /// Denied lookups per minute by one organisation above which one warning is logged (the
    /// metric `kaigo.access.denied` counts every denial either way).
    pub denied_alert_per_minute: u32,
}

impl Default for AccessOptions {
    fn default() -> Self {
        Self { denied_alert_per_minute: 60 }
    }
}

impl AccessOptions {
    /// Checks the settings, naming keys under `section` (e.g. `eligibility.access`).
    pub fn validate_in(&self, section: &str, problems: &mut Problems) {
        if !(1..=1_000_000).contains(&self.denied_alert_per_minute) {
            problems.add(&format!("{section}.denied_alert_per_minute"), "must be between 1 and 1000000");
        }
    }
}

impl Validate for AccessOptions {
    fn validate(&self, problems: &mut Problems) {
        self.validate_in("access", problems);
    }
}

/// How many organisations the denial window follows at most (memory bound).
const WINDOW_ORGANIZATIONS: usize = 10_000;

/// Denials of one organisation in the current and the previous minute.
#[derive(Debug, Clone, Copy)]
struct Window {
    minute_start: Instant,
    current: u32,
    previous: u32,
    warned: bool,
}

impl Window {
    fn new(now: Instant) -> Self {
        Self { minute_start: now, current: 0, previous: 0, warned: false }
    }

    /// Counts one denial at `now` and returns the sliding estimate of the last minute's
    /// denials (the previous minute weighted by how much of it is still inside the window).
    fn note(&mut self, now: Instant) -> u32 {
        const MINUTE: Duration = Duration::from_secs(60);
        let mut elapsed = now.saturating_duration_since(self.minute_start);
        if elapsed >= MINUTE * 2 {
            self.previous = 0;
            self.current = 0;
            self.minute_start = now;
            elapsed = Duration::ZERO;
        } else if elapsed >= MINUTE {
            self.previous = self.current;
            self.current = 0;
            self.minute_start += MINUTE;
            elapsed -= MINUTE;
        }
        self.current = self.current.saturating_add(1);
        let left = 1.0 - elapsed.as_secs_f64() / MINUTE.as_secs_f64();
        self.current.saturating_add((f64::from(self.previous) * left) as u32)
    }
}

struct GateInner {
    service: &'static str,
    rules: RuleTable,
    denied: Counter<u64>,
    alert_per_minute: u32,
    windows: Mutex<HashMap<String, Window>>,
}

/// The access decision of one service (cheap to clone).
#[derive(Clone)]
pub struct Gate {
    inner: Arc<GateInner>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").field("service", &self.inner.service).finish_non_exhaustive()
    }
}

impl Gate {
    /// The decision of `service` (its name labels the metric) with `rules`.
    pub fn new(service: &'static str, rules: RuleTable, options: &AccessOptions) -> Self {
        let denied = opentelemetry::global::meter("kaigo-access")
            .u64_counter("kaigo.access.denied")
            .with_description(
                "lookups of a person's record refused by the access rules, by caller role, reason and service",
            )
            .build();
        Self {
            inner: Arc::new(GateInner {
                service,
                rules,
                denied,
                alert_per_minute: options.denied_alert_per_minute,
                windows: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The decision of `service` with the built-in rule table.
    pub fn builtin(service: &'static str, options: &AccessOptions) -> Self {
        Self::new(service, RuleTable::builtin(), options)
    }

    /// The rule table.
    pub fn rules(&self) -> &RuleTable {
        &self.inner.rules
    }

    /// The decision without consequences (no metric, no log): for a section of an answer the
    /// caller may or may not see, once the answer itself is allowed.
    pub fn allows(
        &self,
        caller: &Caller,
        person: PersonRef<'_>,
        category: Category,
        date: NaiveDate,
        facts: &Facts,
    ) -> Decision {
        let viewer = Viewer { role: caller.role, organization: caller.organization().map(str::to_owned) };
        let relationships = match caller.role {
            // A person is bound to their own record by an identity link the registry published
            // for this person and has not revoked, which must be the caller's token subject
            // (as the registry's own view binds it); never by the caller's word.
            Role::InsuredPerson if facts.links.contains(&caller.subject) => vec![Relationship::OwnRecord],
            // Another person's record (or one nobody knows): refused as an organisation that
            // is not registered is, so the refusal says nothing about the person's existence.
            Role::InsuredPerson => return Decision::Denied(Denial::NotRegistered),
            _ => kaigo_access::relationship(&viewer, person.insurer, &facts.registrations, date),
        };
        self.inner.rules.decide(&viewer, &relationships, &facts.consents, category, date)
    }

    /// May `caller` see `category` of `person` on `date`, given the person's `facts`? A refusal
    /// is PERMISSION_DENIED with the rule's reason, counted and watched per organisation.
    pub fn decide(
        &self,
        caller: &Caller,
        person: PersonRef<'_>,
        category: Category,
        date: NaiveDate,
        facts: &Facts,
    ) -> Result<(), ApiError> {
        match self.allows(caller, person, category, date, facts) {
            Decision::Allowed => Ok(()),
            Decision::Denied(denial) => {
                self.record_denial(caller, denial);
                Err(denial_error(denial, category))
            }
        }
    }

    /// Counts a refusal the service decided itself on the same grounds (e.g. a batch entry
    /// refused before its facts were looked at).
    pub fn record_denial(&self, caller: &Caller, denial: Denial) {
        self.record_denial_at(caller, denial, Instant::now());
    }

    fn record_denial_at(&self, caller: &Caller, denial: Denial, now: Instant) -> bool {
        let inner = &self.inner;
        inner.denied.add(
            1,
            &[
                // The kind of organisation calling, as its role names it (care_office, insurer …):
                // a handful of values, never the organisation's number.
                KeyValue::new("organization_kind", caller.role.as_str()),
                KeyValue::new("reason", denial.reason()),
                KeyValue::new("service", inner.service),
            ],
        );
        let party = caller.party();
        let estimate = {
            let mut windows = inner.windows.lock();
            if !windows.contains_key(&party) && windows.len() >= WINDOW_ORGANIZATIONS {
                windows.retain(|_, w| now.saturating_duration_since(w.minute_start) < Duration::from_secs(120));
                if windows.len() >= WINDOW_ORGANIZATIONS {
                    return false;
                }
            }
            let window = windows.entry(party.clone()).or_insert_with(|| Window::new(now));
            let estimate = window.note(now);
            if estimate > inner.alert_per_minute {
                if window.warned {
                    return false;
                }
                window.warned = true;
                estimate
            } else {
                window.warned = false;
                return false;
            }
        };
        // The organisation's number is not personal data; the person is never named here.
        tracing::warn!(
            organization = %party,
            role = caller.role.as_str(),
            service = inner.service,
            denials_last_minute = estimate,
            threshold = inner.alert_per_minute,
            "an organisation passed the threshold of denied lookups per minute"
        );
        true
    }
}

/// The PERMISSION_DENIED of a refusal. The same text whether or not the person exists.
pub fn denial_error(denial: Denial, category: Category) -> ApiError {
    let err = match denial {
        Denial::NotRegistered => ApiError::permission_denied(
            "NOT_REGISTERED",
            "the calling organisation is not registered as this person's 担当 on this date",
        ),
        Denial::ConsentRequired(category) => ApiError::permission_denied(
            "CONSENT_REQUIRED",
            format!("no consent of the person covers {category} for the calling organisation on this date"),
        ),
        Denial::NotPermitted => ApiError::permission_denied(
            "NOT_PERMITTED",
            format!("the access rules never show {category} to this caller"),
        ),
    };
    let category = match denial {
        Denial::ConsentRequired(named) => named,
        _ => category,
    };
    err.with_metadata("category", category.as_str())
}

#[cfg(test)]
mod tests;
