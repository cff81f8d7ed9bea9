use std::time::{Duration, Instant};

use super::*;

#[test]
fn positions_parse_as_postgres_prints_them() {
    assert_eq!(parse_lsn("0/0"), Some(0));
    assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
    assert_eq!(parse_lsn("FFFFFFFF/FFFFFFFF"), Some(u64::MAX));
    for bad in ["", "16", "16/", "/1", "x/1", "100000000/0", "1/100000000"] {
        assert_eq!(parse_lsn(bad), None, "{bad}");
    }
}

#[test]
fn a_fenced_key_reads_the_primary_until_its_write_has_a_position_then_a_replica_past_it() {
    let t0 = Instant::now();
    let mut fences = Fences::new(10);
    assert_eq!(fences.required(Some(b"p1".as_slice())), Some(0), "nothing written: any replica");
    fences.fence(b"p1", t0);
    assert_eq!(fences.required(Some(b"p1".as_slice())), None, "pending: the primary");
    assert_eq!(fences.required(Some(b"p2".as_slice())), Some(0), "another key is not held back");
    assert_eq!(fences.required(None), Some(0));
    // A sample taken before the write does not resolve it.
    fences.resolve(t0 - Duration::from_millis(1), 100);
    assert_eq!(fences.required(Some(b"p1".as_slice())), None);
    fences.resolve(t0 + Duration::from_millis(1), 500);
    assert_eq!(fences.required(Some(b"p1".as_slice())), Some(500));
    // A replica at 499 is not past it; pruning at 499 keeps it, at 500 forgets it.
    fences.prune(499);
    assert_eq!(fences.required(Some(b"p1".as_slice())), Some(500));
    fences.prune(500);
    assert_eq!(fences.required(Some(b"p1".as_slice())), Some(0));
    assert_eq!(fences.len(), 0);
}

#[test]
fn a_second_write_to_a_key_waits_for_the_later_position() {
    let t0 = Instant::now();
    let mut fences = Fences::new(10);
    fences.fence(b"p1", t0);
    fences.resolve(t0 + Duration::from_millis(1), 500);
    fences.fence(b"p1", t0 + Duration::from_millis(2));
    assert_eq!(fences.required(Some(b"p1".as_slice())), None);
    fences.resolve(t0 + Duration::from_millis(3), 900);
    assert_eq!(fences.required(Some(b"p1".as_slice())), Some(900));
}

#[test]
fn a_full_map_folds_into_one_fence_every_read_waits_for() {
    let t0 = Instant::now();
    let mut fences = Fences::new(2);
    fences.fence(b"p1", t0);
    fences.fence(b"p2", t0);
    fences.resolve(t0 + Duration::from_millis(1), 100);
    fences.fence(b"p3", t0 + Duration::from_millis(2));
    // p1 and p2 were forgotten by key, but every read (theirs too) now waits for the fold.
    assert!(fences.len() <= 2);
    assert_eq!(fences.required(Some(b"p1".as_slice())), None);
    assert_eq!(fences.required(None), None);
    fences.resolve(t0 + Duration::from_millis(3), 300);
    assert_eq!(fences.required(Some(b"p1".as_slice())), Some(300));
    assert_eq!(fences.required(Some(b"other".as_slice())), Some(300));
    fences.prune(300);
    assert_eq!(fences.required(Some(b"p1".as_slice())), Some(0));
    assert_eq!(fences.required(Some(b"p3".as_slice())), Some(0));
}

#[test]
fn fence_all_holds_every_key_back_until_resolved_and_replayed() {
    let t0 = Instant::now();
    let mut fences = Fences::new(10);
    fences.fence_all(t0);
    assert_eq!(fences.required(Some(b"anyone".as_slice())), None);
    fences.resolve(t0, 42);
    assert_eq!(fences.required(Some(b"anyone".as_slice())), Some(42));
    fences.prune(41);
    assert_eq!(fences.required(None), Some(42));
    fences.prune(42);
    assert_eq!(fences.required(None), Some(0));
}

#[test]
fn a_replica_is_caught_up_to_the_newest_sample_its_replay_has_reached() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut samples = Samples::new(ms(1_000));
    assert_eq!(samples.caught_up(0), None, "no sample yet: unknown");
    samples.push(t0, 100);
    samples.push(t0 + ms(500), 200);
    samples.push(t0 + ms(1_000), 200);
    samples.push(t0 + ms(1_500), 300);
    assert_eq!(samples.caught_up(99), None);
    assert_eq!(samples.caught_up(150), Some(t0));
    assert_eq!(samples.caught_up(200), Some(t0 + ms(1_000)), "idle primary: the newest equal sample");
    assert_eq!(samples.caught_up(10_000), Some(t0 + ms(1_500)));
    // Old samples go, keeping one older than the window.
    samples.push(t0 + ms(3_000), 400);
    assert_eq!(samples.caught_up(150), None);
    assert_eq!(samples.caught_up(300), Some(t0 + ms(1_500)));
}

#[test]
fn a_replica_serves_only_when_healthy_fresh_and_past_the_fence() {
    let now = Instant::now();
    let fresh = Duration::from_secs(2);
    let state = ReplicaState { healthy: true, replay: 500, checked: Some(now) };
    assert!(state.serves(0, now, fresh));
    assert!(state.serves(500, now, fresh));
    assert!(!state.serves(501, now, fresh));
    assert!(!state.serves(0, now + Duration::from_secs(3), fresh), "a check too old is not trusted");
    assert!(!ReplicaState { healthy: false, ..state }.serves(0, now, fresh));
    assert!(!ReplicaState { checked: None, ..state }.serves(0, now, fresh));
}
