//! Integration tests of kaigo-documents: a real tonic server on 127.0.0.1:0 behind
//! `CallerLayer`, real PostgreSQL and Redis (testkit), local and S3-compatible storage.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should stop the test loudly

mod access;
mod attachments;
mod dev;
mod flow;
mod harness;
mod idempotency;
mod maxima;
mod payment;
mod replicas;
mod s3;
mod uploads;
