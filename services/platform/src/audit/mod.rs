//! The read audit trail, once for every service: who read whose record, when, why, and how
//! it went.
//!
//! A handler that reads a person's record hands one [`ReadRecord`] per call to the service's
//! [`Auditor`] — a call that reads a thousand persons (a batch check, a list) is one record
//! with the persons as a list, so the trail's cost grows with calls, not with persons. The
//! auditor queues records in a buffer bounded by the person reads it holds (a batch record of a
//! thousand persons weighs a thousand: the bound is memory, whatever the records' sizes) and
//! one background task writes them in batches ([`writer`]): binary `COPY` on PostgreSQL, multi-row
//! `INSERT` on SQLite.
//!
//! Nothing is dropped silently. When the buffer is full (the database is slow or down), the
//! next audited call waits for room: backpressure slows readers rather than losing records. A
//! failed batch is retried with back-off; on shutdown the writer drains the buffer after the
//! server has stopped taking calls. What a SIGKILL can lose is bounded by what is in memory:
//! the buffer plus the batch being written ([`AuditOptions`]).
//!
//! The table (`audit_trail`, [`migration`]) is the same in every service's schema; on
//! PostgreSQL it is partitioned by month ([`partitions`]), so the retention drops whole months.

mod binary;
pub mod migration;
pub mod partitions;
mod sql;
pub mod trail;
mod writer;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use tokio::sync::{Semaphore, mpsc};

use crate::auth::Caller;
use crate::service::Background;
use crate::time::Clock;

pub use partitions::{Pruned, prune};
pub use sql::{
    PositionedRead, StoredRead, count_all, count_for_person, reads_of_person, reads_of_person_before, reads_of_resource,
};

/// `allowed`: the record was shown (in full or in part, as the access rules decided).
pub const ALLOWED: &str = "allowed";
/// `denied`: the caller may not see the record.
pub const DENIED: &str = "denied";
/// `not_found`: no such record (the caller was authorised to ask).
pub const NOT_FOUND: &str = "not_found";

/// One call's reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    /// The RPC (`CheckEligibility` …).
    pub rpc: &'static str,
    /// What kind of record was read (`eligibility`, `application`, `opinion`, `attachment`,
    /// `bundle`, `subsidy_application` …).
    pub category: &'static str,
    /// The purpose the caller stated, or the one its role implies.
    pub purpose: String,
    /// [`ALLOWED`], [`DENIED`], [`NOT_FOUND`] or a service's own outcome word.
    pub outcome: &'static str,
    /// Whose records: [`person`] keys (`<保険者番号>:<被保険者番号>`); empty when the records
    /// belong to no person (a subsidy application) or the person is not known (not found).
    pub persons: Vec<String>,
    /// Which records by id (application ids, bundle ids …); empty when the person is the key.
    pub resources: Vec<String>,
}

/// The key of a person in the trail: `<insurer number>:<insured number>`.
///
/// Built by hand rather than with `format!`: a batch check makes one per person, and the
/// formatting machinery was 6 % of a batch's instructions (loadtest/README.md#batch-keys).
pub fn person(insurer_number: &str, insured_number: &str) -> String {
    let mut key = String::with_capacity(insurer_number.len() + 1 + insured_number.len());
    key.push_str(insurer_number);
    key.push(':');
    key.push_str(insured_number);
    key
}

/// A record as queued: the call's record and who made it, stamped when it was made.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub at: DateTime<Utc>,
    pub caller_role: &'static str,
    pub caller_party: String,
    pub caller_subject: String,
    pub read: ReadRecord,
}

/// Sizes of the audit buffer.
#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    /// Reads waiting at most before audited calls wait for the writer: a record weighs the
    /// persons and resources it names (at least one), so a batch record of 1,000 persons takes
    /// the room of 1,000 single reads ([`weight`]).
    pub buffer: usize,
    /// Records per statement.
    pub batch: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        // 10,000 reads of a few hundred bytes: a few MiB at most.
        Self { buffer: 10_000, batch: 1_000 }
    }
}

/// Accepts read records; cheap to clone into every handler.
#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::UnboundedSender<Row>,
    /// Room left in the buffer, in reads; the writer gives a batch's room back once written.
    room: Arc<Semaphore>,
    buffer: usize,
    clock: Arc<dyn Clock>,
}

/// The room a record takes in the buffer: the persons and resources it names, at least one,
/// at most the whole buffer (so that any record fits).
pub(crate) fn weight(read: &ReadRecord, buffer: usize) -> usize {
    (read.persons.len() + read.resources.len()).clamp(1, buffer.max(1))
}

impl Auditor {
    /// Starts the writer on `db` as a background task that drains on shutdown.
    pub fn spawn(
        db: DatabaseConnection,
        background: &Background,
        clock: Arc<dyn Clock>,
        options: AuditOptions,
    ) -> Self {
        let buffer = options.buffer.max(1);
        let (tx, rx) = mpsc::unbounded_channel();
        let room = Arc::new(Semaphore::new(buffer));
        let weak = Arc::downgrade(&room);
        crate::telemetry::metrics::watch_audit_buffer(Box::new(move || {
            weak.upgrade().map(|room| buffer.saturating_sub(room.available_permits()))
        }));
        let freed = room.clone();
        background.spawn("audit-writer", move |stopping| {
            writer::run(db, rx, writer::Room { room: freed, buffer }, options.batch.max(1), stopping)
        });
        Self { tx, room, buffer, clock }
    }

    /// Records `read` by `caller`. Waits only when the buffer is full (backpressure).
    pub async fn record(&self, caller: &Caller, read: ReadRecord) {
        let row = Row {
            at: self.clock.now(),
            caller_role: caller.role.as_str(),
            caller_party: caller.party(),
            caller_subject: caller.subject.clone(),
            read,
        };
        let need = u32::try_from(weight(&row.read, self.buffer)).unwrap_or(u32::MAX);
        // The room is never closed: waiting here is the backpressure.
        if let Ok(permit) = self.room.acquire_many(need).await {
            permit.forget();
        }
        if self.tx.send(row).is_err() {
            // Only once the writer has stopped, after the server stopped serving.
            tracing::error!("audit writer has stopped; a read was not audited");
        }
    }

    /// Reads waiting to be written (for metrics and tests).
    pub fn pending(&self) -> usize {
        self.buffer.saturating_sub(self.room.available_permits())
    }
}

/// Writes `reads` by `caller` now, in `conn` (a transaction of the caller's, or the pool):
/// for the rare read that must be on disk before the answer leaves (none of the hot paths).
pub async fn record_now(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    at: DateTime<Utc>,
    reads: Vec<ReadRecord>,
) -> Result<(), DbErr> {
    let rows: Vec<Row> = reads
        .into_iter()
        .map(|read| Row {
            at,
            caller_role: caller.role.as_str(),
            caller_party: caller.party(),
            caller_subject: caller.subject.clone(),
            read,
        })
        .collect();
    sql::insert(conn, &rows).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_persons_key_is_the_insurer_and_the_insured_number_joined_by_a_colon() {
        let key = super::person("435073", "0000000001");
        assert_eq!(key, "435073:0000000001");
        assert_eq!(key.capacity(), key.len(), "sized once");
        assert_eq!(super::person("", ""), ":");
    }
}
