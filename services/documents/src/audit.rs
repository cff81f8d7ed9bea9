//! The read audit trail: who read whose record, when, why, and the outcome.
//!
//! Reads hand a record to a bounded channel and go on; one background task writes batches
//! into `audit_log`. Nothing is dropped: a full channel makes the reader wait (backpressure
//! instead of loss), a failed insert is retried with the same batch, and on shutdown the task
//! drains the channel before it returns (the server has stopped taking calls by then).

use std::time::Duration;

use chrono::Utc;
use kaigo_platform::auth::Caller;
use kaigo_platform::service::ServiceContext;
use sea_orm::{DatabaseConnection, Set};
use tokio::sync::mpsc;

use crate::store::{self, entities::audit};

/// What was read, whose it is, and how it went.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// The RPC (`GetOpinion` …).
    pub action: &'static str,
    /// `opinion`, `opinion_request` or `attachment`.
    pub resource_kind: &'static str,
    /// The resource id.
    pub resource_id: String,
    /// Whose record: 保険者番号 (empty when unknown, e.g. not found).
    pub insurer_number: String,
    /// Whose record: 被保険者番号.
    pub insured_number: String,
    /// `kaigo.common.v1.Purpose` value as stated (or derived from the role).
    pub purpose: i32,
    /// `allowed`, `denied`, `not_found`, `data_loss`.
    pub outcome: &'static str,
}

/// The sending side, cloned into every handler.
#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::Sender<audit::ActiveModel>,
}

const CHANNEL: usize = 10_000;
const BATCH: usize = 500;

impl Auditor {
    /// Starts the writer as a background task of `ctx`.
    pub fn spawn(ctx: &ServiceContext) -> Self {
        let (tx, rx) = mpsc::channel(CHANNEL);
        let db = ctx.db.clone();
        ctx.background.spawn("audit-writer", move |stopping| write_loop(db, rx, stopping.wait()));
        Self { tx }
    }

    /// Records one read by `caller`.
    pub async fn record(&self, caller: &Caller, entry: AuditEntry) {
        let org = caller
            .insurer
            .as_ref()
            .map(|i| i.as_str().to_owned())
            .or_else(|| caller.institution.as_ref().map(|i| i.as_str().to_owned()))
            .or_else(|| caller.office.as_ref().map(|o| o.as_str().to_owned()))
            .unwrap_or_default();
        let row = audit::ActiveModel {
            at: Set(Utc::now()),
            actor_role: Set(caller.role.as_str().to_owned()),
            actor_subject: Set(caller.subject.clone()),
            actor_org: Set(org),
            action: Set(entry.action.to_owned()),
            resource_kind: Set(entry.resource_kind.to_owned()),
            resource_id: Set(entry.resource_id),
            insurer_number: Set(entry.insurer_number),
            insured_number: Set(entry.insured_number),
            purpose: Set(entry.purpose),
            outcome: Set(entry.outcome.to_owned()),
            ..Default::default()
        };
        if self.tx.send(row).await.is_err() {
            // Only after shutdown finished; the server no longer serves reads then.
            tracing::error!(action = entry.action, "audit writer is gone; a read was not audited");
        }
    }
}

async fn write_loop(
    db: DatabaseConnection,
    mut rx: mpsc::Receiver<audit::ActiveModel>,
    stopping: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stopping);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            biased;
            received = rx.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    break;
                }
                write(&db, &mut batch, false).await;
            }
            () = &mut stopping => break,
        }
    }
    // Drain what is queued (every handler finished before background tasks are stopped).
    rx.close();
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        write(&db, &mut batch, true).await;
    }
}

/// Writes `batch`, retrying until it lands (a few times only when shutting down).
async fn write(db: &DatabaseConnection, batch: &mut Vec<audit::ActiveModel>, stopping: bool) {
    let mut delay = Duration::from_millis(50);
    for attempt in 1.. {
        match store::insert_audit(db, batch.clone()).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(err) => {
                tracing::error!(error = %err, attempt, records = batch.len(), "audit write failed; retrying");
                if stopping && attempt >= 5 {
                    tracing::error!(records = batch.len(), "audit records could not be written at shutdown");
                    batch.clear();
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
