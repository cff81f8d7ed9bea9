//! The two-tier cache in front of the database.
//!
//! - **L1**: an in-process moka cache, bounded in bytes, short TTL; unknown persons are kept
//!   briefly as negative entries. Concurrent misses for one key run one load (moka's
//!   per-key initialisation).
//! - **L2**: Redis, each person's whole timeline in the compact form of [`codec`], so any
//!   `as_of` is answered from cache. Persons are spread over hash buckets (`HSET` per bucket):
//!   small hashes are stored as listpacks, far smaller than one key per person.
//! - **Invalidation**: a write deletes the L2 field, publishes the key on a pub/sub channel
//!   every replica listens to and drops its own L1 entry. The outbox event of the same write,
//!   which names the person's version after the write, is consumed later and repeats the
//!   publish, so a change made while Redis was down still reaches L2 and every replica once
//!   Redis is back; it also leaves a tombstone at that version ([`codec::tombstone`], a miss for
//!   every reader) unless L2 already holds that version or a later one (an import wrote it right
//!   after its chunk committed, or a miss reloaded the person after the write). Every write into
//!   L2 compares versions in Redis (one script for the comparison and the write) and never puts
//!   a value older than what the field holds or its tombstone names: a miss that read the person
//!   before the write and puts its value after the event cannot bring the old state back (it
//!   once did, for as long as no other write came). An event of an older build (the key alone)
//!   deletes whatever L2 holds. In L1, each fill checks after its insert whether its key was
//!   invalidated while it read ([`stamps`]) and drops the value if so.
//! - **Access facts** (docs/domain/access.md#facts-copy): each entry carries the person's
//!   registrations and consents, loaded with the timeline on a miss and kept with it in L1
//!   and L2, so a check decides who may see the person without another lookup. A change of
//!   the facts invalidates the person's entry like a write does ([`Cache::facts_changed`]):
//!   L2 values and tombstones carry the facts' stamp next to the person's version, and the
//!   scripts compare both, so facts read before a change (a consent since withdrawn) are never
//!   put back over the change's tombstone.
//! - **Redis down**: L2 is skipped for a short back-off, answers come from L1 and the
//!   database, the outage is logged once and counted; the listener reconnects by itself and
//!   clears L1 (it may have missed invalidations).

pub mod codec;
mod l2;
mod misses;
mod stamps;

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use sea_orm::{DatabaseConnection, DbErr};

use kaigo_platform::access::Facts;
use kaigo_platform::db::ReadPool;

use crate::domain::Timeline;
use crate::key::PersonKey;
use crate::store::{self, PersonDetails};
pub use l2::L2;

/// What L1 holds for a key.
#[derive(Clone, Debug)]
pub enum Entry {
    /// A known person.
    Known(Arc<Cached>),
    /// No such person (negative entry), with whatever access facts the registry has for the
    /// number (a registered office of a person not yet recorded here is told so, not refused).
    Unknown(Arc<Facts>),
}

impl Entry {
    /// The person's access facts.
    pub fn facts(&self) -> &Facts {
        match self {
            Entry::Known(cached) => &cached.access,
            Entry::Unknown(facts) => facts,
        }
    }
}

/// A cached timeline, with the personal details when they were loaded.
#[derive(Debug)]
pub struct Cached {
    /// The timeline.
    pub timeline: Timeline,
    /// Names and birth date: present when loaded from the database.
    pub details: Option<PersonDetails>,
    /// The person's registrations and consents (docs/domain/access.md#facts-copy).
    pub access: Facts,
}

/// Where an answer came from (for metrics and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// In-process.
    L1,
    /// Redis.
    L2,
    /// The database.
    Database,
}

/// Cache sizes and lifetimes.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Whether L1 is used (off only to measure the L2 path).
    pub l1_enabled: bool,
    /// L1 budget in bytes (estimated).
    pub l1_max_bytes: u64,
    /// L1 lifetime of a known person.
    pub l1_ttl: Duration,
    /// L1 lifetime of an unknown person.
    pub negative_ttl: Duration,
}

struct EntryExpiry {
    known: Duration,
    unknown: Duration,
}

impl Expiry<PersonKey, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &PersonKey, value: &Entry, _created_at: Instant) -> Option<Duration> {
        Some(match value {
            Entry::Known(_) => self.known,
            Entry::Unknown(_) => self.unknown,
        })
    }

    fn expire_after_update(
        &self,
        key: &PersonKey,
        value: &Entry,
        updated_at: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, value, updated_at)
    }
}

/// The in-process tier, bounded by the estimated bytes of its entries ([`weight`]).
fn l1_cache(settings: &CacheSettings) -> moka::future::Cache<PersonKey, Entry, foldhash::fast::RandomState> {
    moka::future::Cache::builder()
        .max_capacity(settings.l1_max_bytes)
        .weigher(weight)
        .expire_after(EntryExpiry { known: settings.l1_ttl, unknown: settings.negative_ttl })
        .eviction_listener(count_eviction)
        .build_with_hasher(foldhash::fast::RandomState::default())
}

/// What one L1 entry costs beyond its value: moka's bookkeeping (the key's `Arc`, the value
/// entry, its access-order and write-order nodes, its timer-wheel node for the per-entry
/// expiry, the map's slot) and the allocator's rounding of those allocations. Calibrated by
/// `memory_tests` (loadtest/README.md#l1-memory).
const ENTRY_OVERHEAD: usize = 500;

/// The bytes an L1 entry holds: its bookkeeping, the value behind its `Arc` and every heap
/// buffer the value owns, so that `eligibility.l1_max_bytes` bounds the process's memory.
fn weight(_key: &PersonKey, value: &Entry) -> u32 {
    use std::mem::size_of;
    let bytes = match value {
        Entry::Unknown(facts) => ENTRY_OVERHEAD + 16 + size_of::<Facts>() + facts.weight(),
        Entry::Known(cached) => {
            let records = &cached.timeline.records;
            let record_heap: usize = records.iter().map(|r| detail_heap(&r.detail)).sum();
            let details = cached.details.as_ref().map_or(0, |d| d.name_kanji.capacity() + d.name_kana.capacity());
            ENTRY_OVERHEAD
                + 16
                + size_of::<Cached>()
                + records.capacity() * size_of::<crate::domain::Record>()
                + record_heap
                + details
                + cached.access.weight()
        }
    };
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The heap a record's detail owns (texts and lists).
fn detail_heap(detail: &crate::domain::Detail) -> usize {
    match detail {
        crate::domain::Detail::Certification {
            board_opinion,
            designated_service_types,
            service_type_limits,
            application_id,
            ..
        } => {
            board_opinion.capacity()
                + designated_service_types.capacity() * std::mem::size_of::<String>()
                + designated_service_types.iter().map(String::capacity).sum::<usize>()
                + std::mem::size_of_val(service_type_limits.as_slice())
                + service_type_limits.iter().map(|l| l.service_type.capacity()).sum::<usize>()
                + application_id.capacity()
        }
        _ => 0,
    }
}

struct Metrics {
    lookups: Counter<u64>,
}

/// Counts an L1 entry dropped for room (`cause="size"`: over `l1_max_bytes`) or age
/// (`cause="expired"`) in `kaigo.eligibility.cache.evictions`; invalidations and replacements
/// are not evictions.
fn count_eviction(_key: Arc<PersonKey>, _value: Entry, cause: moka::notification::RemovalCause) {
    static EVICTIONS: std::sync::OnceLock<Counter<u64>> = std::sync::OnceLock::new();
    let Some(cause) = eviction_label(cause) else { return };
    EVICTIONS
        .get_or_init(|| {
            opentelemetry::global::meter("kaigo-eligibility")
                .u64_counter("kaigo.eligibility.cache.evictions")
                .with_description("L1 entries evicted for room or age")
                .build()
        })
        .add(1, &[KeyValue::new("cause", cause)]);
}

/// The `cause` label of an eviction; `None` for removals that are not evictions.
fn eviction_label(cause: moka::notification::RemovalCause) -> Option<&'static str> {
    use moka::notification::RemovalCause;
    match cause {
        RemovalCause::Size => Some("size"),
        RemovalCause::Expired => Some("expired"),
        RemovalCause::Explicit | RemovalCause::Replaced => None,
    }
}

/// The eligibility cache.
#[derive(Clone)]
pub struct Cache {
    /// foldhash, not the default SipHash: a lookup's hashing was a tenth of a batch check
    /// (loadtest/README.md#batch-profile); its seed is random per process.
    l1: moka::future::Cache<PersonKey, Entry, foldhash::fast::RandomState>,
    l1_enabled: bool,
    l2: Option<L2>,
    /// Where misses and details are read: a replica unless the person has a write it has not
    /// replayed (docs/architecture.md#read-replicas); every invalidation fences the person.
    reads: ReadPool,
    /// The misses being read from the database, together while they wait ([`misses`]).
    misses: Arc<misses::Misses>,
    /// Invalidations counted per stripe of keys, so a fill drops a value an invalidation
    /// overtook ([`stamps`]).
    stamps: Arc<stamps::Stamps>,
    metrics: Arc<Metrics>,
}

impl Cache {
    /// A cache over the service's database `db`, with Redis as L2 when given.
    pub fn new(db: DatabaseConnection, l2: Option<L2>, settings: &CacheSettings) -> Self {
        let l1 = l1_cache(settings);
        let meter = opentelemetry::global::meter("kaigo-eligibility");
        let metrics = Metrics {
            lookups: meter
                .u64_counter("kaigo.eligibility.cache.lookups")
                .with_description("timeline lookups by tier")
                .build(),
        };
        let reads = ReadPool::primary_only(db);
        let misses = Arc::new(misses::Misses::new());
        let stamps = Arc::new(stamps::Stamps::new());
        Self { l1, l1_enabled: settings.l1_enabled, l2, reads, misses, stamps, metrics: Arc::new(metrics) }
    }

    /// Reads misses and details through `reads` (the service's replicas) instead.
    pub fn with_reads(mut self, reads: ReadPool) -> Self {
        self.reads = reads;
        self
    }

    /// Where this cache reads (GetEligibilityHistory reads there too).
    pub fn reads(&self) -> &ReadPool {
        &self.reads
    }

    /// The L2 tier, when configured.
    pub fn l2(&self) -> Option<&L2> {
        self.l2.as_ref()
    }

    /// The timeline of `key`, from the fastest tier that has it.
    pub async fn get(&self, key: PersonKey) -> Result<(Entry, Tier), Arc<sea_orm::DbErr>> {
        if self.l1_enabled
            && let Some(entry) = self.l1.get(&key).await
        {
            self.count(Tier::L1);
            return Ok((entry, Tier::L1));
        }
        // Boxed: an async fn's future is as large as its largest state, and every caller's
        // future holds it. Inline, the L2 and database reads made every L1 hit's future
        // (the hot path's) several KiB, moved in memory at each step of the call.
        Box::pin(self.get_below_l1(key)).await
    }

    /// [`Cache::get`] after L1 had nothing: L2, then the database, filling L1 on the way.
    async fn get_below_l1(&self, key: PersonKey) -> Result<(Entry, Tier), Arc<sea_orm::DbErr>> {
        if !self.l1_enabled {
            return self.load_below_l1(key).await;
        }
        let mut tier = Tier::L1;
        let noted = self.stamps.note(&key);
        let entry = self
            .l1
            .try_get_with(key, async {
                if let Some(l2) = &self.l2
                    && let Some((timeline, access, details)) = l2.get(&key).await
                {
                    tier = Tier::L2;
                    return Ok(Entry::Known(Arc::new(Cached { timeline, details, access })));
                }
                tier = Tier::Database;
                self.load(key).await
            })
            .await
            .map_err(|shared: Arc<Arc<sea_orm::DbErr>>| Arc::clone(&*shared))?;
        self.drop_if_overtaken(&key, noted).await;
        self.count(tier);
        Ok((entry, tier))
    }

    /// Drops `key` from L1 again if an invalidation of its stripe came after `noted` (taken
    /// before the value now in L1 was read): that value may be older than the write the
    /// invalidation announced ([`stamps`]). The caller's own answer stands: its call overlapped
    /// the write.
    async fn drop_if_overtaken(&self, key: &PersonKey, noted: stamps::Stamp) {
        if self.stamps.moved(noted) {
            self.l1.invalidate(key).await;
        }
    }

    /// The person's timeline and access facts from the database, put into L2 on the way: read
    /// together with the other misses waiting at the same time ([`misses`]).
    async fn load(&self, key: PersonKey) -> Result<Entry, Arc<sea_orm::DbErr>> {
        self.misses.load(key, &self.reads, self.l2.as_ref()).await
    }

    /// L2, then the database, without L1 (for measuring the L2 path).
    async fn load_below_l1(&self, key: PersonKey) -> Result<(Entry, Tier), Arc<sea_orm::DbErr>> {
        if let Some(l2) = &self.l2
            && let Some((timeline, access, details)) = l2.get(&key).await
        {
            self.count(Tier::L2);
            return Ok((Entry::Known(Arc::new(Cached { timeline, details, access })), Tier::L2));
        }
        self.count(Tier::Database);
        Ok((self.load(key).await?, Tier::Database))
    }

    /// The personal details of a known person: from L1 when loaded, else the database (and
    /// then kept in L1 with the timeline).
    pub async fn details(&self, key: PersonKey, cached: &Arc<Cached>) -> Result<Option<PersonDetails>, sea_orm::DbErr> {
        if let Some(details) = &cached.details {
            return Ok(Some(details.clone()));
        }
        let noted = self.stamps.note(&key);
        let conn = self.reads.for_key(key.as_bytes());
        let Some(person) = store::find_person(&conn, &key).await? else { return Ok(None) };
        let details = crate::store::details_of(&person);
        // Only keep it if the timeline is still current (same version). An L2 value written
        // without the details (an older build, a rotated key) gets them, so the next L2 hit
        // needs no database read.
        if person.version == cached.timeline.person.version {
            if let Some(l2) = &self.l2
                && l2.seals_details()
            {
                l2.put(&key, &cached.timeline, &cached.access, Some(&details)).await;
            }
            let upgraded = Cached {
                timeline: cached.timeline.clone(),
                details: Some(details.clone()),
                access: cached.access.clone(),
            };
            self.l1.insert(key, Entry::Known(Arc::new(upgraded))).await;
            self.drop_if_overtaken(&key, noted).await;
        }
        Ok(Some(details))
    }

    /// Drops `key` here, in Redis, and (through pub/sub) in every replica's L1.
    ///
    /// Redis first, then L1: an L1 miss between the two would otherwise reload the old value
    /// from L2. The L1 drop is counted first ([`stamps`]), so a fill under way drops its value.
    pub async fn invalidate(&self, key: &PersonKey) {
        self.reads.fence(key.as_bytes());
        if let Some(l2) = &self.l2 {
            l2.invalidate(key).await;
        }
        self.drop_local(key).await;
    }

    /// Counts the invalidation of `key`, then drops its L1 entry.
    async fn drop_local(&self, key: &PersonKey) {
        self.stamps.bump(key);
        self.l1.invalidate(key).await;
    }

    /// Like [`Cache::invalidate`], but L2's part is tried even during its back-off; returns
    /// whether Redis took it (always true without L2). The outbox consumer retries until it
    /// does, so a write's invalidation lost to a Redis outage or failover still arrives.
    ///
    /// `version` is the person's version the write left (its `eligibility.changed` event says
    /// so): L2 keeps a value at that version or later ([`L2::invalidate_confirmed_many`]), which
    /// an import's fill or a miss after the write put there. Without one (an event of an older
    /// build) L2's value is deleted whatever it holds. Every replica's L1 entry is dropped
    /// either way.
    pub async fn invalidate_confirmed(&self, key: &PersonKey, version: Option<i64>) -> bool {
        let at = version.map(|person| codec::Versions { person, facts: 0 });
        self.invalidate_confirmed_many(&[(*key, at)]).await
    }

    /// [`Cache::invalidate_confirmed`] for many persons at once (the `eligibility.changed`
    /// events a consumer read together), each at the person's version or the facts' stamp
    /// the change left: L2's part in one round trip for those whose versions are known
    /// ([`L2::invalidate_confirmed_many`]), one by one for events of an older build. Returns
    /// whether Redis took all of it.
    pub async fn invalidate_confirmed_many(&self, items: &[(PersonKey, Option<codec::Versions>)]) -> bool {
        for (key, _) in items {
            self.reads.fence(key.as_bytes());
        }
        let mut taken = true;
        if let Some(l2) = &self.l2 {
            let versioned: Vec<(PersonKey, codec::Versions)> =
                items.iter().filter_map(|(key, at)| at.map(|at| (*key, at))).collect();
            taken = l2.invalidate_confirmed_many(&versioned).await;
            for (key, _) in items.iter().filter(|(_, version)| version.is_none()) {
                taken &= l2.invalidate_confirmed(key).await;
            }
        }
        for (key, _) in items {
            self.drop_local(key).await;
        }
        taken
    }

    /// The access facts of `keys` changed (docs/domain/access.md#facts-copy): their entries are
    /// dropped everywhere, and L2 gets a tombstone at each person's facts stamp as the primary
    /// holds it now, after the change committed ([`L2::invalidate_confirmed_many`]). A miss
    /// that read the facts before the change and puts its value later holds a lower stamp and
    /// is refused: a withdrawn consent never comes back from L2.
    ///
    /// `confirmed`: L2's part is tried even while it rests, and the answer says whether Redis
    /// took it (the outbox consumer retries until it does); otherwise (the moment the change
    /// commits) a resting L2 is skipped and only this replica's L1 is dropped. `Err` when the
    /// stamps could not be read.
    pub async fn facts_changed(&self, keys: &[PersonKey], confirmed: bool) -> Result<bool, DbErr> {
        let redis_takes_it = self.l2.as_ref().is_some_and(|l2| confirmed || !l2.resting());
        if !redis_takes_it {
            for key in keys {
                self.invalidate_local(key).await;
            }
            return Ok(true);
        }
        let facts = store::access_facts_many(self.reads.primary(), keys).await?;
        let items: Vec<(PersonKey, Option<codec::Versions>)> = keys
            .iter()
            .map(|key| {
                let stamp = facts.get(key).map_or(0, |f| f.stamp);
                (*key, Some(codec::Versions { person: 0, facts: stamp }))
            })
            .collect();
        Ok(self.invalidate_confirmed_many(&items).await)
    }

    /// Drops `key` from this process's L1 only (a pub/sub message from another replica), and
    /// reads the person from the primary until the replicas have replayed that write.
    pub async fn invalidate_local(&self, key: &PersonKey) {
        self.reads.fence(key.as_bytes());
        self.drop_local(key).await;
    }

    /// Drops every L1 entry (after a gap in pub/sub delivery), and reads from the primary until
    /// the replicas have replayed every write made so far (the missed ones among them).
    pub fn invalidate_all_local(&self) {
        self.reads.fence_all();
        self.stamps.bump_all();
        self.l1.invalidate_all();
    }

    /// The entry L1 holds for `key`, without loading it on a miss: a batch answers such
    /// entries in place and sends only the others to L2 and the database concurrently.
    pub async fn get_l1(&self, key: &PersonKey) -> Option<Entry> {
        if !self.l1_enabled {
            return None;
        }
        let entry = self.l1.get(key).await?;
        self.count(Tier::L1);
        Some(entry)
    }

    /// The entries of `keys` that L2 holds, read in one round trip ([`L2::get_many`]) and kept
    /// in L1: a batch's L1 misses. `None` where L2 has none; [`Cache::load_missing`] reads those.
    /// (An invalidation between the read and the L1 insert drops the entry again: [`stamps`].)
    pub async fn get_many_from_l2(&self, keys: &[PersonKey]) -> Vec<Option<Entry>> {
        let Some(l2) = &self.l2 else { return vec![None; keys.len()] };
        let noted: Vec<stamps::Stamp> = keys.iter().map(|key| self.stamps.note(key)).collect();
        let mut entries = Vec::with_capacity(keys.len());
        for ((key, value), noted) in keys.iter().zip(l2.get_many(keys).await).zip(noted) {
            let entry =
                value.map(|(timeline, access, details)| Entry::Known(Arc::new(Cached { timeline, details, access })));
            if let Some(entry) = &entry {
                self.count(Tier::L2);
                if self.l1_enabled {
                    self.l1.insert(*key, entry.clone()).await;
                    self.drop_if_overtaken(key, noted).await;
                }
            }
            entries.push(entry);
        }
        entries
    }

    /// The entry of `key` from the database, when L2 was asked and has none: kept in L1 and
    /// put into L2 on the way, read together with the other misses ([`misses`]).
    pub async fn load_missing(&self, key: PersonKey) -> Result<Entry, Arc<sea_orm::DbErr>> {
        self.count(Tier::Database);
        if !self.l1_enabled {
            return self.load(key).await;
        }
        let noted = self.stamps.note(&key);
        let entry = self
            .l1
            .try_get_with(key, self.load(key))
            .await
            .map_err(|shared: Arc<Arc<sea_orm::DbErr>>| Arc::clone(&*shared))?;
        self.drop_if_overtaken(&key, noted).await;
        Ok(entry)
    }

    /// The number of L1 entries (approximate; for tests and metrics).
    pub fn l1_len(&self) -> u64 {
        self.l1.entry_count()
    }

    fn count(&self, tier: Tier) {
        let name = match tier {
            Tier::L1 => "l1",
            Tier::L2 => "l2",
            Tier::Database => "database",
        };
        self.metrics.lookups.add(1, &[KeyValue::new("tier", name)]);
    }
}

#[cfg(test)]
mod memory_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use moka::notification::RemovalCause;

    #[test]
    fn only_room_and_age_are_evictions() {
        assert_eq!(eviction_label(RemovalCause::Size), Some("size"));
        assert_eq!(eviction_label(RemovalCause::Expired), Some("expired"));
        assert_eq!(eviction_label(RemovalCause::Explicit), None);
        assert_eq!(eviction_label(RemovalCause::Replaced), None);
    }
}
