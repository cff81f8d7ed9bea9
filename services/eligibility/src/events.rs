//! Events eligibility consumes.
//!
//! - `certification.decided` (certification service): the decided certification becomes a
//!   period of the person, so CheckEligibility answers the new level without paper.
//! - `eligibility.changed` (its own): repeats the cache invalidation of a write once the
//!   outbox relay has published it, so a change made while Redis was down still reaches L2 and
//!   every replica when Redis is back.

use std::sync::Arc;

use futures::future::BoxFuture;
use kaigo_platform::events::{Consumer, ConsumerOptions, Event, EventHandler, HandlerError};
use kaigo_platform::service::ServiceContext;
use kaigo_proto::kaigo::certification::v1::CertificationDecidedEvent;
use prost::Message;
use sea_orm::DatabaseTransaction;

use crate::api::Api;
use crate::key::PersonKey;
use crate::store::write::CHANGED_TOPIC;

/// The topic the certification service publishes decisions on.
pub const DECIDED_TOPIC: &str = "certification.decided";

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
            if let Some(key) = PersonKey::from_bytes(&event.payload) {
                self.api.cache().invalidate(&key).await;
            }
            Ok(())
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
    let invalidate = Consumer::new(
        ctx.db.clone(),
        ctx.bus.clone(),
        ConsumerOptions::new("eligibility-cache", &[CHANGED_TOPIC]),
        Arc::new(Invalidate { api: api.clone() }),
    );
    ctx.background.spawn("eligibility-cache-consumer", move |stopping| invalidate.run(stopping.wait()));
    let decided = Consumer::new(
        ctx.db.clone(),
        ctx.bus.clone(),
        ConsumerOptions::new("eligibility", &[DECIDED_TOPIC]),
        Arc::new(Decided { api: api.clone() }),
    );
    ctx.background.spawn("eligibility-decided-consumer", move |stopping| decided.run(stopping.wait()));
}
