//! The rules, as plain functions without I/O: opinion content, request fields, the workflow,
//! who may read, and what counts as a PDF.

pub mod access;
pub mod fields;
pub mod flow;
pub mod opinion;
pub mod payment;
pub mod pdf;
pub mod request;
