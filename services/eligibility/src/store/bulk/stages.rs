//! `kaigo.eligibility.import.stage.duration`: where an import's time goes, chunk by chunk.
//!
//! Each chunk's passage through the import is cut into stages, each recorded as one sample
//! under its `stage` label, so an operator (and loadtest/eligibility/import-under-load.sh) can
//! tell which stage a slow import waits in: the sums over a run add up to the writer's time.
//! The labels are fixed in code, never data.
//!
//! | stage | what one sample is |
//! |---|---|
//! | `encode` | the chunk's rows encoded for `COPY` (PostgreSQL) |
//! | `begin` | a pooled connection taken and the transaction begun |
//! | `copy` | the staging tables created and the chunk copied into them |
//! | `create` | the new persons and their records inserted |
//! | `compare` | the stored persons compared with the staged ones in SQL, the ones that may differ returned with their active records |
//! | `load` | on PostgreSQL the allowance uses of the persons the comparison returned (with their stored rows) read, and a new person's allowance uses written; on SQLite the chunk's persons read with their active records and allowance uses |
//! | `diff` | what each loaded person's row changes, decided in the process |
//! | `update` | the changed persons' rows updated (their versions raised), allowance uses corrected |
//! | `void` | the records the extract no longer states voided |
//! | `insert` | the records the extract adds inserted, and on SQLite the new persons with theirs |
//! | `enqueue` | the changed persons' `eligibility.changed` events written to the outbox |
//! | `commit` | the chunk's commit |
//! | `invalidate` | the chunk's persons dropped from L1 and the changed ones from L2 |
//! | `hand_over` | the writer waiting for the L2 stage to take the chunk (it still writes the one before) |
//! | `l2_read` | the L2 stage reading the changed persons' timelines and everyone's access facts, and building the values |
//! | `l2_write` | the L2 stage writing the chunk's values to Redis |

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Histogram;

/// Boundaries (seconds): a stage of a chunk takes milliseconds to seconds.
const BOUNDARIES: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

fn histogram() -> &'static Histogram<f64> {
    static STAGES: OnceLock<Histogram<f64>> = OnceLock::new();
    STAGES.get_or_init(|| {
        opentelemetry::global::meter("kaigo-eligibility")
            .f64_histogram("kaigo.eligibility.import.stage.duration")
            .with_unit("s")
            .with_description("one chunk's time in one stage of an import")
            .with_boundaries(BOUNDARIES.to_vec())
            .build()
    })
}

/// Records `took` as one chunk's time in `stage`.
pub fn record(stage: &'static str, took: Duration) {
    histogram().record(took.as_secs_f64(), &[KeyValue::new("stage", stage)]);
}

/// A chunk's stages timed one after another: each [`Laps::lap`] records the time since the
/// previous one (or since [`Laps::start`]).
pub struct Laps(Instant);

impl Laps {
    /// Starts timing the first stage.
    pub fn start() -> Self {
        Self(Instant::now())
    }

    /// Records the stage that ends now and starts the next.
    pub fn lap(&mut self, stage: &'static str) {
        let now = Instant::now();
        record(stage, now - self.0);
        self.0 = now;
    }
}
