//! Integration tests of the certification service against real PostgreSQL and Redis, through
//! real tonic servers on 127.0.0.1:0 behind CallerLayer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should stop the test loudly

mod access;
mod cluster;
mod driver;
mod eligibility;
mod events;
mod fake_eligibility;
mod flow;
mod idempotency;
mod maxima;
mod rules;
mod seed;
mod support;
mod upgrade;
mod watch;
