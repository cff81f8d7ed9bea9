//! Integration tests of kaigo-platform against real PostgreSQL and Redis on loopback.
//! One binary (one link) for all of them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should stop the test loudly

mod access;
mod audit_copy;
mod audit_partitions;
mod cluster;
mod event_retention;
mod events;
mod replicas;
mod sqlite_writes;
mod stream_trim;
mod write_kit;
