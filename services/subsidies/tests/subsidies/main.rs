//! Integration tests of kaigo-subsidies: the real tonic server on 127.0.0.1:0 behind
//! CallerLayer, real PostgreSQL (a fresh database per test), signed callers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should stop the test loudly

mod calculate;
mod corrections;
mod harness;
mod idempotency;
mod maxima;
mod migration;
mod refusals;
mod seed;
mod workflow;
