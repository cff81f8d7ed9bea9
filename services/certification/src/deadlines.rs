//! `kaigo.certification.applications.open` (gauge, by `deadline_status`: `on_track`,
//! `at_risk`, `extended`, `overdue`; domain::deadline::OpenStanding): the open applications
//! by where they stand against the 30-day decision deadline, recounted from the database
//! every minute by each replica (each reports the same figures; dashboards take the maximum).
//!
//! Labels carry the standing only, never an insurer: some 1,600 insurers × 4 standings would be a
//! series set no one reads at national scale, and the per-insurer figures are
//! GetInsurerStatistics' (README "Observability").

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kaigo_platform::service::Stopping;
use kaigo_platform::time::Clock;
use opentelemetry::KeyValue;
use opentelemetry::metrics::ObservableGauge;
use sea_orm::DatabaseConnection;

use crate::domain::deadline::{OpenStanding, count_open};
use crate::store;

/// How often the figures are recounted.
const REFRESH: Duration = Duration::from_secs(60);

/// The latest figures, in the order of [`OpenStanding::ALL`], and whether there are any yet.
struct Figures {
    counts: [AtomicU64; 4],
    counted: AtomicBool,
}

fn figures() -> &'static Figures {
    static FIGURES: Figures = Figures { counts: [const { AtomicU64::new(0) }; 4], counted: AtomicBool::new(false) };
    &FIGURES
}

fn gauge() -> &'static ObservableGauge<u64> {
    static GAUGE: OnceLock<ObservableGauge<u64>> = OnceLock::new();
    GAUGE.get_or_init(|| {
        opentelemetry::global::meter("kaigo-certification")
            .u64_observable_gauge("kaigo.certification.applications.open")
            .with_description("open certification applications by their standing against the 30-day decision deadline")
            .with_callback(|observer| {
                let figures = figures();
                if figures.counted.load(Ordering::Relaxed) {
                    for (standing, n) in OpenStanding::ALL.iter().zip(&figures.counts) {
                        observer
                            .observe(n.load(Ordering::Relaxed), &[KeyValue::new("deadline_status", standing.label())]);
                    }
                }
            })
            .build()
    })
}

/// Counts the open applications of `db` by standing on `clock`'s today.
pub async fn count(db: &DatabaseConnection, clock: &dyn Clock, at_risk_day: u32) -> Result<[u64; 4], String> {
    let groups = store::open_deadline_groups(db).await.map_err(|e| e.to_string())?;
    Ok(count_open(&groups, clock.today_jst(), at_risk_day))
}

/// Recounts every [`REFRESH`] until `stopping`; a failed count keeps the last figures and is
/// logged once per outage.
pub async fn run(db: DatabaseConnection, clock: Arc<dyn Clock>, at_risk_day: u32, stopping: Stopping) {
    let _ = gauge();
    let mut failing = false;
    while !stopping.is_stopping() {
        match count(&db, clock.as_ref(), at_risk_day).await {
            Ok(counts) => {
                for (figure, n) in figures().counts.iter().zip(counts) {
                    figure.store(n, Ordering::Relaxed);
                }
                figures().counted.store(true, Ordering::Relaxed);
                failing = false;
            }
            Err(err) => {
                if !failing {
                    tracing::warn!(error = %err, "counting open applications by deadline failed; retrying");
                }
                failing = true;
            }
        }
        tokio::select! {
            () = stopping.clone().wait() => break,
            () = tokio::time::sleep(REFRESH) => {}
        }
    }
}
