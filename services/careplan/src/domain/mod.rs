//! The care-plan exchange's rules, as plain functions without I/O: the typed model of the
//! standard files, the spec data, file names, and the rules across columns and files.

pub mod bundle;
pub mod codes;
pub mod evidence;
pub mod file_name;
pub mod forms;
pub mod issue;
pub mod kind;
pub mod licence;
pub mod model;
pub mod parties;
pub mod row;
pub mod rules;
pub mod spec;
pub mod summary;
pub mod values;
