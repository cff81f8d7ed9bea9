//! The background task that writes queued read records in batches.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::{Semaphore, mpsc};

use super::{Row, sql};
use crate::service::Stopping;

/// The buffer's room, given back as batches are written (or given up at shutdown).
pub(super) struct Room {
    pub room: Arc<Semaphore>,
    pub buffer: usize,
}

impl Room {
    fn free(&self, batch: &[Row]) {
        self.room.add_permits(batch.iter().map(|row| super::weight(&row.read, self.buffer)).sum());
    }
}

/// Tries at shutdown before a batch that cannot be written is given up (and logged with its
/// size): the process is going away, and the database has refused for ~10 s by then.
const SHUTDOWN_TRIES: u32 = 8;

/// Writes batches until shutdown, then drains the buffer.
pub(super) async fn run(
    db: DatabaseConnection,
    mut rx: mpsc::UnboundedReceiver<Row>,
    room: Room,
    batch_size: usize,
    stopping: Stopping,
) {
    // The month partitions this writer will write into (the retention task keeps them a month
    // ahead too); without them records land in the default partition, never fail.
    if let Err(err) = super::partitions::ensure(&db, chrono::Utc::now()).await {
        tracing::warn!(error = %err, "audit partitions could not be created ahead; the retention task retries");
    }
    let mut batch = Vec::with_capacity(batch_size);
    let stop = stopping.clone().wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            received = rx.recv_many(&mut batch, batch_size) => {
                if received == 0 {
                    break;
                }
                write(&db, &mut batch, &room, None).await;
            }
            () = &mut stop => break,
        }
    }
    // Every handler has finished by now (the server drains before background tasks stop).
    rx.close();
    while rx.recv_many(&mut batch, batch_size).await > 0 {
        write(&db, &mut batch, &room, Some(SHUTDOWN_TRIES)).await;
    }
}

/// Writes `batch`, retrying with back-off until it lands (or `tries` run out at shutdown).
/// While it retries the buffer fills and audited calls wait: records are never dropped while
/// the service serves.
async fn write(db: &DatabaseConnection, batch: &mut Vec<Row>, room: &Room, tries: Option<u32>) {
    let metrics = crate::telemetry::metrics::audit();
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(50);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match sql::write(db, batch).await {
            Ok(()) => {
                room.free(batch);
                batch.clear();
                metrics.flush.record(started.elapsed().as_secs_f64(), &[]);
                return;
            }
            Err(err) => {
                metrics.failures.add(1, &[]);
                if attempt == 1 || attempt.is_power_of_two() {
                    tracing::error!(error = %err, attempt, records = batch.len(), "audit write failed; retrying");
                }
                if tries.is_some_and(|tries| attempt >= tries) {
                    tracing::error!(records = batch.len(), "audit records could not be written at shutdown");
                    room.free(batch);
                    batch.clear();
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}
