//! Events eligibility consumes.
//!
//! - `certification.decided` (certification service): the decided certification becomes a
//!   period of the person, so CheckEligibility answers the new level without paper.
//! - `eligibility.changed` (its own): repeats the cache invalidation of a write once the
//!   outbox relay has published it, so a change made while Redis was down (or while a cluster
//!   primary was failing over) still reaches L2 and every replica when Redis is back; the event
//!   is redelivered until Redis takes the invalidation. The payload names the person's version
//!   after the write ([`crate::store::write::changed_payload`]): an L2 value at that version or
//!   later is kept (an import wrote it after its chunk committed, or a miss reloaded it after
//!   the write), an older one replaced by a tombstone at that version that no older value is
//!   written over
//!   ([`crate::cache::Cache::invalidate_confirmed`]). A payload of the key alone, written by an
//!   older build, deletes as before. (A consumer of an older build skips the new payloads: in
//!   a rolling deploy such an event repeats nothing, leaving the write's own invalidation.)
//! - `registry.registration_changed`, `registry.consent_changed` and
//!   `registry.identity_link_changed` (registry): the service's copy of who may see whom
//!   (docs/domain/access.md#facts-copy). A change drops the person's cache entry (every
//!   replica's L1; in L2 a tombstone at the facts' new stamp, which no value read before the
//!   change is written over), so the next check decides on the new facts. It is also
//!   recorded as an `eligibility.changed` event in the change's transaction, whose handling
//!   repeats the invalidation until Redis takes it.
//! - `registry.care_plan_notification_accepted` (registry): the accepted office becomes the
//!   person's care-management office, once.

use std::sync::Arc;

use futures::future::BoxFuture;
use kaigo_platform::access::FactsHandler;
use kaigo_platform::events::{Consumer, ConsumerOptions, Event, EventHandler, HandlerError, enqueue};
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::service::ServiceContext;
use kaigo_proto::kaigo::certification::v1::CertificationDecidedEvent;
use kaigo_proto::kaigo::registry::v1::CarePlanNotificationAccepted;
use prost::Message;
use sea_orm::DatabaseTransaction;

use crate::api::Api;
use crate::cache::codec::Versions;
use crate::key::PersonKey;
use crate::store::write::{Announced, CHANGED_TOPIC, facts_changed_event, parse_changed_payload};

/// The topic the registry publishes accepted 居宅サービス計画作成依頼届出 on.
pub const NOTIFICATION_ACCEPTED_TOPIC: &str = "registry.care_plan_notification_accepted";

struct NotificationAccepted {
    api: Api,
}

impl EventHandler for NotificationAccepted {
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let accepted = CarePlanNotificationAccepted::decode(event.payload.as_slice())?;
            self.api.apply_notification(txn, &event.id, &accepted).await.map_err(|e| -> HandlerError { Box::new(e) })
        })
    }
}

/// The topic the certification service publishes decisions on.
pub const DECIDED_TOPIC: &str = "certification.decided";

/// Deliveries of an `eligibility.changed` event before its invalidation is given up (moved to
/// the dead-letter stream): Redis outages and failovers shorter than about ten minutes lose none.
const INVALIDATION_DELIVERIES: u64 = 600;

struct Invalidate {
    api: Api,
}

/// Why an invalidation is retried.
fn not_taken() -> HandlerError {
    "redis did not take the cache invalidation; retried".into()
}

impl EventHandler for Invalidate {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _txn: &'a DatabaseTransaction,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            // Redis must take it: a write made while the bucket's node was down (a failover on
            // a cluster) left L2 holding the old entry. Failing here rolls the record back, so
            // the consumer redelivers the event until Redis answers.
            let cache = self.api.cache();
            let taken = match parse_changed_payload(&event.payload) {
                None => true,
                Some((key, Announced::Facts)) => cache.facts_changed(&[key], true).await?,
                Some((key, Announced::Version(version))) => cache.invalidate_confirmed(&key, Some(version)).await,
                Some((key, Announced::Unversioned)) => cache.invalidate_confirmed(&key, None).await,
            };
            if taken { Ok(()) } else { Err(not_taken()) }
        })
    }

    /// The invalidations of a whole read in one Redis round trip (an import that changes
    /// 100,000 persons sends as many events; a registry that registers an office for many
    /// persons, as many changes of the facts); a failure rolls the batch back and the consumer
    /// retries its events one by one.
    fn handle_batch<'a>(
        &'a self,
        events: &'a [&'a Event],
        _txn: &'a DatabaseTransaction,
    ) -> Option<BoxFuture<'a, Result<(), HandlerError>>> {
        Some(Box::pin(async move {
            let mut writes = Vec::with_capacity(events.len());
            let mut facts = Vec::new();
            for (key, announced) in events.iter().filter_map(|event| parse_changed_payload(&event.payload)) {
                match announced {
                    Announced::Facts => facts.push(key),
                    Announced::Version(person) => writes.push((key, Some(Versions { person, facts: 0 }))),
                    Announced::Unversioned => writes.push((key, None)),
                }
            }
            // The two kinds compare different versions (the person's, the facts' stamp) and
            // each tombstone keeps the higher of both, so their order does not matter.
            let cache = self.api.cache();
            let taken = cache.invalidate_confirmed_many(&writes).await;
            let taken = taken & (facts.is_empty() || cache.facts_changed(&facts, true).await?);
            if taken { Ok(()) } else { Err(not_taken()) }
        }))
    }
}

/// The service's copy of who may see whom ([`FactsHandler`]), and in the same transaction an
/// `eligibility.changed` event for the person ([`facts_changed_event`]): the cache consumer
/// ([`Invalidate`]) reads the facts' stamp after the change committed and leaves L2 a
/// tombstone at it, retried until Redis takes it, so a consent withdrawn while Redis was down
/// still reaches L2. Right after the commit the same is tried once, so a withdrawal is
/// effective at once when Redis answers.
struct AccessFacts {
    copy: FactsHandler,
    api: Api,
}

/// The person key of the person whose facts `event` changes.
fn facts_key(event: &Event) -> Option<PersonKey> {
    let person = kaigo_platform::access::changed_person(event)?;
    let (insurer, insured) = (InsurerNumber::parse(&person.insurer).ok()?, InsuredNumber::parse(&person.insured).ok()?);
    Some(PersonKey::new(&insurer, &insured))
}

impl EventHandler for AccessFacts {
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.copy.handle(event, txn).await?;
            if let Some(key) = facts_key(event) {
                enqueue(txn, facts_changed_event(&key)).await?;
            }
            Ok(())
        })
    }

    fn after_commit<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let Some(key) = facts_key(event) else { return };
            if let Err(err) = self.api.cache().facts_changed(&[key], false).await {
                // The event enqueued with the change repeats it.
                tracing::warn!(event_id = %event.id, error = %err, "the access facts' stamp could not be read; the outbox repeats the invalidation");
            }
        })
    }
}

struct Decided {
    api: Api,
}

impl EventHandler for Decided {
    fn handle<'a>(&'a self, event: &'a Event, txn: &'a DatabaseTransaction) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            // A payload that does not decode is permanent: the consumer dead-letters it.
            let decided = CertificationDecidedEvent::decode(event.payload.as_slice())?;
            // The write is idempotent on the event id in its own transaction, so a redelivery
            // after a crash between the two commits is recognised there.
            self.api.apply_decision(txn, &event.id, &decided).await.map_err(|e| -> HandlerError { Box::new(e) })
        })
    }
}

/// Starts the consumers as background tasks.
pub fn spawn_consumers(ctx: &ServiceContext, api: &Api) {
    let facts = AccessFacts { copy: FactsHandler::new(), api: api.clone() };
    kaigo_platform::access::spawn_consumer_with(ctx, Arc::new(facts));
    // Its only failure is Redis not answering (a payload that is no key is skipped), so it
    // retries for about ten minutes (one redelivery a second) before giving an event up.
    let mut cache_options = ConsumerOptions::new("eligibility-cache", &[CHANGED_TOPIC]);
    cache_options.max_deliveries = INVALIDATION_DELIVERIES;
    let invalidate =
        Consumer::new(ctx.db.clone(), ctx.bus.clone(), cache_options, Arc::new(Invalidate { api: api.clone() }));
    ctx.background.spawn("eligibility-cache-consumer", move |stopping| invalidate.run(stopping.wait()));
    let decided = Consumer::new(
        ctx.db.clone(),
        ctx.bus.clone(),
        ConsumerOptions::new("eligibility", &[DECIDED_TOPIC]),
        Arc::new(Decided { api: api.clone() }),
    );
    ctx.background.spawn("eligibility-decided-consumer", move |stopping| decided.run(stopping.wait()));
    let accepted = Consumer::new(
        ctx.db.clone(),
        ctx.bus.clone(),
        ConsumerOptions::new("eligibility-notifications", &[NOTIFICATION_ACCEPTED_TOPIC]),
        Arc::new(NotificationAccepted { api: api.clone() }),
    );
    ctx.background.spawn("eligibility-notification-consumer", move |stopping| accepted.run(stopping.wait()));
}
