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
//! - `registry.registration_changed` and `registry.consent_changed` (registry): the service's
//!   copy of who may see whom (docs/domain/access.md#facts-copy); a change drops the person's
//!   cache entry (L2 and every replica's L1), so the next check decides on the new facts.
//! - `registry.care_plan_notification_accepted` (registry): the accepted office becomes the
//!   person's care-management office, once.

use std::sync::Arc;

use futures::future::BoxFuture;
use kaigo_platform::events::{Consumer, ConsumerOptions, Event, EventHandler, HandlerError};
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::service::ServiceContext;
use kaigo_proto::kaigo::certification::v1::CertificationDecidedEvent;
use kaigo_proto::kaigo::registry::v1::CarePlanNotificationAccepted;
use prost::Message;
use sea_orm::DatabaseTransaction;

use crate::api::Api;
use crate::key::PersonKey;
use crate::store::write::{CHANGED_TOPIC, parse_changed_payload};

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
            if let Some((key, version)) = parse_changed_payload(&event.payload)
                && !self.api.cache().invalidate_confirmed(&key, version).await
            {
                return Err("redis did not take the cache invalidation; retried".into());
            }
            Ok(())
        })
    }

    /// The invalidations of a whole read in one Redis round trip (an import that changes
    /// 100,000 persons sends as many events); a failure rolls the batch back and the consumer
    /// retries its events one by one.
    fn handle_batch<'a>(
        &'a self,
        events: &'a [&'a Event],
        _txn: &'a DatabaseTransaction,
    ) -> Option<BoxFuture<'a, Result<(), HandlerError>>> {
        Some(Box::pin(async move {
            let items: Vec<_> = events.iter().filter_map(|event| parse_changed_payload(&event.payload)).collect();
            if !self.api.cache().invalidate_confirmed_many(&items).await {
                return Err("redis did not take the cache invalidations; retried".into());
            }
            Ok(())
        }))
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

/// Drops the cached entry of a person whose access facts changed.
fn on_facts_changed(api: &Api) -> kaigo_platform::access::OnFactsChanged {
    let api = api.clone();
    Arc::new(move |person: kaigo_platform::access::Person| {
        let api = api.clone();
        Box::pin(async move {
            let (Ok(insurer), Ok(insured)) =
                (InsurerNumber::parse(&person.insurer), InsuredNumber::parse(&person.insured))
            else {
                return;
            };
            api.cache().invalidate(&PersonKey::new(&insurer, &insured)).await;
        })
    })
}

/// Starts the consumers as background tasks.
pub fn spawn_consumers(ctx: &ServiceContext, api: &Api) {
    kaigo_platform::access::spawn_consumer(ctx, Some(on_facts_changed(api)));
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
