//! Integration tests of kaigo-careplan: the codec against the golden files, properties of the
//! parser, and the service through a real tonic server.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should stop the test loudly

mod built;
mod dev;
mod evidence;
mod exchange;
mod golden;
mod harness;
mod idempotency;
mod large;
mod licences;
mod maxima;
mod office_types;
mod parser_props;
mod persons;
mod replicas;
mod summary;
mod validate;
mod watch;
