//! Domain events: the transactional outbox, its relay, and idempotent consumers.
//!
//! A service writes an event into its own `outbox` table in the same transaction as the change
//! ([`enqueue`]), so an event exists exactly when its change committed. The [`Relay`] publishes
//! outbox rows to the [`Bus`] (Redis Streams in production, in-process in `kaigo dev`) and marks
//! them published; a crash between the two publishes a row again, never loses it. A
//! [`Consumer`] reads with a consumer group, records each handled event id in its own
//! `processed_events` table in the same transaction as its effect, and acknowledges after
//! commit: a redelivered or republished event is recognised and skipped, so every event takes
//! effect exactly once.

mod bus;
mod consumer;
mod migration;
mod outbox;
mod relay;
pub mod trim;

pub use bus::{Bus, BusError, LocalBus, RedisBus};
pub use consumer::{Consumer, ConsumerOptions, EventHandler, HandlerError};
pub use migration::EventTablesMigration;
pub use outbox::{Event, NewEvent, enqueue, enqueue_many};
pub use relay::{Relay, RelayOptions};
