//! Events eligibility consumes.
//!
//! - `eligibility.changed` (its own): repeats the cache invalidation of a write once the
//!   outbox relay has published it, so a change made while Redis was down still reaches L2 and
//!   every replica when Redis is back.

use std::sync::Arc;

use futures::future::BoxFuture;
use kaigo_platform::events::{Consumer, ConsumerOptions, Event, EventHandler, HandlerError};
use kaigo_platform::service::ServiceContext;
use sea_orm::DatabaseTransaction;

use crate::cache::Cache;
use crate::key::PersonKey;
use crate::store::write::CHANGED_TOPIC;

struct Invalidate {
    cache: Cache,
}

impl EventHandler for Invalidate {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _txn: &'a DatabaseTransaction,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if let Some(key) = PersonKey::from_bytes(&event.payload) {
                self.cache.invalidate(&key).await;
            }
            Ok(())
        })
    }
}

/// Starts the consumers as background tasks.
pub fn spawn_consumers(ctx: &ServiceContext, cache: &Cache) {
    let consumer = Consumer::new(
        ctx.db.clone(),
        ctx.bus.clone(),
        ConsumerOptions::new("eligibility-cache", &[CHANGED_TOPIC]),
        Arc::new(Invalidate { cache: cache.clone() }),
    );
    ctx.background.spawn("eligibility-cache-consumer", move |stopping| consumer.run(stopping.wait()));
}
