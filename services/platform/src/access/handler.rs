//! Applying the registry's `registry.registration_changed` and `registry.consent_changed`
//! events into the service's copy, once each and in any order (the version decides), and
//! telling the service which person's facts changed (docs/domain/access.md#facts-copy).

use std::sync::Arc;

use futures::future::BoxFuture;
use kaigo_access::{Category, Grantee, OrganizationKind};
use kaigo_proto::kaigo::registry::v1 as pb;
use prost::Message;
use sea_orm::DatabaseTransaction;

use super::store::{
    ConsentRow, IdentityLinkRow, RegistrationRow, apply_consent, apply_identity_link, apply_registration,
};
use super::{Person, TOPIC_CONSENT_CHANGED, TOPIC_IDENTITY_LINK_CHANGED, TOPIC_REGISTRATION_CHANGED};
use crate::events::{Consumer, ConsumerOptions, Event, EventHandler, HandlerError};
use crate::ids::{CareOfficeNumber, InsuredNumber, InsurerNumber, MedicalInstitutionCode};
use crate::service::ServiceContext;

/// The [`EventHandler`] of the copy. A service that must do more with each change wraps it
/// ([`spawn_consumer_with`], [`changed_person`]): eligibility records the change in its outbox
/// in the same transaction, so its cache hears of it even if Redis is down at that moment.
#[derive(Clone, Copy, Default)]
pub struct FactsHandler;

impl FactsHandler {
    /// The handler that keeps the copy.
    pub fn new() -> Self {
        Self
    }
}

/// The kind of the contract's organisation kind.
pub fn kind_of(kind: i32) -> Option<OrganizationKind> {
    match pb::OrganizationKind::try_from(kind).ok()? {
        pb::OrganizationKind::CareOffice => Some(OrganizationKind::CareOffice),
        pb::OrganizationKind::ServiceProvider => Some(OrganizationKind::ServiceProvider),
        pb::OrganizationKind::MedicalInstitution => Some(OrganizationKind::MedicalInstitution),
        pb::OrganizationKind::Unspecified => None,
    }
}

/// The category of the contract's category.
pub fn category_of(category: i32) -> Option<Category> {
    match pb::Category::try_from(category).ok()? {
        pb::Category::InsuranceCertificates => Some(Category::InsuranceCertificates),
        pb::Category::CostShare => Some(Category::CostShare),
        pb::Category::Certification => Some(Category::Certification),
        pb::Category::CarePlan => Some(Category::CarePlan),
        pb::Category::Unspecified => None,
    }
}

/// The person of a contract's reference, checked.
fn person_of(person: Option<&pb::PersonRef>) -> Option<Person> {
    let person = person?;
    Some(Person {
        insurer: InsurerNumber::parse(&person.insurer_number).ok()?.as_str().to_owned(),
        insured: InsuredNumber::parse(&person.insured_number).ok()?.as_str().to_owned(),
    })
}

fn organization_number(kind: OrganizationKind, number: &str) -> Option<String> {
    Some(match kind {
        OrganizationKind::CareOffice | OrganizationKind::ServiceProvider => {
            CareOfficeNumber::parse(number).ok()?.as_str().to_owned()
        }
        OrganizationKind::MedicalInstitution => MedicalInstitutionCode::parse(number).ok()?.as_str().to_owned(),
    })
}

/// The JST day of an optional instant (seconds, nanos); `None` when it is not a valid one.
fn jst_day(timestamp: Option<(i64, i32)>) -> Option<Option<chrono::NaiveDate>> {
    match timestamp {
        None => Some(None),
        Some((seconds, nanos)) => {
            let at = chrono::DateTime::from_timestamp(seconds, u32::try_from(nanos).ok()?)?;
            Some(Some(crate::time::jst_date(at)))
        }
    }
}

/// The copy's row of a registration version; `None` when its facts do not hold.
pub fn registration_row(r: &pb::Registration) -> Option<RegistrationRow> {
    let org = r.organization.as_ref()?;
    let kind = kind_of(org.kind)?;
    if r.registration_id.is_empty() || r.registration_id.len() > 36 || r.version < 1 {
        return None;
    }
    Some(RegistrationRow {
        id: r.registration_id.clone(),
        version: r.version,
        person: person_of(r.person.as_ref())?,
        kind,
        organization: organization_number(kind, &org.number)?,
        start: kaigo_proto::to_naive_date(r.start_date.as_ref()?).ok()?,
        end: jst_day(r.end_time.as_ref().map(|t| (t.seconds, t.nanos)))?,
    })
}

/// The copy's row of a consent version; `None` when its facts do not hold.
pub fn consent_row(c: &pb::Consent) -> Option<ConsentRow> {
    if c.consent_id.is_empty() || c.consent_id.len() > 36 || c.version < 1 {
        return None;
    }
    let grantee = match c.grantee.as_ref()?.grantee.as_ref()? {
        pb::grantee::Grantee::Organization(org) => {
            Grantee::Organization(organization_number(kind_of(org.kind)?, &org.number)?)
        }
        pb::grantee::Grantee::OrganizationKind(kind) => Grantee::Kind(kind_of(*kind)?),
    };
    Some(ConsentRow {
        id: c.consent_id.clone(),
        version: c.version,
        person: person_of(c.person.as_ref())?,
        grantee,
        // An unknown category (a newer registry) grants nothing here.
        categories: c.categories.iter().filter_map(|c| category_of(*c)).collect(),
        valid_from: kaigo_proto::to_naive_date(c.valid_from.as_ref()?).ok()?,
        valid_until: match c.valid_until.as_ref() {
            None => None,
            Some(d) => Some(kaigo_proto::to_naive_date(d).ok()?),
        },
        withdrawn_on: jst_day(c.withdraw_time.as_ref().map(|t| (t.seconds, t.nanos)))?,
    })
}

/// The copy's row of an identity-link version; `None` when its facts do not hold.
pub fn identity_link_row(l: &pb::IdentityLinkChanged) -> Option<IdentityLinkRow> {
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if l.link_id.is_empty() || l.link_id.len() > 64 || !l.link_id.chars().all(hex) || l.version < 1 {
        return None;
    }
    Some(IdentityLinkRow {
        id: l.link_id.clone(),
        version: l.version,
        person: person_of(l.person.as_ref())?,
        revoked: l.revoked,
    })
}

/// What one event says, decoded.
enum Change {
    Registration(RegistrationRow),
    Consent(ConsentRow),
    Link(IdentityLinkRow),
    /// Another topic, or facts that do not hold (logged, skipped).
    Nothing,
}

impl Change {
    fn of(event: &Event) -> Result<Self, prost::DecodeError> {
        Ok(match event.topic.as_str() {
            TOPIC_REGISTRATION_CHANGED => {
                let changed = pb::RegistrationChanged::decode(event.payload.as_slice())?;
                match changed.registration.as_ref().and_then(registration_row) {
                    Some(row) => Change::Registration(row),
                    None => Change::Nothing,
                }
            }
            TOPIC_CONSENT_CHANGED => {
                let changed = pb::ConsentChanged::decode(event.payload.as_slice())?;
                match changed.consent.as_ref().and_then(consent_row) {
                    Some(row) => Change::Consent(row),
                    None => Change::Nothing,
                }
            }
            TOPIC_IDENTITY_LINK_CHANGED => {
                let changed = pb::IdentityLinkChanged::decode(event.payload.as_slice())?;
                match identity_link_row(&changed) {
                    Some(row) => Change::Link(row),
                    None => Change::Nothing,
                }
            }
            _ => Change::Nothing,
        })
    }

    fn person(self) -> Option<Person> {
        match self {
            Change::Registration(row) => Some(row.person),
            Change::Consent(row) => Some(row.person),
            Change::Link(row) => Some(row.person),
            Change::Nothing => None,
        }
    }
}

impl EventHandler for FactsHandler {
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            // A payload that does not decode is permanent: the consumer dead-letters it.
            let now = chrono::Utc::now();
            match Change::of(event)? {
                Change::Registration(row) => {
                    apply_registration(txn, &row, now).await?;
                }
                Change::Consent(row) => {
                    apply_consent(txn, &row, now).await?;
                }
                Change::Link(row) => {
                    apply_identity_link(txn, &row, now).await?;
                }
                Change::Nothing => {
                    tracing::warn!(event_id = %event.id, topic = %event.topic, "access fact event with invalid facts skipped");
                }
            }
            Ok(())
        })
    }
}

/// The person whose facts `event` (one of the copy's topics) changes; `None` for another topic,
/// a payload that does not decode, or facts that do not hold (the copy skips those). A service
/// that wraps [`FactsHandler`] learns from this whom to tell inside the change's transaction.
pub fn changed_person(event: &Event) -> Option<Person> {
    Change::of(event).ok().and_then(Change::person)
}

/// Starts the consumer of the copy (consumer group `<service>-access`) as a background task of
/// `ctx`.
pub fn spawn_consumer(ctx: &ServiceContext) {
    spawn_consumer_with(ctx, Arc::new(FactsHandler::new()));
}

/// [`spawn_consumer`] with a handler of the service's own that applies each event through a
/// [`FactsHandler`] and does more in the same transaction (eligibility records the change in
/// its outbox, so its cache hears of it even if Redis is down at that moment).
pub fn spawn_consumer_with(ctx: &ServiceContext, handler: Arc<dyn EventHandler>) {
    let group = format!("{}-access", ctx.name);
    let consumer = Consumer::new(
        ctx.db.clone(),
        ctx.bus.clone(),
        ConsumerOptions::new(&group, &[TOPIC_REGISTRATION_CHANGED, TOPIC_CONSENT_CHANGED, TOPIC_IDENTITY_LINK_CHANGED]),
        handler,
    );
    ctx.background.spawn("access-facts-consumer", move |stopping| consumer.run(stopping.wait()));
}
