//! Integration tests of the eligibility service: a real tonic server on loopback, real
//! PostgreSQL and Redis. One binary (one link) for all of them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should stop the test loudly

mod access;
mod allowances;
mod batch_l2;
mod cache;
mod changed_events;
mod checks;
mod cluster;
mod database_down;
mod decisions;
mod idempotency;
mod import;
mod import_beside_checks;
mod maxima;
mod misses;
mod qualification;
mod rules;
mod sealed_details;
mod support;
mod writes;
