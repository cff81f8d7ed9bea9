//! Audit of every read of a person's record, off the hot path.
//!
//! Calls hand entries to a channel (no I/O on the request path); a background task writes them
//! in batches. A failed batch is kept and retried, never dropped, and on a clean shutdown the
//! task drains the channel before the process exits. The channel is bounded: when the database
//! cannot keep up, calls wait for room instead of the queue growing without limit.

use std::time::Duration;

use kaigo_platform::service::Background;
use tokio::sync::mpsc;

use crate::store::{AuditEntry, Store};

/// Rows per INSERT: 5,000 rows × 9 columns stays under PostgreSQL's 65,535 parameters.
const BATCH: usize = 5_000;
/// Entries waiting at most; beyond this, audited calls wait for the writer.
const QUEUE: usize = 100_000;
const INTERVAL: Duration = Duration::from_millis(100);

/// Accepts audit entries.
#[derive(Clone)]
pub struct Auditor {
    tx: mpsc::Sender<AuditEntry>,
}

impl Auditor {
    /// Starts the writer as a background task.
    pub fn spawn(store: Store, background: &Background) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        background.spawn("eligibility-audit", move |stopping| write_loop(store, rx, stopping));
        Self { tx }
    }

    /// Records one read (waits only when the writer is a full queue behind).
    pub async fn record(&self, entry: AuditEntry) {
        if self.tx.send(entry).await.is_err() {
            // Only after shutdown, when no call is served any more.
            tracing::error!("audit writer stopped; an audit entry could not be queued");
        }
    }
}

async fn write_loop(store: Store, mut rx: mpsc::Receiver<AuditEntry>, stopping: kaigo_platform::service::Stopping) {
    let mut batch: Vec<AuditEntry> = Vec::with_capacity(BATCH);
    let mut failing = false;
    loop {
        let stop = stopping.is_stopping();
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            match store.append_audit(&batch).await {
                Ok(()) => {
                    batch.clear();
                    failing = false;
                }
                Err(err) => {
                    if !failing {
                        tracing::error!(error = %err, pending = batch.len(), "audit write failed; retrying");
                        failing = true;
                    }
                    tokio::time::sleep(INTERVAL * 5).await;
                    continue;
                }
            }
        }
        if stop && rx.is_empty() {
            break;
        }
        if batch.is_empty() && !stop {
            tokio::select! {
                received = rx.recv() => match received {
                    Some(entry) => batch.push(entry),
                    None => break,
                },
                () = stopping.clone().wait() => {}
            }
            // Gather what arrives within the interval into the same batch.
            tokio::time::sleep(INTERVAL).await;
        }
    }
}
