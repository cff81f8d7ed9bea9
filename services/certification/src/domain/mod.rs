//! The rules of the 要介護認定 workflow as plain functions, and the application [`record`] they
//! work on: no I/O, no async, unit-tested beside each rule.

pub mod access;
pub mod deadline;
pub mod judgment;
pub mod record;
pub mod steps;
pub mod submission;
pub mod survey_items;
pub mod types;
pub mod validity;
pub mod workflow;
