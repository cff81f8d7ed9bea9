//! The `eligibility.changed` consumer: an event (or its redelivery) tombstones an L2 value older
//! than the version it names (a miss for every reader, and no older value is written over it),
//! keeps one as new or newer (an import's fill), and deletes whatever L2 holds for an event of
//! an older build (the key alone).

use kaigo_eligibility::cache::codec::Versions;
use kaigo_eligibility::cache::{Entry, Tier, codec};
use kaigo_eligibility::key::PersonKey;
use kaigo_eligibility::seed::generate;
use kaigo_eligibility::store::write::{
    Announced, CHANGED_TOPIC, changed_event, changed_payload, facts_changed_event, facts_changed_payload,
    parse_changed_payload,
};
use kaigo_platform::events::{NewEvent, enqueue};
use kaigo_platform::ids::InsurerNumber;
use kaigo_platform::testkit::{TestDatabase, TestRedis};
use kaigo_proto::kaigo::eligibility::v1 as pb;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::import::{extract, import, in_l2, key};
use crate::support::*;

/// Waits until the cache consumer has handled every `eligibility.changed` event.
async fn events_handled(outbox: &DatabaseConnection, server: &Server) {
    changed_events_handled(outbox, server.api.cache().l2().unwrap().redis(), "the events were handled").await;
}

/// The payload of the last `eligibility.changed` event enqueued for `person`.
async fn last_changed_payload_of(outbox: &DatabaseConnection, person: &PersonKey) -> Vec<u8> {
    let rows = outbox
        .query_all_raw(Statement::from_string(
            outbox.get_database_backend(),
            format!("SELECT payload FROM outbox WHERE topic = '{CHANGED_TOPIC}' ORDER BY seq"),
        ))
        .await
        .unwrap();
    let payloads = rows.iter().map(|row| row.try_get::<Vec<u8>>("", "payload").unwrap());
    payloads.filter(|p| p.starts_with(person.as_bytes())).last().expect("an event of the person")
}

#[test]
fn the_payload_names_the_key_and_the_version_and_an_old_one_the_key_alone() {
    let person = key("0000000042");
    assert_eq!(changed_payload(&person, 7), b"4350730000000042:7");
    assert_eq!(parse_changed_payload(&changed_payload(&person, 123_456)), Some((person, Announced::Version(123_456))));
    assert_eq!(
        parse_changed_payload(person.as_bytes()),
        Some((person, Announced::Unversioned)),
        "an older build's event"
    );
    assert_eq!(changed_event(&person, 3).key, INSURER, "partitioned by the insurer, as before");
    // A version that does not parse: the key with an unknown version (deleted as before).
    for suffix in [&b":"[..], b":x1", b":-1", b";7", b":99999999999999999999"] {
        let mut payload = person.as_bytes().to_vec();
        payload.extend_from_slice(suffix);
        assert_eq!(parse_changed_payload(&payload), Some((person, Announced::Unversioned)));
    }
    assert_eq!(parse_changed_payload(b"not a key at all"), None);
    assert_eq!(parse_changed_payload(b""), None);
    // A change of the person's access facts.
    assert_eq!(facts_changed_payload(&person), b"4350730000000042:facts");
    assert_eq!(parse_changed_payload(&facts_changed_payload(&person)), Some((person, Announced::Facts)));
    assert_eq!(facts_changed_event(&person).key, INSURER);
}

/// The race the facts' stamp closes (docs/domain/access.md#facts-copy): a miss reads the person
/// with an office's consent, the consent is withdrawn and the change handled, and only then
/// does the miss put what it read into L2. The value is refused and the office stays refused.
/// The change's own `eligibility.changed` event repeats the invalidation, which replaces an
/// older value that got into L2 before it.
#[tokio::test]
async fn a_consent_read_before_its_withdrawal_is_not_put_back_into_l2() {
    use kaigo_platform::access::{Category, OrganizationKind};
    use kaigo_platform::testkit::access as facts;
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let outbox = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    let mut municipality = server.client(insurer(INSURER)).await;
    create_person(&mut municipality, "0000000720").await;
    let start = chrono::NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
    facts::register(&server.feed, OrganizationKind::CareOffice, OFFICE, INSURER, "0000000720", start).await;
    let consent = facts::consent(
        &server.feed,
        OrganizationKind::CareOffice,
        OFFICE,
        INSURER,
        "0000000720",
        &Category::ALL,
        start,
    )
    .await;
    events_handled(&outbox, &server).await;
    let person = key("0000000720");
    let cache = server.api.cache();
    let l2 = cache.l2().unwrap();
    let mut office_client = server.client(office(kaigo_platform::auth::Role::CareOffice, OFFICE)).await;
    let today = kaigo_platform::time::today_jst();
    let ask = pb::CheckEligibilityRequest {
        insurer_number: INSURER.into(),
        insured_number: "0000000720".into(),
        as_of: Some(kaigo_proto::from_naive_date(today)),
        ..Default::default()
    };
    assert!(office_client.check_eligibility(ask.clone()).await.is_ok(), "the office is served before");

    // A miss reads the person with the consent (two rows at version 1: stamp 2).
    cache.invalidate_local(&person).await;
    let _: i64 =
        redis::AsyncCommands::hdel(&mut l2.redis().conn(), l2.bucket_key(&person), person.as_bytes().as_slice())
            .await
            .unwrap();
    let (entry, tier) = cache.get(person).await.unwrap();
    assert_eq!(tier, Tier::Database);
    let Entry::Known(read) = entry else { panic!("a known person") };
    assert_eq!(read.access.stamp, 2);
    assert!(read.access.consents[0].withdrawn_on.is_none());

    // The withdrawal (version 2 of the consent) is applied and its invalidation handled...
    facts::withdraw(&server.feed, &consent, chrono::Utc::now()).await;
    events_handled(&outbox, &server).await;
    assert_eq!(
        parse_changed_payload(&last_changed_payload_of(&outbox, &person).await),
        Some((person, Announced::Facts)),
        "the change is recorded in the outbox with the copy's change"
    );
    // ...and only then does the miss put what it read: refused.
    l2.put(&person, &read.timeline, &read.access, None).await;
    let held = in_l2(&server, "0000000720").await.expect("a tombstone");
    assert_eq!(codec::versions_of(&held).map(|at| at.facts), Some(3), "at the stamp after the withdrawal");
    assert!(l2.get(&person).await.is_none(), "the consent read before its withdrawal is not in L2");
    let refused = office_client.check_eligibility(ask.clone()).await.unwrap_err();
    assert_eq!(reason(&refused), "CONSENT_REQUIRED");

    // The office's check was a miss that read the withdrawal: its value was taken, and the
    // same late put cannot undo it.
    let (_, current, _) = l2.get(&person).await.expect("the current value is in L2");
    assert_eq!(current.stamp, 3);
    assert!(current.consents[0].withdrawn_on.is_some());
    l2.put(&person, &read.timeline, &read.access, None).await;
    assert_eq!(l2.get(&person).await.map(|(_, f, _)| f.stamp), Some(3));

    // An older value that got into L2 before the invalidation (written here past the script)
    // is replaced by the event's handling, which reads the stamp the database holds now.
    let stale = codec::encode_entry(&read.timeline, &read.access);
    let _: i64 =
        redis::AsyncCommands::hset(&mut l2.redis().conn(), l2.bucket_key(&person), person.as_bytes().as_slice(), stale)
            .await
            .unwrap();
    assert!(cache.facts_changed(&[person], true).await.unwrap(), "Redis took it");
    let held = in_l2(&server, "0000000720").await.unwrap();
    assert_eq!(codec::versions_of(&held).map(|at| at.facts), Some(3));
    assert!(l2.get(&person).await.is_none(), "replaced by a tombstone");
    let refused = office_client.check_eligibility(ask).await.unwrap_err();
    assert_eq!(reason(&refused), "CONSENT_REQUIRED");
    // A person without any facts row: nothing to refuse, so nothing is written.
    assert!(cache.facts_changed(&[key("0000000721")], true).await.unwrap());
    assert_eq!(in_l2(&server, "0000000721").await, None);
    server.stop().await;
}

#[tokio::test]
async fn imported_changes_stay_in_l2_after_their_events_and_a_redelivery() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let outbox = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    let mut client = server.client(insurer(INSURER)).await;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let mut people = generate(&InsurerNumber::parse(INSURER).unwrap(), 1, 700, 11, today);
    let (totals, errors) = import(&mut client, extract(&people)).await;
    assert!(errors.is_empty());
    assert_eq!(totals.persons_created, 700);
    let insured = |i: usize| format!("{:010}", i + 1);
    let old = codec::version_of(&in_l2(&server, &insured(4)).await.unwrap()).unwrap();

    // Every seventh person changes: 100 events, over several chunks.
    let changed: Vec<usize> = (0..700).step_by(7).collect();
    for &i in &changed {
        people[i].person.name_kanji = format!("改姓 {i}");
    }
    let (totals, _) = import(&mut client, extract(&people)).await;
    assert_eq!((totals.persons_changed, totals.persons_unchanged), (100, 600));
    events_handled(&outbox, &server).await;
    for &i in &changed {
        let held = in_l2(&server, &insured(i)).await.expect("the import's value survived its event");
        assert_eq!(codec::version_of(&held), Some(old + 1), "person {i}");
        // The first check is an L2 hit with the new state.
        let (entry, tier) = server.api.cache().get(key(&insured(i))).await.unwrap();
        assert_eq!(tier, Tier::L2, "person {i}");
        let Entry::Known(cached) = &entry else { panic!("a known person") };
        assert_eq!(cached.details.as_ref().map(|d| d.name_kanji.clone()), Some(format!("改姓 {i}")));
    }

    // One of them changes again; the event of the first change is delivered once more (a
    // consumer that crashed before acknowledging it): the newer value stays.
    let person = key(&insured(7));
    let first = last_changed_payload_of(&outbox, &person).await;
    assert_eq!(
        parse_changed_payload(&first),
        Some((person, Announced::Version(old + 1))),
        "the event names the new version"
    );
    people[7].person.name_kanji = "再改姓 花子".into();
    let (totals, _) = import(&mut client, extract(&people)).await;
    assert_eq!(totals.persons_changed, 1);
    let second = last_changed_payload_of(&outbox, &person).await;
    assert_eq!(parse_changed_payload(&second), Some((person, Announced::Version(old + 2))));
    enqueue(&outbox, NewEvent { topic: CHANGED_TOPIC.into(), key: INSURER.into(), payload: first }).await.unwrap();
    events_handled(&outbox, &server).await;
    let held = in_l2(&server, &insured(7)).await.expect("the newer value survived the older event");
    assert_eq!(codec::version_of(&held), Some(old + 2));
    server.api.cache().invalidate_local(&person).await;
    let (entry, tier) = server.api.cache().get(person).await.unwrap();
    assert_eq!(tier, Tier::L2);
    let Entry::Known(cached) = &entry else { panic!("a known person") };
    assert_eq!(cached.details.as_ref().map(|d| d.name_kanji.as_str()), Some("再改姓 花子"));
    server.stop().await;
}

#[tokio::test]
async fn an_event_tombstones_an_older_value_and_an_old_format_event_deletes_any_value() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let outbox = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    let mut client = server.client(insurer(INSURER)).await;
    let version = create_person(&mut client, "0000000077").await;
    let person = key("0000000077");
    // A write's event names the version it answered.
    let payload = last_changed_payload_of(&outbox, &person).await;
    assert_eq!(parse_changed_payload(&payload), Some((person, Announced::Version(version))));
    let version = certify(
        &mut client,
        "0000000077",
        version,
        kaigo_proto::kaigo::common::v1::CareLevel::Care1,
        date(2025, 4, 1),
        date(2026, 3, 31),
    )
    .await;
    let payload = last_changed_payload_of(&outbox, &person).await;
    assert_eq!(parse_changed_payload(&payload), Some((person, Announced::Version(version))));
    assert_eq!(version, 2);
    events_handled(&outbox, &server).await;
    // Version N in L2 (a miss after the write puts it there).
    let cache = server.api.cache();
    let (_, tier) = cache.get(person).await.unwrap();
    assert_eq!(tier, Tier::Database);
    let current = in_l2(&server, "0000000077").await.expect("the miss filled L2");
    assert_eq!(codec::version_of(&current), Some(version));

    // An event for version N or earlier keeps it.
    for announced in [version, version - 1] {
        let event = changed_event(&person, announced);
        enqueue(&outbox, event).await.unwrap();
        events_handled(&outbox, &server).await;
        assert_eq!(in_l2(&server, "0000000077").await.as_ref(), Some(&current), "version {announced} kept");
    }
    // An event for version N + 1 tombstones it (L2 holds N - 1 of what the event announces): a
    // miss, and the value of version N a miss reads now is not written over the tombstone.
    enqueue(&outbox, changed_event(&person, version + 1)).await.unwrap();
    events_handled(&outbox, &server).await;
    assert_eq!(
        in_l2(&server, "0000000077").await,
        Some(codec::tombstone(Versions { person: version + 1, facts: 0 })),
        "an older value is tombstoned"
    );
    let (_, tier) = cache.get(person).await.unwrap();
    assert_eq!(tier, Tier::Database, "a tombstone is a miss");
    assert_eq!(
        in_l2(&server, "0000000077").await,
        Some(codec::tombstone(Versions { person: version + 1, facts: 0 })),
        "nothing older over it"
    );

    // An event of an older build (the key alone) deletes whatever L2 holds, as before.
    let old_format = NewEvent { topic: CHANGED_TOPIC.into(), key: INSURER.into(), payload: person.as_bytes().to_vec() };
    enqueue(&outbox, old_format).await.unwrap();
    events_handled(&outbox, &server).await;
    assert!(in_l2(&server, "0000000077").await.is_none(), "an old-format event deletes");
    cache.invalidate_local(&person).await;
    let (_, tier) = cache.get(person).await.unwrap();
    assert_eq!(tier, Tier::Database);
    let reloaded = in_l2(&server, "0000000077").await.expect("the miss filled L2 again");
    assert_eq!(codec::version_of(&reloaded), Some(version));

    // A value that does not decode is tombstoned whatever the version.
    let l2 = cache.l2().unwrap();
    let mut conn = l2.redis().conn();
    let _: i64 = redis::AsyncCommands::hset(&mut conn, l2.bucket_key(&person), person.as_bytes().as_slice(), b"\x08")
        .await
        .unwrap();
    assert!(cache.invalidate_confirmed(&person, Some(1)).await);
    assert_eq!(
        in_l2(&server, "0000000077").await,
        Some(codec::tombstone(Versions { person: 1, facts: 0 })),
        "an undecodable value is tombstoned"
    );
    // No value: tombstoned all the same (a miss may be putting an older one), and Redis answered.
    let _: i64 =
        redis::AsyncCommands::hdel(&mut conn, l2.bucket_key(&person), person.as_bytes().as_slice()).await.unwrap();
    assert!(cache.invalidate_confirmed(&person, Some(1)).await);
    assert_eq!(in_l2(&server, "0000000077").await, Some(codec::tombstone(Versions { person: 1, facts: 0 })));
    server.stop().await;
}

/// The race a tombstone closes: a miss reads the person, a write commits and its event is handled,
/// and only then does the miss put what it read. The older value is refused; the newer one a
/// later miss reads is taken, and nothing older is written over it after.
#[tokio::test]
async fn a_value_read_before_a_write_is_not_put_back_over_its_event() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut client = server.client(insurer(INSURER)).await;
    let cache = server.api.cache();
    let l2 = cache.l2().unwrap();
    let version = create_person(&mut client, "0000000088").await;
    let person = key("0000000088");
    let neighbour = key("0000000089");
    create_person(&mut client, "0000000089").await;
    cache.invalidate_local(&neighbour).await;
    let _ = cache.get(neighbour).await.unwrap();
    let neighbour_value = in_l2(&server, "0000000089").await.expect("the neighbour is in L2");
    cache.invalidate_local(&person).await;
    let (entry, _) = cache.get(person).await.unwrap();
    let Entry::Known(read) = entry else { panic!("a known person") };
    assert_eq!(read.timeline.person.version, version);
    // The write's event (version + 1) is handled; then the miss's put of version arrives.
    assert!(cache.invalidate_confirmed(&person, Some(version + 1)).await);
    l2.put(&person, &read.timeline, &read.access, None).await;
    assert_eq!(
        in_l2(&server, "0000000088").await,
        Some(codec::tombstone(Versions { person: version + 1, facts: 0 })),
        "the older value is refused"
    );
    assert!(l2.get(&person).await.is_none(), "a tombstone answers nothing");
    // A miss after the write reads version + 1: taken over the tombstone.
    let mut newer = read.timeline.clone();
    newer.person.version = version + 1;
    l2.put(&person, &newer, &read.access, None).await;
    let held = in_l2(&server, "0000000088").await.unwrap();
    assert_eq!(codec::version_of(&held), Some(version + 1));
    assert!(l2.get(&person).await.is_some());
    // Neither a late put of the older value nor a redelivered event undoes it.
    l2.put(&person, &read.timeline, &read.access, None).await;
    assert!(cache.invalidate_confirmed(&person, Some(version + 1)).await);
    assert_eq!(in_l2(&server, "0000000088").await, Some(held), "the newer value stays");
    // Only the person's field was touched in its bucket.
    assert_eq!(in_l2(&server, "0000000089").await, Some(neighbour_value));
    server.stop().await;
}

#[tokio::test]
async fn on_a_cluster_the_consumer_keeps_a_current_value_and_tombstones_an_older_one() {
    let cluster = kaigo_platform::testkit::TestRedisCluster::start().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(cluster.config())).await;
    let mut client = server.client(insurer(INSURER)).await;
    let cache = server.api.cache();
    let mut persons = Vec::new();
    // Persons in buckets on different primaries: the script runs on the bucket's node.
    for n in 0..6 {
        let insured = format!("{:010}", 120 + n);
        let version = create_person(&mut client, &insured).await;
        persons.push((insured, version));
    }
    for (insured, version) in &persons {
        let person = key(insured);
        cache.invalidate_local(&person).await;
        let _ = cache.get(person).await.unwrap();
        let held = in_l2(&server, insured).await.expect("the miss filled L2");
        assert_eq!(codec::version_of(&held), Some(*version));
        assert!(cache.invalidate_confirmed(&person, Some(*version)).await);
        assert_eq!(in_l2(&server, insured).await, Some(held.clone()), "the current value is kept");
        assert!(cache.invalidate_confirmed(&person, Some(version + 1)).await);
        assert_eq!(
            in_l2(&server, insured).await,
            Some(codec::tombstone(Versions { person: version + 1, facts: 0 })),
            "an older value is tombstoned"
        );
        // The miss that read it before the write puts it back: refused on the bucket's node.
        let (entry, _) = cache.get(person).await.unwrap();
        let Entry::Known(read) = entry else { panic!("a known person") };
        server.api.cache().l2().unwrap().put(&person, &read.timeline, &read.access, None).await;
        assert_eq!(
            in_l2(&server, insured).await,
            Some(codec::tombstone(Versions { person: version + 1, facts: 0 })),
            "nothing older over the tombstone"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn on_sqlite_an_imported_change_names_its_version_too() {
    use kaigo_eligibility::domain::Detail;
    use kaigo_eligibility::store::bulk::ImportPerson;
    use sea_orm_migration::MigratorTrait;

    // `kaigo dev`'s database: the import compares in the process and updates row by row.
    let dir = std::env::temp_dir().join(format!("kaigo-changed-events-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=rwc", dir.join("e.db").display())).await.unwrap();
    kaigo_eligibility::Migrator::up(&db, None).await.unwrap();
    let start = chrono::NaiveDate::from_ymd_opt(2024, 4, 1).unwrap();
    let row = |insured: &str, name: &str| ImportPerson {
        key: key(insured),
        person: kaigo_eligibility::store::person::Model {
            id: 0,
            insurer_number: INSURER.to_owned(),
            insured_number: insured.to_owned(),
            name_kanji: name.to_owned(),
            name_kana: "シケン タロウ".to_owned(),
            birth_date: chrono::NaiveDate::from_ymd_opt(1940, 1, 1),
            sex: 1,
            category: 1,
            acquired_date: Some(start),
            lost_date: None,
            card_issued_date: None,
            version: 0,
            updated_at: chrono::Utc::now(),
        },
        periods: vec![(start, None, Detail::Copayment { tenths: 1 })],
        uses: Vec::new(),
    };
    let import_chunk = |rows: Vec<ImportPerson>| {
        let db = db.clone();
        async move { kaigo_eligibility::store::import_chunk(&db, &rows, INSURER, chrono::Utc::now()).await.unwrap() }
    };
    let (outcome, _, _) = import_chunk(vec![row("0000000001", "試験 太郎"), row("0000000002", "試験 次郎")]).await;
    assert_eq!(outcome.created, 2);
    for (name, version) in [("改姓 太郎", 2), ("再改姓 太郎", 3)] {
        let (outcome, changed, _) = import_chunk(vec![row("0000000001", name), row("0000000002", "試験 次郎")]).await;
        assert_eq!((outcome.changed, outcome.unchanged), (1, 1));
        assert_eq!(changed, vec![key("0000000001")]);
        let payload = last_changed_payload_of(&db, &key("0000000001")).await;
        assert_eq!(parse_changed_payload(&payload), Some((key("0000000001"), Announced::Version(version))));
    }
    db.close().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The scripts are called by hash: a Redis that never saw them (a new server) or forgot them
/// (a restart, a failover to a replica, `SCRIPT FLUSH`) is sent them once and the call goes on.
#[tokio::test]
async fn the_scripts_are_sent_again_to_a_redis_that_forgot_them() {
    let port = kaigo_platform::testkit::free_port();
    let redis = crate::cache::PrivateRedis::start(port);
    redis.wait_ready().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut client = server.client(insurer(INSURER)).await;
    let version = create_person(&mut client, "0000000090").await;
    let person = key("0000000090");
    let cache = server.api.cache();
    let mut admin = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let forget = || {
        let mut admin = admin.clone();
        async move {
            let _: () = redis::cmd("SCRIPT").arg("FLUSH").query_async(&mut admin).await.unwrap();
        }
    };
    forget().await;
    cache.invalidate_local(&person).await;
    let _ = cache.get(person).await.unwrap();
    let held = in_l2(&server, "0000000090").await.expect("a miss's put after SCRIPT FLUSH");
    assert_eq!(codec::version_of(&held), Some(version));
    forget().await;
    assert!(cache.invalidate_confirmed(&person, Some(version + 1)).await, "Redis took the tombstone");
    assert_eq!(in_l2(&server, "0000000090").await, Some(codec::tombstone(Versions { person: version + 1, facts: 0 })));
    let loaded: Vec<bool> = redis::cmd("SCRIPT").arg("EXISTS").arg("0").query_async(&mut admin).await.unwrap();
    assert_eq!(loaded, vec![false]);
    server.stop().await;
}

/// Events read together are invalidated together (one round trip for the read): each person
/// whose L2 value is older than their event's version gets the tombstone, each current one is
/// kept.
#[tokio::test]
async fn events_read_together_tombstone_each_older_value_and_keep_each_current_one() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let outbox = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    let mut client = server.client(insurer(INSURER)).await;
    let cache = server.api.cache();
    let mut persons = Vec::new();
    for n in 0..6 {
        let insured = format!("{:010}", 140 + n);
        let version = create_person(&mut client, &insured).await;
        persons.push((insured, version));
    }
    events_handled(&outbox, &server).await;
    for (insured, _) in &persons {
        cache.invalidate_local(&key(insured)).await;
        let _ = cache.get(key(insured)).await.unwrap();
    }
    // Even persons' events name a newer version, odd ones' the version L2 holds.
    let events = persons
        .iter()
        .enumerate()
        .map(|(i, (insured, version))| changed_event(&key(insured), if i % 2 == 0 { version + 1 } else { *version }))
        .collect();
    kaigo_platform::events::enqueue_many(&outbox, events).await.unwrap();
    events_handled(&outbox, &server).await;
    for (i, (insured, version)) in persons.iter().enumerate() {
        let held = in_l2(&server, insured).await.expect("a value or a tombstone");
        if i % 2 == 0 {
            assert_eq!(
                held,
                codec::tombstone(Versions { person: version + 1, facts: 0 }),
                "person {i}: older, tombstoned"
            );
        } else {
            assert_eq!(codec::version_of(&held), Some(*version), "person {i}: current, kept");
            assert!(codec::decode_full(&held).unwrap().facts.is_some());
        }
    }
    server.stop().await;
}
