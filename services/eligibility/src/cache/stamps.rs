//! Invalidation stamps: how an L1 fill tells that its key was invalidated while it loaded.
//!
//! A miss reads L2 or the database, then moka inserts the value into L1. An invalidation of the
//! same key that lands between the read and the insert drops nothing (the entry is not there
//! yet), and the value inserted after it — read before the write it announces — would answer
//! for the whole L1 lifetime (60 s by default): a decision, a withdrawn qualification, a
//! changed co-payment ratio invisible for a minute. So every invalidation counts itself on the
//! key's stripe, and every fill notes its stripe's count before it reads and drops its key
//! again if the count moved by the time its value is in L1. Keys share a stripe: another key's
//! invalidation costs a fill one needless reload at most, never a stale answer.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::key::PersonKey;

/// Stripes: enough that concurrent fills rarely share one with an invalidation (an import
/// invalidates thousands of keys a chunk), for 32 KiB a process.
const STRIPES: usize = 4096;

/// The invalidation counts of [`STRIPES`] stripes of keys.
pub(super) struct Stamps {
    stripes: Box<[AtomicU64]>,
    hasher: foldhash::fast::FixedState,
}

/// A fill's note of its key's stripe before it read.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stamp {
    stripe: usize,
    count: u64,
}

impl Stamps {
    pub(super) fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    fn stripe(&self, key: &PersonKey) -> usize {
        // The remainder is below STRIPES, so the cast cannot truncate.
        (self.hasher.hash_one(key.as_bytes()) % STRIPES as u64) as usize
    }

    /// Notes `key`'s stripe before a fill reads.
    pub(super) fn note(&self, key: &PersonKey) -> Stamp {
        let stripe = self.stripe(key);
        Stamp { stripe, count: self.stripes[stripe].load(Ordering::SeqCst) }
    }

    /// Counts an invalidation of `key` (before its L1 entry is dropped).
    pub(super) fn bump(&self, key: &PersonKey) {
        self.stripes[self.stripe(key)].fetch_add(1, Ordering::SeqCst);
    }

    /// Counts an invalidation of every key (L1 cleared after a gap in the invalidations).
    pub(super) fn bump_all(&self) {
        for stripe in self.stripes.iter() {
            stripe.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Whether an invalidation on `stamp`'s stripe came after it was noted.
    pub(super) fn moved(&self, stamp: Stamp) -> bool {
        self.stripes[stamp.stripe].load(Ordering::SeqCst) != stamp.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

    fn key(n: u32) -> PersonKey {
        PersonKey::new(&InsurerNumber::parse("435073").unwrap(), &InsuredNumber::parse(&format!("{n:010}")).unwrap())
    }

    #[test]
    fn a_fill_sees_an_invalidation_of_its_key_after_its_note_only() {
        let stamps = Stamps::new();
        stamps.bump(&key(1));
        let noted = stamps.note(&key(1));
        assert!(!stamps.moved(noted), "an invalidation before the read is not the fill's concern");
        stamps.bump(&key(1));
        assert!(stamps.moved(noted));
    }

    #[test]
    fn other_keys_rarely_move_a_fill_and_clearing_moves_every_fill() {
        let stamps = Stamps::new();
        let noted = stamps.note(&key(1));
        let moved = (2..2002).filter(|n| {
            stamps.bump(&key(*n));
            let moved = stamps.moved(noted);
            stamps.stripes[noted.stripe].store(noted.count, Ordering::SeqCst);
            moved
        });
        assert!(moved.count() < 10, "keys spread over the stripes");
        stamps.bump_all();
        assert!(stamps.moved(noted));
    }
}
