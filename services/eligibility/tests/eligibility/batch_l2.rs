//! A batch's L1 misses are asked of L2 in one round trip (`Cache::get_many_from_l2`), and only
//! the persons L2 lacks are read from the database — without asking L2 for them again. The
//! answers are the same whichever tier gave them.

use kaigo_eligibility::Config;
use kaigo_platform::testkit::TestDatabase;
use kaigo_proto::kaigo::eligibility::v1 as pb;

use crate::support::*;

/// Calls of `command` the private Redis has run since its statistics were last reset (a
/// script's own commands included).
async fn calls(url: &str, command: &str) -> u64 {
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let stats: String = redis::cmd("INFO").arg("commandstats").query_async(&mut conn).await.unwrap();
    stats
        .lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

/// `HGET`s asked of L2 by readers, and the values put into L2 since the statistics were last
/// reset: each put is a script whose own `HGET` reads the version it compares before its
/// `HSET` (none is refused here).
async fn hgets_and_puts(url: &str) -> (u64, u64) {
    let puts = calls(url, "hset").await;
    (calls(url, "hget").await - puts, puts)
}

async fn reset_stats(url: &str) {
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query_async(&mut conn).await.unwrap();
}

async fn batch(client: &mut Client, numbers: &[String]) -> Vec<pb::BatchCheckEligibilityEntry> {
    let queries = numbers
        .iter()
        .map(|insured| pb::EligibilityQuery {
            insurer_number: INSURER.into(),
            insured_number: insured.clone(),
            ..Default::default()
        })
        .collect();
    client
        .batch_check_eligibility(pb::BatchCheckEligibilityRequest { queries, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries
}

#[tokio::test]
async fn a_batch_asks_l2_once_per_person_and_reads_only_what_l2_lacks_from_the_database() {
    let port = kaigo_platform::testkit::free_port();
    let redis = crate::cache::PrivateRedis::start(port);
    redis.wait_ready().await;
    let url = format!("redis://127.0.0.1:{port}");
    let db = TestDatabase::create().await;
    // L1 off: every check of the batch goes below L1.
    let config = Config { l1_enabled: false, l2_timeout_ms: 2_000, ..Config::default() };
    let server = Server::start_with(&db, redis.config(), &config).await;
    let mut client = server.client(insurer(INSURER)).await;
    let numbers: Vec<String> = (1..=40).map(|n| format!("{:010}", 700 + n)).collect();
    for insured in &numbers[..30] {
        create_person(&mut client, insured).await;
    }
    // Half the persons are in L2 (a check of each put them there), the other half not yet,
    // and the last ten are not insured here at all.
    for insured in &numbers[..15] {
        client
            .check_eligibility(pb::CheckEligibilityRequest {
                insurer_number: INSURER.into(),
                insured_number: insured.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    // The creates' eligibility.changed events read L2 too (the consumer compares versions):
    // let them finish before counting.
    let outbox = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    changed_events_handled(&outbox, server.api.cache().l2().unwrap().redis(), "the creates' events were handled").await;
    reset_stats(&url).await;
    let first = batch(&mut client, &numbers).await;
    assert_eq!(hgets_and_puts(&url).await, (40, 15), "each person asked of L2 once; the known misses put");
    // What the database read went into L2: the same batch again is all L2 for the known persons.
    reset_stats(&url).await;
    let second = batch(&mut client, &numbers).await;
    assert_eq!(hgets_and_puts(&url).await, (40, 0));
    assert_eq!(first, second, "the same answers from L2 as from the database");

    use pb::batch_check_eligibility_entry::Outcome;
    for (i, entry) in second.iter().enumerate() {
        let Some(Outcome::Result(result)) = &entry.outcome else { panic!("entry {i}: {:?}", entry.outcome) };
        assert_eq!(result.insured_number, numbers[i]);
        let expected = if i < 30 { pb::EligibilityVerdict::NotCertified } else { pb::EligibilityVerdict::NotInsured };
        assert_eq!(result.verdict, expected as i32, "entry {i}");
        assert_eq!(result.person.is_some(), i < 30, "the insurer sees its insured's details, entry {i}");
    }
    server.stop().await;
}
