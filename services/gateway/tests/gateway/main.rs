//! The gateway on loopback with real upstream tonic servers: authentication, caller context,
//! traffic control, mutual TLS. One binary (one link) for all of them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should stop the test loudly

mod bad_input;
mod early_answers;
mod forged;
mod mtls;
mod slow_readers;
mod support;
mod tokens;
mod traffic;
mod web;
