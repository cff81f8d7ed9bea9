//! Personal details in L2: cached sealed, so an L2 hit answers a caller who sees names without
//! reading the database, while Redis itself never holds a name or a birth date readable.

use std::time::Duration;

use kaigo_eligibility::Config;
use kaigo_eligibility::cache::{L2, codec};
use kaigo_eligibility::key::PersonKey;
use kaigo_platform::config::Secret;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::redis::RedisHandle;
use kaigo_platform::seal::SealSecrets;
use kaigo_platform::testkit::{TEST_SEAL_SECRET, TestDatabase, TestRedis};

use crate::support::*;

const PURPOSE: &str = "eligibility.l2.details";

#[tokio::test]
async fn details_are_cached_sealed_and_an_l2_hit_answers_with_them() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let a = Server::start(&db, Some(redis.config())).await;
    let mut client = a.client(insurer(INSURER)).await;
    create_person(&mut client, "0000000310").await;
    // The first check loads the person from the database and fills L2.
    let first = check(&mut client, "0000000310", date(2025, 6, 1)).await;
    assert_eq!(first.person.as_ref().map(|p| p.name_kanji.as_str()), Some("介護 花子"));

    let key = PersonKey::new(&InsurerNumber::parse(INSURER).unwrap(), &InsuredNumber::parse("0000000310").unwrap());
    let l2 = a.api.cache().l2().unwrap().clone();
    let raw: Vec<u8> = {
        let mut conn = l2.redis().conn();
        redis::AsyncCommands::hget(&mut conn, l2.bucket_key(&key), key.as_bytes().as_slice()).await.unwrap()
    };
    assert!(!raw.is_empty(), "the check filled L2");
    for plain in ["介護 花子", "カイゴ ハナコ", "介護", "ハナコ"] {
        assert!(!contains(&raw, plain.as_bytes()), "Redis holds {plain} readable");
    }
    let decoded = codec::decode_full(&raw).unwrap();
    assert!(!decoded.sealed_details.is_empty(), "the details travel sealed");

    // Through L2 alone (as another replica whose L1 does not hold the person): the details open.
    let (_, _, details) = l2.get(&key).await.unwrap();
    let details = details.expect("the sealed details open under the service's key");
    assert_eq!((details.name_kanji.as_str(), details.name_kana.as_str()), ("介護 花子", "カイゴ ハナコ"));
    assert_eq!(details.birth_date, Some(chrono::NaiveDate::from_ymd_opt(1950, 5, 3).unwrap()));

    // An L2 hit answers the caller in full: the same names as the database gave.
    a.api.cache().invalidate_local(&key).await;
    let again = check(&mut client, "0000000310", date(2025, 6, 1)).await;
    assert_eq!(again.person, first.person);

    // A process with another secret, or none, reads the timeline but never the details.
    let handle = RedisHandle::connect(&redis.config()).await.unwrap().unwrap();
    let buckets = Config::default().l2_buckets;
    let timeout = Duration::from_secs(2);
    let foreign = SealSecrets::new(&Secret::new("another-deployments-secret-of-32-bytes"), &Secret::default());
    let other_key = L2::new(handle.clone(), buckets, timeout, foreign.sealer(PURPOSE));
    let (timeline, _, details) = other_key.get(&key).await.unwrap();
    assert_eq!(details, None);
    assert!(timeline.person.version > 0);
    let without = L2::new(handle.clone(), buckets, timeout, None);
    assert_eq!(without.get(&key).await.unwrap().2, None);

    // During a rotation (the old secret now the previous one) the values still open.
    let rotated =
        SealSecrets::new(&Secret::new("the-next-internal-secret-of-32-bytes"), &Secret::new(TEST_SEAL_SECRET));
    let rotating = L2::new(handle, buckets, timeout, rotated.sealer(PURPOSE));
    assert!(rotating.get(&key).await.unwrap().2.is_some());
    a.stop().await;
}

#[tokio::test]
async fn a_sealed_value_copied_to_another_persons_field_does_not_open() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let a = Server::start(&db, Some(redis.config())).await;
    let mut client = a.client(insurer(INSURER)).await;
    create_person(&mut client, "0000000311").await;
    create_person(&mut client, "0000000312").await;
    check(&mut client, "0000000311", date(2025, 6, 1)).await;
    let key = |n: &str| PersonKey::new(&InsurerNumber::parse(INSURER).unwrap(), &InsuredNumber::parse(n).unwrap());
    let (from, to) = (key("0000000311"), key("0000000312"));
    let l2 = a.api.cache().l2().unwrap().clone();
    let mut conn = l2.redis().conn();
    let raw: Vec<u8> =
        redis::AsyncCommands::hget(&mut conn, l2.bucket_key(&from), from.as_bytes().as_slice()).await.unwrap();
    let _: i64 =
        redis::AsyncCommands::hset(&mut conn, l2.bucket_key(&to), to.as_bytes().as_slice(), raw).await.unwrap();
    let (_, _, details) = l2.get(&to).await.unwrap();
    assert_eq!(details, None, "details bound to person 311 must not open as 312's");
    a.stop().await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
