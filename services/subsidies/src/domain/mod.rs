//! The subsidy rules as plain functions: no I/O, no async, no tonic or sea-orm types.

pub mod application;
pub mod calculate;
pub mod costs;
pub mod money;
pub mod programme;
