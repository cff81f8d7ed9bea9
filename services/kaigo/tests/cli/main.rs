//! Black-box tests of the `kaigo` binary: `kaigo dev`, `kaigo serve`, configuration errors.
//! One binary (one link) for all of them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should stop the test loudly

mod access_log;
mod audit_kill;
mod bad_input;
mod careplan_flow;
mod dev;
mod flows;
mod fresh_starts;
mod loadtest_configs;
mod prometheus;
mod registry;
mod serve;
mod support;
mod traces;
