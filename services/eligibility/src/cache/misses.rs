//! Concurrent misses read together: the persons missing from both cache tiers at one moment
//! are read from the database in one statement per kind (timelines, access facts) instead of
//! two round trips each (loadtest/README.md#database-profile).
//!
//! No timer: a miss that finds a reader free is read at once, alone. Only while
//! [`READERS`] batches are already being read do further misses wait, and the next reader to
//! come free takes all of them (up to [`BATCH_MAX`]) in one batch. At low load nothing is
//! delayed; under load the round trips, statements and pool checkouts per miss fall with the
//! size of the batches. A miss is always read by a statement sent after it arrived (a waiting
//! miss never joins a batch already on its way), so it sees every write committed before it,
//! as a statement of its own would.
//!
//! A batch reads distinct persons: two misses of one person in the same batch share one read.

use std::collections::HashMap;
use std::sync::Arc;

use kaigo_platform::db::ReadPool;
use parking_lot::Mutex;
use sea_orm::DbErr;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tracing::Instrument;

use super::{Cached, Entry, L2};
use crate::key::PersonKey;
use crate::store;

/// Batches read at the same time. Each takes at most two pooled connections at once (its two
/// statements run side by side), so four leave most of the default pool of 16 to writes and
/// the other reads.
pub(super) const READERS: usize = 4;

/// The most misses one batch reads (the rest wait for the next reader).
pub(super) const BATCH_MAX: usize = store::MANY_MAX;

type Reply = oneshot::Sender<Result<Entry, Arc<DbErr>>>;

struct Waiting {
    key: PersonKey,
    reply: Reply,
}

/// The misses waiting for a reader, and the readers.
pub(super) struct Misses {
    waiting: Mutex<Vec<Waiting>>,
    readers: Arc<Semaphore>,
}

impl Misses {
    pub(super) fn new() -> Self {
        Self { waiting: Mutex::new(Vec::new()), readers: Arc::new(Semaphore::new(READERS)) }
    }

    /// The entry of `key` from the database (put into L2 on the way), read with the other
    /// misses waiting now.
    pub(super) async fn load(&self, key: PersonKey, reads: &ReadPool, l2: Option<&L2>) -> Result<Entry, Arc<DbErr>> {
        let (reply, mut answer) = oneshot::channel();
        self.waiting.lock().push(Waiting { key, reply });
        loop {
            tokio::select! {
                biased;
                answered = &mut answer => return answered.unwrap_or_else(|_| Err(Arc::new(lost()))),
                permit = self.readers.clone().acquire_owned() => {
                    let Ok(permit) = permit else { return Err(Arc::new(lost())) };
                    let batch = take(&mut self.waiting.lock(), BATCH_MAX);
                    if batch.is_empty() {
                        // Another reader took this miss: its answer is on the way.
                        drop(permit);
                        return answer.await.unwrap_or_else(|_| Err(Arc::new(lost())));
                    }
                    // Read in a task of its own, so that the misses of others in the batch are
                    // answered even if this call is cancelled. The task carries the span of the
                    // call that took the batch: its database and Redis spans belong to that
                    // call's trace, as a miss read alone would put them.
                    let read = read_batch(batch, reads.clone(), l2.cloned(), permit);
                    tokio::spawn(read.instrument(tracing::Span::current()));
                }
            }
        }
    }
}

/// The error of a miss whose batch was lost (a panicking or aborted task): never expected.
fn lost() -> DbErr {
    DbErr::Custom("the batch reading this person ended without an answer".to_owned())
}

/// Takes the first `max` waiting misses, oldest first.
fn take<T>(waiting: &mut Vec<T>, max: usize) -> Vec<T> {
    if waiting.len() <= max {
        return std::mem::take(waiting);
    }
    let rest = waiting.split_off(max);
    std::mem::replace(waiting, rest)
}

/// Each distinct key of `batch`, in order of first appearance, with the replies waiting for it.
fn by_key(batch: Vec<Waiting>) -> (Vec<PersonKey>, HashMap<PersonKey, Vec<Reply>>) {
    let mut keys = Vec::with_capacity(batch.len());
    let mut replies: HashMap<PersonKey, Vec<Reply>> = HashMap::with_capacity(batch.len());
    for Waiting { key, reply } in batch {
        let waiting = replies.entry(key).or_default();
        if waiting.is_empty() {
            keys.push(key);
        }
        waiting.push(reply);
    }
    (keys, replies)
}

/// Reads the persons of `batch`, answers every miss, then frees the reader (`_permit`).
async fn read_batch(batch: Vec<Waiting>, reads: ReadPool, l2: Option<L2>, _permit: OwnedSemaphorePermit) {
    let (keys, mut replies) = by_key(batch);
    for (conn_keys, result) in read(&reads, &keys).await {
        match result {
            Ok(mut entries) => {
                // Filled into L2 side by side (the multiplexed connection pipelines them).
                if let Some(l2) = &l2 {
                    let puts = conn_keys.iter().filter_map(|key| match entries.get(key) {
                        Some(Entry::Known(cached)) => {
                            Some(l2.put(key, &cached.timeline, &cached.access, cached.details.as_ref()))
                        }
                        _ => None,
                    });
                    futures::future::join_all(puts).await;
                }
                for key in &conn_keys {
                    let entry = entries.remove(key).unwrap_or_else(|| Entry::Unknown(Arc::default()));
                    for reply in replies.remove(key).unwrap_or_default() {
                        let _ = reply.send(Ok(entry.clone()));
                    }
                }
            }
            Err(err) => {
                let err = Arc::new(err);
                for key in &conn_keys {
                    for reply in replies.remove(key).unwrap_or_default() {
                        let _ = reply.send(Err(err.clone()));
                    }
                }
            }
        }
    }
}

/// The entries of `keys` (an unknown person's only with its facts), one read per group of
/// keys that may share a connection.
async fn read(reads: &ReadPool, keys: &[PersonKey]) -> Vec<(Vec<PersonKey>, Result<HashMap<PersonKey, Entry>, DbErr>)> {
    let mut out = Vec::new();
    for (conn, group) in groups(reads, keys) {
        let result = read_group(&conn, &group).await;
        out.push((group, result));
    }
    out
}

/// The keys of a batch grouped by where they may be read: those that must be read on the
/// primary (a write of theirs not yet replayed everywhere, or no replicas at all) together,
/// and those a replica may serve together on one replica while no person is fenced (every
/// replica serving the floor then serves each of them); while some are, each such key alone on
/// the replica chosen for it, as an unbatched read would be.
fn groups(reads: &ReadPool, keys: &[PersonKey]) -> Vec<(kaigo_platform::db::ReadConn, Vec<PersonKey>)> {
    let mut primary: Option<(kaigo_platform::db::ReadConn, Vec<PersonKey>)> = None;
    let mut replica: Option<(kaigo_platform::db::ReadConn, Vec<PersonKey>)> = None;
    let mut alone = Vec::new();
    let any_fenced = reads.fenced_keys() > 0;
    for key in keys {
        let conn = reads.for_key(key.as_bytes());
        let slot = if !conn.on_replica() {
            &mut primary
        } else if !any_fenced {
            &mut replica
        } else {
            alone.push((conn, vec![*key]));
            continue;
        };
        slot.get_or_insert_with(|| (conn, Vec::new())).1.push(*key);
    }
    primary.into_iter().chain(replica).chain(alone).collect()
}

/// One group's timelines and facts, the two statements side by side.
async fn read_group(
    conn: &kaigo_platform::db::ReadConn,
    keys: &[PersonKey],
) -> Result<HashMap<PersonKey, Entry>, DbErr> {
    let (mut timelines, mut facts) =
        futures::future::try_join(store::timelines(conn, keys), store::access_facts_many(conn, keys)).await?;
    let mut out = HashMap::with_capacity(keys.len());
    for key in keys {
        let access = facts.remove(key).unwrap_or_default();
        let entry = match timelines.remove(key) {
            Some((timeline, details)) => Entry::Known(Arc::new(Cached { timeline, details: Some(details), access })),
            None => Entry::Unknown(Arc::new(access)),
        };
        out.insert(*key, entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

    fn key(insured: &str) -> PersonKey {
        PersonKey::new(&InsurerNumber::parse("435073").unwrap(), &InsuredNumber::parse(insured).unwrap())
    }

    #[test]
    fn a_batch_reads_each_person_once_and_answers_every_miss_of_them() {
        let (a, b) = (key("0000000001"), key("0000000002"));
        let mut answers = Vec::new();
        let batch: Vec<Waiting> = [a, b, a, a]
            .into_iter()
            .map(|key| {
                let (reply, answer) = oneshot::channel();
                answers.push(answer);
                Waiting { key, reply }
            })
            .collect();
        let (keys, replies) = by_key(batch);
        assert_eq!(keys, vec![a, b], "distinct, in order of first appearance");
        assert_eq!(replies[&a].len(), 3);
        assert_eq!(replies[&b].len(), 1);
    }

    #[test]
    fn take_leaves_the_newest_beyond_the_limit() {
        let mut waiting: Vec<u32> = (0..10).collect();
        assert_eq!(take(&mut waiting, 4), vec![0, 1, 2, 3]);
        assert_eq!(waiting, vec![4, 5, 6, 7, 8, 9]);
        assert_eq!(take(&mut waiting, 10), vec![4, 5, 6, 7, 8, 9]);
        assert!(waiting.is_empty());
        assert!(take(&mut waiting, 4).is_empty());
    }
}
