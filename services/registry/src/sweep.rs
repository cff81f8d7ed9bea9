//! Ends registrations that have gone `registry.no_service_months` without service evidence
//! (docs/domain/access.md#registrations), on the injected clock, every
//! `registry.sweep_interval_ms`. Each registration ends in its own transaction, re-read
//! there, so a service recorded meanwhile or a concurrent end is respected; several replicas
//! may sweep at once (the one that loses a race finds the registration ended).

use std::sync::Arc;
use std::time::Duration;

use chrono::Months;
use kaigo_platform::db::begin_write;
use kaigo_platform::service::Stopping;
use kaigo_platform::time::Clock;
use sea_orm::{DatabaseConnection, DbErr};

use crate::changes;
use crate::domain::{EndReason, without_service};
use crate::store;

/// Registrations looked at per pass.
const BATCH: u64 = 500;

/// Sweeps every `every` until shutdown.
pub async fn run(db: DatabaseConnection, clock: Arc<dyn Clock>, months: u32, every: Duration, stopping: Stopping) {
    let mut failing = false;
    loop {
        let stop = stopping.clone();
        tokio::select! {
            () = stop.wait() => return,
            () = tokio::time::sleep(every) => {}
        }
        match sweep_once(&db, clock.as_ref(), months).await {
            Ok(ended) => {
                failing = false;
                if ended > 0 {
                    tracing::info!(ended, "registrations ended after the no-service period");
                }
            }
            Err(err) => {
                if !failing {
                    tracing::warn!(error = %err, "registration sweep failing; retrying");
                }
                failing = true;
            }
        }
    }
}

/// One pass: ends every registration whose no-service period is complete today. Returns how
/// many it ended.
pub async fn sweep_once(db: &DatabaseConnection, clock: &dyn Clock, months: u32) -> Result<usize, DbErr> {
    let today = clock.today_jst();
    let Some(cutoff) = today.checked_sub_months(Months::new(months)) else { return Ok(0) };
    let mut ended = 0;
    loop {
        let candidates = store::registrations_without_service_since(db, cutoff, BATCH).await?;
        let mut this_pass = 0;
        for candidate in &candidates {
            let txn = begin_write(db).await?;
            let Some(row) = store::registration(&txn, &candidate.id).await? else {
                txn.rollback().await?;
                continue;
            };
            if row.ended_at.is_some() || !without_service(row.start_date, row.last_service_on, today, months) {
                txn.rollback().await?;
                continue;
            }
            changes::end_registration(&txn, row, EndReason::NoService, changes::system(), None, clock.now()).await?;
            txn.commit().await?;
            this_pass += 1;
        }
        ended += this_pass;
        if candidates.len() < usize::try_from(BATCH).unwrap_or(usize::MAX) || this_pass == 0 {
            return Ok(ended);
        }
    }
}
