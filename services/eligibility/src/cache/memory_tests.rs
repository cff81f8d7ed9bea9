//! L1 is bounded by the bytes its entries are estimated to hold ([`super::weight`]); the
//! estimate must be the memory the process really spends on them, or `eligibility.l1_max_bytes`
//! does not bound the process. Measured as resident memory grown while the production L1
//! (`l1_cache`) takes national-mix persons with their names, as a miss from the database
//! leaves them (loadtest/README.md#l1-memory).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use kaigo_platform::access::Facts;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};

use super::{CacheSettings, Cached, Entry, l1_cache, weight};
use crate::key::PersonKey;
use crate::store::PersonDetails;

/// Resident bytes of this process (Linux).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

#[tokio::test(flavor = "current_thread")]
async fn the_l1_estimate_is_the_memory_its_entries_take() {
    const PERSONS: u64 = 100_000;
    let settings = CacheSettings {
        l1_enabled: true,
        // Room for all: this measures entries, not evictions.
        l1_max_bytes: 16 << 30,
        l1_ttl: Duration::from_secs(3600),
        negative_ttl: Duration::from_secs(3600),
    };
    let insurer = InsurerNumber::parse("435073").unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let l1 = l1_cache(&settings);
    let before = resident_bytes();
    let mut estimated: u64 = 0;
    let mut first = 1;
    while first <= PERSONS {
        for s in crate::seed::generate(&insurer, first, 10_000, first, today) {
            let key = PersonKey::new(&insurer, &InsuredNumber::parse(&s.person.insured_number).unwrap());
            let cached = Cached {
                timeline: s.timeline(),
                details: Some(PersonDetails {
                    name_kanji: s.person.name_kanji.clone(),
                    name_kana: s.person.name_kana.clone(),
                    birth_date: s.person.birth_date,
                    sex: s.person.sex,
                }),
                access: Facts::default(),
            };
            let entry = Entry::Known(Arc::new(cached));
            estimated += u64::from(weight(&key, &entry));
            l1.insert(key, entry).await;
        }
        first += 10_000;
    }
    l1.run_pending_tasks().await;
    assert_eq!(l1.entry_count(), PERSONS);
    let grown = resident_bytes().saturating_sub(before);
    let (per_entry, estimate) = (grown / PERSONS, estimated / PERSONS);
    println!("L1: {per_entry} bytes resident per entry, {estimate} estimated");
    // The estimate may be somewhat high (a bound that holds), never low.
    assert!(
        estimate >= per_entry && estimate <= per_entry * 3 / 2,
        "estimated {estimate} bytes an entry, resident {per_entry}"
    );
}
