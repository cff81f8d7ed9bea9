//! WatchApplication: the steps after `after_sequence`, then each new step as it is written on
//! any replica, in order, until a terminal step or the client goes away.
//!
//! The watcher subscribes to step signals *before* its first read, so a step written between
//! the read and the subscription cannot be missed; each wake-up re-reads the steps after the last
//! one sent from the database, so signals may be lost or repeated without effect on what the
//! client sees. A periodic re-read covers a lost signal.

use std::sync::Arc;

use kaigo_platform::auth::Caller;
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_proto::kaigo::certification::v1 as pb;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::{Inner, WatchStream, convert};
use crate::signals::EVERYONE;
use crate::store;

/// Messages buffered per watcher before the writer waits for the client.
const BUFFER: usize = 32;

pub(crate) async fn watch(
    inner: Arc<Inner>,
    caller: &Caller,
    r: &pb::WatchApplicationRequest,
) -> Result<WatchStream, ApiError> {
    if r.after_sequence < 0 {
        let mut v = Violations::new();
        v.add("after_sequence", "must not be negative");
        v.into_result()?;
    }
    let signals = inner.signals.subscribe();
    let loaded = inner.readable(caller, "WatchApplication", &r.application_id).await?;
    let (tx, rx) = mpsc::channel(BUFFER);
    let id = loaded.record.id.clone();
    tokio::spawn(run(inner, caller.clone(), id, r.after_sequence, signals, tx));
    Ok(Box::pin(ReceiverStream::new(rx)))
}

type Sender = mpsc::Sender<Result<pb::WatchApplicationResponse, Status>>;

async fn run(
    inner: Arc<Inner>,
    caller: Caller,
    id: String,
    mut last: i64,
    mut signals: broadcast::Receiver<String>,
    tx: Sender,
) {
    loop {
        match send_new(&inner, &caller, &id, &mut last, &tx).await {
            Ok(true) => return,
            Ok(false) => {}
            Err(status) => {
                let _ = tx.send(Err(status)).await;
                return;
            }
        }
        // Wait for a signal for this application, the periodic re-read, or the client leaving.
        let poll = tokio::time::sleep(inner.settings.watch_poll);
        tokio::pin!(poll);
        loop {
            tokio::select! {
                () = tx.closed() => return,
                () = &mut poll => break,
                signal = signals.recv() => match signal {
                    Ok(app) if app == id || app == EVERYONE => break,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => break,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }
}

/// Sends the steps after `last`; true when the application has ended (nothing more will come).
/// The caller is decided again on each read: an organisation whose registration ended or whose
/// consent was withdrawn gets the refusal and the stream ends (docs/domain/access.md#in-kaigo).
async fn send_new(inner: &Inner, caller: &Caller, id: &str, last: &mut i64, tx: &Sender) -> Result<bool, Status> {
    let Some(loaded) = store::load(&inner.db, id).await? else {
        return Err(ApiError::not_found("APPLICATION_NOT_FOUND", "the application no longer exists").into());
    };
    inner.may_read(caller, &loaded.record).await?;
    let today = inner.clock.today_jst();
    let from = *last;
    for step in loaded.steps.iter().filter(|s| s.sequence > from) {
        let message = pb::WatchApplicationResponse {
            step: Some(convert::step(step)),
            progress: Some(convert::progress(&loaded, Some(step.sequence), today, inner.settings.at_risk_day)),
        };
        if tx.send(Ok(message)).await.is_err() {
            return Ok(true);
        }
        *last = step.sequence;
    }
    Ok(loaded.record.workflow.status.is_terminal() && *last >= loaded.record.version)
}
