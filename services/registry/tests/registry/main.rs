//! The registry against real PostgreSQL and Redis: one test binary (CONTRIBUTING.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should stop the test loudly

mod cards;
mod dev;
mod harness;
mod idempotency;
mod migrated;
mod notifications;
mod person;
mod relationships;
mod seed;
