//! The rules of 介護保険資格確認, as plain functions over plain data: no I/O, no async.

pub mod access;
pub mod allowances;
pub mod caps;
pub mod care_management;
pub mod municipality;
pub mod qualification;
pub mod timeline;
pub mod validity;

pub use timeline::{Assessment, CareLevel, Detail, Kind, Period, PersonCore, Record, Timeline, Verdict};
