//! WatchInbox: new arrivals streamed to the receiving office.
//!
//! Built on a database poll every [`POLL`], not on the `careplan.bundle.sent` event: the poll
//! needs no Redis (it works the same in `kaigo dev` on SQLite) and any replica can serve any
//! watcher. **No scan ever returns an ACKNOWLEDGED bundle**, neither the catch-up nor the live
//! polls: an acknowledged bundle was imported (取込済) and streaming it as an arrival would make
//! a client import it twice.
//!
//! Bundle ids are UUIDv7, taken before the sending transaction commits, so a bundle can become
//! visible after one with a later id. Each live poll therefore looks back [`LOOKBACK_MS`] before
//! the newer of the newest id sent on this stream and the moment the stream started (what
//! committed before the start was in the catch-up), and skips ids it already sent: a send whose
//! transaction took less than that is never missed while the stream is open. A resumed stream
//! takes the ids up to its cursor as already sent; a bundle with such an id that committed
//! while the client was away is in ListInbox (the authoritative view), not in the stream.
//!
//! **Read replicas** (docs/architecture.md#read-replicas). The catch-up reads the primary: it
//! must hold everything committed before the stream started, which a replica lagging more than
//! the look-back would not. The live polls read a replica (unless the office has a write it
//! has not replayed). That misses nothing: a replica shows a prefix of the primary's commits,
//! so a poll that finds a bundle also finds every bundle committed before it, and what
//! committed after the catch-up has an id after the start's look-back floor, whatever the lag
//! (the argument above, unchanged). A row a replica poll would send is read again on the
//! primary first, and sent as the primary has it, unless acknowledged there: an
//! acknowledgement made through another process (which fences nothing here) may not have
//! reached the replica yet, and an acknowledged bundle is never streamed. Polls that find
//! nothing new, nearly all of them, cost the primary nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use kaigo_platform::auth::Caller;
use kaigo_platform::db::{ReadConn, ReadPool};
use kaigo_platform::errors::{ApiError, Violations};
use kaigo_proto::kaigo::careplan::v1 as pb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::Api;
use super::convert::bundle_pb;
use super::inbox::{BoxStream, own_office};
use crate::store;

/// How often a watch looks for new arrivals.
const POLL: Duration = Duration::from_millis(250);
/// How far before its newest id a watch looks again for late commits.
const LOOKBACK_MS: u64 = 30_000;
/// Rows per query.
const PAGE: u64 = 100;

/// The smallest UUIDv7 of the millisecond `LOOKBACK_MS` before `id`'s.
fn lookback_floor(id: &str) -> Option<String> {
    let (secs, nanos) = uuid::Uuid::parse_str(id).ok()?.get_timestamp()?.to_unix();
    let millis = (secs * 1000 + u64::from(nanos / 1_000_000)).saturating_sub(LOOKBACK_MS);
    Some(uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10]).into_uuid().to_string())
}

pub(crate) async fn watch_inbox(
    api: &Api,
    caller: &Caller,
    r: pb::WatchInboxRequest,
) -> Result<BoxStream<pb::WatchInboxResponse>, ApiError> {
    let office = own_office(caller, &r.office_number)?.as_str().to_owned();
    if !r.after_cursor.is_empty()
        && (!super::inbox::is_uuid(&r.after_cursor) || lookback_floor(&r.after_cursor).is_none())
    {
        let mut v = Violations::new();
        v.add("after_cursor", "not a cursor from WatchInbox");
        v.into_result()?;
    }
    let reads = api.ctx.reads.clone();
    let party = caller.party();
    let stopping = api.ctx.background.stopping();
    let (tx, rx) = mpsc::channel(16);
    let cursor = (!r.after_cursor.is_empty()).then_some(r.after_cursor);
    // The stream's start: the live polls never look back before its look-back floor.
    let started = uuid::Uuid::now_v7().to_string();
    tokio::spawn(async move {
        let stop = stopping.wait();
        tokio::pin!(stop);
        // A resumed stream treats what the client had (ids up to its cursor) as sent.
        let mut watch = Watch {
            reads,
            party,
            office,
            seen: BTreeSet::new(),
            newest: cursor.clone(),
            started,
            quiet_upto: cursor.clone(),
        };
        // First the catch-up: everything after the cursor's look-back, or the whole inbox;
        // then the live polls from the look-back floor. Both leave acknowledged bundles out.
        // A failed catch-up is repeated, not skipped. The catch-up on the primary, the live
        // polls where the office's reads go.
        let mut catch_up = Some(cursor.as_deref().and_then(lookback_floor));
        loop {
            let (from, conn) = match &catch_up {
                Some(from) => (from.clone(), watch.reads.any().primary()),
                None => (watch.live_floor(), watch.reads.for_key(watch.party.as_bytes())),
            };
            match watch.poll(&conn, from, &tx).await {
                Ok(true) => catch_up = None,
                Ok(false) => return,
                Err(err) => tracing::warn!(error = %err, "watching an inbox failed; retrying"),
            }
            tokio::select! {
                () = tx.closed() => return,
                () = &mut stop => return,
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

struct Watch {
    /// The service's reads (the replicas and the primary).
    reads: ReadPool,
    /// The office's key there (`Caller::party`), fenced by its own writes.
    party: String,
    office: String,
    /// Ids sent on this stream within the look-back window.
    seen: BTreeSet<String>,
    /// The newest id sent (or the resume cursor).
    newest: Option<String>,
    /// A UUIDv7 of the moment the stream started.
    started: String,
    /// The resume cursor: ids up to it were sent on an earlier stream.
    quiet_upto: Option<String>,
}

impl Watch {
    /// Where a live poll starts: the look-back before the newer of the newest id sent and the
    /// stream's start.
    fn live_floor(&self) -> Option<String> {
        let newest = self.newest.as_ref().filter(|n| **n > self.started).unwrap_or(&self.started);
        lookback_floor(newest)
    }

    /// Sends every unseen, unacknowledged arrival after `from` found on `conn` (a replica's
    /// checked on the primary first); false when the client has gone.
    async fn poll(
        &mut self,
        conn: &ReadConn,
        mut from: Option<String>,
        tx: &mpsc::Sender<Result<pb::WatchInboxResponse, Status>>,
    ) -> Result<bool, sea_orm::DbErr> {
        let acknowledged = pb::BundleStatus::Acknowledged as i32;
        let primary = conn.primary();
        loop {
            let rows = store::arrivals(conn, &self.office, from.as_deref(), Some(acknowledged), PAGE).await?;
            let full = rows.len() as u64 == PAGE;
            for m in rows {
                from = Some(m.id.clone());
                if self.seen.contains(&m.id) || self.quiet_upto.as_ref().is_some_and(|q| m.id <= *q) {
                    continue;
                }
                // As the primary has it, and not if acknowledged there (the module's note).
                let m = if conn.on_replica() {
                    match store::get_bundle(&primary, &m.id).await? {
                        Some(now) if now.status != acknowledged => now,
                        _ => {
                            self.seen.insert(m.id);
                            continue;
                        }
                    }
                } else {
                    m
                };
                let files = store::file_metadata(&primary, &m.id).await?;
                // Seen once it goes out: a read that failed before leaves it for the next poll.
                self.seen.insert(m.id.clone());
                if self.newest.as_ref().is_none_or(|n| *n < m.id) {
                    self.newest = Some(m.id.clone());
                }
                let message = pb::WatchInboxResponse { bundle: Some(bundle_pb(&m, &files)), cursor: m.id.clone() };
                if tx.send(Ok(message)).await.is_err() {
                    return Ok(false);
                }
            }
            if !full {
                break;
            }
        }
        // Forget what is older than the next look-back.
        if let Some(floor) = self.live_floor() {
            self.seen = self.seen.split_off(&floor);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_first_id_of_the_millisecond_thirty_seconds_earlier() {
        let id = uuid::Builder::from_unix_timestamp_millis(1_750_000_000_000, &[7; 10]).into_uuid().to_string();
        let floor = lookback_floor(&id).unwrap();
        let expected = uuid::Builder::from_unix_timestamp_millis(1_749_999_970_000, &[0; 10]).into_uuid().to_string();
        assert_eq!(floor, expected);
        assert!(floor < id);
        assert_eq!(lookback_floor("not-a-uuid"), None);
    }
}
