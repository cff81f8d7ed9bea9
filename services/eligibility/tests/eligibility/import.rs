//! ImportInsuredPersons: bad rows reported, the rest loaded; re-running changes nothing; the
//! created and changed persons written to L2 complete, so their first check is an L2 hit.

use kaigo_eligibility::cache::{Entry, Tier, codec};
use kaigo_eligibility::extract::{COLUMNS, Header, parse_row, to_csv};
use kaigo_eligibility::key::PersonKey;
use kaigo_eligibility::seed::generate;
use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::Role;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::testkit::{TestDatabase, TestRedis};
use kaigo_proto::kaigo::eligibility::v1 as pb;
use pb::import_insured_persons_request::Payload;
use pb::import_insured_persons_response::Event;

use crate::support::*;

pub(crate) async fn import(
    client: &mut Client,
    rows: Vec<pb::ImportRow>,
) -> (pb::ImportProgress, Vec<pb::ImportRowError>) {
    let header = pb::ImportHeader { request_id: rid(), insurer_number: INSURER.into(), ..Default::default() };
    let mut messages = vec![pb::ImportInsuredPersonsRequest { payload: Some(Payload::Header(header)) }];
    for chunk in rows.chunks(300) {
        messages.push(pb::ImportInsuredPersonsRequest {
            payload: Some(Payload::Chunk(pb::ImportChunk { rows: chunk.to_vec() })),
        });
    }
    let mut stream = client.import_insured_persons(tokio_stream::iter(messages)).await.unwrap().into_inner();
    let (mut totals, mut errors) = (None, Vec::new());
    while let Some(message) = stream.message().await.unwrap() {
        match message.event {
            Some(Event::Summary(s)) => totals = s.totals,
            Some(Event::RowError(e)) => errors.push(e),
            _ => {}
        }
    }
    (totals.expect("a summary"), errors)
}

#[tokio::test]
async fn an_extract_loads_reports_bad_rows_and_reloads_as_a_no_op() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insurer_number = InsurerNumber::parse(INSURER).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let header = Header::parse(&COLUMNS.join(",")).unwrap();
    let mut people = generate(&insurer_number, 1, 1_000, 42, today);
    let rows = |people: &[kaigo_eligibility::seed::Synthetic]| -> Vec<pb::ImportRow> {
        let mut rows: Vec<pb::ImportRow> =
            people.iter().enumerate().map(|(i, p)| parse_row(&header, i as i64 + 2, &to_csv(p)).unwrap()).collect();
        // Line 5: an impossible birth date; line 9: another insurer's person.
        rows[3].person.as_mut().unwrap().birth_date = Some(date(1950, 2, 30));
        rows[7].person.as_mut().unwrap().insurer_number = OTHER_INSURER.into();
        rows
    };

    let (totals, errors) = import(&mut client, rows(&people)).await;
    assert_eq!((totals.rows_received, totals.persons_created, totals.rows_rejected), (1_000, 998, 2));
    let lines: Vec<i64> = errors.iter().map(|e| e.line_number).collect();
    assert_eq!(lines, [5, 9]);
    assert_eq!(errors[0].violations[0].field, "person.birth_date");

    // The same file again changes nothing.
    let (totals, _) = import(&mut client, rows(&people)).await;
    assert_eq!((totals.persons_created, totals.persons_changed, totals.persons_unchanged), (0, 0, 998));

    // One changed person: only that one is updated, and checks see it at once.
    let before = check(&mut client, "0000000001", date(2026, 11, 29)).await;
    assert_eq!(before.person.unwrap().name_kanji, people[0].person.name_kanji);
    people[0].person.name_kanji = "改姓 花子".into();
    let (totals, _) = import(&mut client, rows(&people)).await;
    assert_eq!((totals.persons_changed, totals.persons_unchanged), (1, 997));
    let after = check(&mut client, "0000000001", date(2026, 11, 29)).await;
    assert_eq!(after.person.unwrap().name_kanji, "改姓 花子");

    // Another insurer may not import into this one.
    let mut stranger = server.client(insurer(OTHER_INSURER)).await;
    let header = pb::ImportHeader { request_id: rid(), insurer_number: INSURER.into(), ..Default::default() };
    let err = stranger
        .import_insured_persons(tokio_stream::iter(vec![pb::ImportInsuredPersonsRequest {
            payload: Some(Payload::Header(header)),
        }]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    server.stop().await;
}

pub(crate) fn extract(people: &[kaigo_eligibility::seed::Synthetic]) -> Vec<pb::ImportRow> {
    let header = Header::parse(&COLUMNS.join(",")).unwrap();
    people.iter().enumerate().map(|(i, p)| parse_row(&header, i as i64 + 2, &to_csv(p)).unwrap()).collect()
}

pub(crate) fn key(insured: &str) -> PersonKey {
    PersonKey::new(&InsurerNumber::parse(INSURER).unwrap(), &InsuredNumber::parse(insured).unwrap())
}

/// The raw L2 value of `insured`, if any.
pub(crate) async fn in_l2(server: &Server, insured: &str) -> Option<Vec<u8>> {
    let l2 = server.api.cache().l2().unwrap();
    let mut conn = l2.redis().conn();
    let key = key(insured);
    redis::AsyncCommands::hget(&mut conn, l2.bucket_key(&key), key.as_bytes().as_slice()).await.unwrap()
}

/// The commands a Redis server runs while it is watched (`MONITOR`), each as its arguments.
struct Watch {
    commands: std::sync::Arc<parking_lot::Mutex<Vec<Vec<Vec<u8>>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    async fn start(url: &str) -> Watch {
        use futures::StreamExt;
        let monitor = redis::Client::open(url).unwrap().get_async_monitor().await.unwrap();
        let commands = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let seen = commands.clone();
        let task = tokio::spawn(async move {
            let mut lines = monitor.into_on_message::<String>();
            while let Some(line) = lines.next().await {
                seen.lock().push(monitor_args(&line));
            }
        });
        Watch { commands, task }
    }

    /// The commands seen so far (after a moment for the last ones to arrive).
    async fn stop(self) -> Vec<Vec<Vec<u8>>> {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        self.task.abort();
        std::mem::take(&mut *self.commands.lock())
    }
}

/// The arguments of one `MONITOR` line (`<time> [<db> <client>] "ARG" "ARG" …`), unescaped as
/// Redis escapes them (`\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`, `\xHH`).
fn monitor_args(line: &str) -> Vec<Vec<u8>> {
    let bytes = line.as_bytes();
    let mut i = line.find("] ").map_or(bytes.len(), |at| at + 2);
    let mut args = Vec::new();
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        i += 1;
        let mut arg = Vec::new();
        while i < bytes.len() && bytes[i] != b'"' {
            if bytes[i] == b'\\' && i + 1 < bytes.len() {
                i += 1;
                match bytes[i] {
                    b'n' => arg.push(b'\n'),
                    b'r' => arg.push(b'\r'),
                    b't' => arg.push(b'\t'),
                    b'a' => arg.push(7),
                    b'b' => arg.push(8),
                    b'x' => {
                        let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                        arg.push(u8::from_str_radix(hex, 16).unwrap());
                        i += 2;
                    }
                    other => arg.push(other),
                }
            } else {
                arg.push(bytes[i]);
            }
            i += 1;
        }
        args.push(arg);
        i += 1;
    }
    args
}

/// The values `commands` wrote with `HSET`, by field.
fn hset_values(commands: &[Vec<Vec<u8>>]) -> Vec<(Vec<u8>, Vec<u8>)> {
    commands
        .iter()
        .filter(|c| c.first().is_some_and(|name| name.eq_ignore_ascii_case(b"hset")))
        .flat_map(|c| c[2..].chunks(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect::<Vec<_>>())
        .collect()
}

#[tokio::test]
async fn an_import_fills_l2_with_complete_values_of_created_and_changed_persons_only() {
    // A private Redis: the test watches every command it runs.
    let port = kaigo_platform::testkit::free_port();
    let redis = crate::cache::PrivateRedis::start(port);
    redis.wait_ready().await;
    let url = format!("redis://127.0.0.1:{port}");
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut client = server.client(insurer(INSURER)).await;
    let insurer_number = InsurerNumber::parse(INSURER).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let mut people = generate(&insurer_number, 1, 700, 7, today);
    // The registry knows an office serving person 1 before the insurer's extract records them.
    server.grant(OrganizationKind::CareOffice, OFFICE, "0000000001", &Category::ALL).await;
    // Person 2 was linked to a card once, and the link revoked: no fact, but two versions.
    let link = kaigo_platform::testkit::access::link(&server.feed, "d0000000aa", INSURER, "0000000002").await;
    kaigo_platform::testkit::access::revoke_link(&server.feed, &link).await;
    // The grant's own invalidation (a tombstone at the facts' new stamp) is done before the
    // watch starts: only the import's writes are counted.
    let outbox = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    changed_events_handled(&outbox, server.api.cache().l2().unwrap().redis(), "the grant's event was handled").await;

    let watch = Watch::start(&url).await;
    let (totals, errors) = import(&mut client, extract(&people)).await;
    let commands = watch.stop().await;
    assert!(errors.is_empty());
    assert_eq!(totals.persons_created, 700);
    // One HSET per bucket a chunk touches, every person once.
    assert_eq!(hset_values(&commands).len(), 700);
    // Every created person is in L2, complete: facts and sealed details with the timeline.
    for n in [1, 2, 350, 700] {
        let raw = in_l2(&server, &format!("{n:010}")).await.expect("the import wrote the person to L2");
        let decoded = codec::decode_full(&raw).unwrap();
        assert!(decoded.facts.is_some(), "the value carries the access facts: a hit, not a miss");
        assert!(!decoded.sealed_details.is_empty(), "the value carries the sealed details");
        // The extract's periods, and the qualification span the person's own pair states.
        assert_eq!(decoded.timeline.records.len(), people[n - 1].periods.len() + 1);
    }
    // Each value carries the facts' stamp a miss would read (a revoked link's version counts):
    // L2 compares it, and a lower one would be refused over the link's tombstone.
    let stamp = |n: usize| {
        let server = &server;
        async move {
            let raw = in_l2(server, &format!("{n:010}")).await.unwrap();
            codec::decode_full(&raw).unwrap().facts.unwrap().stamp
        }
    };
    assert_eq!((stamp(1).await, stamp(2).await, stamp(3).await), (2, 2, 0));
    // The first check of an imported person is answered from L2, with the facts the registry
    // gave and the details the extract gave.
    let (entry, tier) = server.api.cache().get(key("0000000001")).await.unwrap();
    assert_eq!(tier, Tier::L2);
    let Entry::Known(cached) = &entry else { panic!("a known person") };
    assert_eq!(cached.access.registrations.len(), 1, "the registry's registration came with the value");
    assert_eq!(cached.details.as_ref().map(|d| d.name_kanji.as_str()), Some(people[0].person.name_kanji.as_str()));
    let l2 = server.api.cache().l2().unwrap().clone();
    let delete = |insured: &'static str| {
        let l2 = l2.clone();
        async move {
            let mut conn = l2.redis().conn();
            let key = key(insured);
            let _: i64 =
                redis::AsyncCommands::hdel(&mut conn, l2.bucket_key(&key), key.as_bytes().as_slice()).await.unwrap();
        }
    };
    // What a miss reads from the database is what the import wrote.
    server.api.cache().invalidate_local(&key("0000000001")).await;
    delete("0000000001").await;
    let (from_database, tier) = server.api.cache().get(key("0000000001")).await.unwrap();
    assert_eq!(tier, Tier::Database);
    let Entry::Known(loaded) = &from_database else { panic!("a known person") };
    // (Records in any order, and L2's form keeps no record ids.)
    let records = |timeline: &kaigo_eligibility::domain::Timeline| {
        let mut records: Vec<String> =
            timeline.records.iter().map(|r| format!("{} {:?} {:?}", r.start, r.end, r.detail)).collect();
        records.sort();
        records
    };
    assert_eq!(loaded.timeline.person, cached.timeline.person, "the import wrote what a miss reads");
    assert_eq!(records(&loaded.timeline), records(&cached.timeline));
    assert_eq!(loaded.access, cached.access);
    assert_eq!(loaded.details, cached.details);
    // And so for every created person: built from the extract's rows, as the database has them.
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    for n in 2..=700 {
        let key = key(&format!("{n:010}"));
        let (stored, details) = kaigo_eligibility::store::timeline(&conn, &key).await.unwrap().unwrap();
        let (in_l2, access, sealed) = l2.get(&key).await.expect("in L2");
        assert_eq!((&in_l2.person, records(&in_l2)), (&stored.person, records(&stored)), "person {n}");
        assert_eq!(sealed, Some(details), "person {n}");
        let facts = kaigo_eligibility::store::access_facts(&conn, &key).await.unwrap();
        assert_eq!(access, facts, "person {n}: the facts and their stamp a miss reads");
    }
    // The office the registry names is served.
    let mut office_client = server.client(office(Role::CareOffice, OFFICE)).await;
    let answer = check(&mut office_client, "0000000001", date(2026, 11, 29)).await;
    assert_eq!(answer.person.map(|p| p.name_kanji), Some(people[0].person.name_kanji.clone()));

    // A re-run writes nothing to L2: no HSET, and a field deleted since stays deleted.
    delete("0000000002").await;
    let watch = Watch::start(&url).await;
    let (totals, _) = import(&mut client, extract(&people)).await;
    let commands = watch.stop().await;
    assert_eq!((totals.persons_created, totals.persons_changed, totals.persons_unchanged), (0, 0, 700));
    assert!(hset_values(&commands).is_empty(), "an unchanged person is not rewritten");
    assert!(in_l2(&server, "0000000002").await.is_none());

    // A changed person: deleted from L2 before the chunk is answered, then written with the
    // new value. (The outbox consumer repeats the invalidation soon after and keeps that value,
    // which is at the version its event names: changed_events.rs.)
    let old = codec::decode_full(&in_l2(&server, "0000000003").await.unwrap()).unwrap().timeline;
    people[2].person.name_kanji = "改姓 花子".into();
    let watch = Watch::start(&url).await;
    let (totals, _) = import(&mut client, extract(&people)).await;
    let commands = watch.stop().await;
    assert_eq!((totals.persons_changed, totals.persons_unchanged), (1, 699));
    let field = key("0000000003").as_bytes().to_vec();
    // The consumer's tombstone for the change (its event names the new version) may land
    // before the fill's value, which is at that version and is written over it; only values
    // count here.
    let is_value = |value: &[u8]| codec::decode_full(value).is_some_and(|d| d.facts.is_some());
    let written: Vec<_> = hset_values(&commands).into_iter().filter(|(_, value)| is_value(value)).collect();
    assert_eq!(written.len(), 1, "only the changed person is written");
    assert_eq!(written[0].0, field);
    let new = codec::decode_full(&written[0].1).unwrap();
    assert_eq!(new.timeline.person.version, old.person.version + 1, "the changed person's new value");
    let secrets = kaigo_platform::seal::SealSecrets::new(
        &kaigo_platform::config::Secret::new(kaigo_platform::testkit::TEST_SEAL_SECRET),
        &kaigo_platform::config::Secret::default(),
    );
    let sealer = secrets.sealer("eligibility.l2.details").unwrap();
    let details = codec::open_details(&sealer, &field, &new.sealed_details).unwrap();
    assert_eq!(details.name_kanji, "改姓 花子");
    let position =
        |name: &[u8]| commands.iter().position(|c| c[0].eq_ignore_ascii_case(name) && c.contains(&field)).unwrap();
    let value_written = commands
        .iter()
        .position(|c| c[0].eq_ignore_ascii_case(b"hset") && c.contains(&field) && c.iter().any(|a| is_value(a)))
        .unwrap();
    assert!(position(b"hdel") < value_written, "deleted when the chunk committed, written after");
    let answer = check(&mut client, "0000000003", date(2026, 11, 29)).await;
    assert_eq!(answer.person.unwrap().name_kanji, "改姓 花子");
    server.stop().await;
}

#[tokio::test]
async fn an_import_fills_nothing_when_configured_so() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let config = kaigo_eligibility::Config { import_fills_l2: false, l2_timeout_ms: 2_000, ..Default::default() };
    let server = Server::start_with(&db, redis.config(), &config).await;
    let mut client = server.client(insurer(INSURER)).await;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let people = generate(&InsurerNumber::parse(INSURER).unwrap(), 1, 50, 7, today);
    let (totals, _) = import(&mut client, extract(&people)).await;
    assert_eq!(totals.persons_created, 50);
    assert!(in_l2(&server, "0000000001").await.is_none());
    let (_, tier) = server.api.cache().get(key("0000000001")).await.unwrap();
    assert_eq!(tier, Tier::Database);
    server.stop().await;
}

#[tokio::test]
async fn an_import_succeeds_while_redis_is_down() {
    let port = kaigo_platform::testkit::free_port();
    let mut redis = crate::cache::PrivateRedis::start(port);
    redis.wait_ready().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut client = server.client(insurer(INSURER)).await;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let mut people = generate(&InsurerNumber::parse(INSURER).unwrap(), 1, 600, 7, today);
    let (totals, _) = import(&mut client, extract(&people)).await;
    assert_eq!(totals.persons_created, 600);
    redis.kill();
    // Created and changed persons while Redis is down: the import answers in full all the same.
    people[0].person.name_kanji = "改姓 花子".into();
    let more = generate(&InsurerNumber::parse(INSURER).unwrap(), 601, 600, 8, today);
    people.extend(more);
    let started = std::time::Instant::now();
    let (totals, errors) =
        tokio::time::timeout(std::time::Duration::from_secs(60), import(&mut client, extract(&people)))
            .await
            .expect("the import finishes without Redis");
    assert!(errors.is_empty());
    assert_eq!((totals.persons_created, totals.persons_changed, totals.persons_unchanged), (600, 1, 599));
    println!("import of 1,200 rows with Redis down: {:?}", started.elapsed());
    let answer = check(&mut client, "0000000001", date(2026, 11, 29)).await;
    assert_eq!(answer.person.unwrap().name_kanji, "改姓 花子");
    server.stop().await;
}

#[tokio::test]
async fn on_a_cluster_an_import_fills_l2_and_another_replica_drops_a_changed_person() {
    let cluster = kaigo_platform::testkit::TestRedisCluster::start().await;
    let db = TestDatabase::create().await;
    let a = Server::start(&db, Some(cluster.config())).await;
    let b = Server::start(&db, Some(cluster.config())).await;
    let channel = b.api.cache().l2().unwrap().channel();
    let listening = kaigo_platform::testkit::eventually(std::time::Duration::from_secs(10), || async {
        (cluster.subscribers(&channel).await >= 2).then_some(())
    })
    .await;
    assert!(listening.is_some(), "both replicas listen for invalidations");
    let mut via_a = a.client(insurer(INSURER)).await;
    let via_b = b.client(insurer(INSURER)).await;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let mut people = generate(&InsurerNumber::parse(INSURER).unwrap(), 1, 400, 7, today);
    let (totals, _) = import(&mut via_a, extract(&people)).await;
    assert_eq!(totals.persons_created, 400);
    // The buckets of a chunk live on every primary: each got its HSET.
    for n in [1, 2, 3, 200, 400] {
        let (_, tier) = b.api.cache().get(key(&format!("{n:010}"))).await.unwrap();
        assert_eq!(tier, Tier::L2, "person {n} is an L2 hit on the other replica");
    }
    // B holds person 3 in L1 now; A's import changes them, and B answers the new name long
    // before its 60 s L1 lifetime, through the chunk's announcements.
    people[2].person.name_kanji = "改姓 花子".into();
    let (totals, _) = import(&mut via_a, extract(&people)).await;
    assert_eq!(totals.persons_changed, 1);
    let seen = kaigo_platform::testkit::eventually(std::time::Duration::from_secs(10), || {
        let mut client = via_b.clone();
        async move {
            let answer = check(&mut client, "0000000003", date(2026, 11, 29)).await;
            (answer.person.map(|p| p.name_kanji).as_deref() == Some("改姓 花子")).then_some(())
        }
    })
    .await;
    assert!(seen.is_some(), "replica B still answers the old name");
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_import_finishes_while_redis_hangs() {
    let port = kaigo_platform::testkit::free_port();
    let redis = crate::cache::PrivateRedis::start(port);
    redis.wait_ready().await;
    let db = TestDatabase::create().await;
    let config = kaigo_eligibility::Config { l2_timeout_ms: 200, ..Default::default() };
    let server = Server::start_config(&db, Some(redis.config()), &config).await;
    let mut client = server.client(insurer(INSURER)).await;
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    let people = generate(&InsurerNumber::parse(INSURER).unwrap(), 1, 900, 7, today);
    // Redis accepts connections but runs no write for 20 s: each L2 write waits its 200 ms,
    // then L2 rests and the chunks after it skip L2 altogether.
    let mut admin = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("CLIENT").arg("PAUSE").arg(20_000).arg("WRITE").query_async(&mut admin).await.unwrap();
    let started = std::time::Instant::now();
    let (totals, errors) =
        tokio::time::timeout(std::time::Duration::from_secs(15), import(&mut client, extract(&people)))
            .await
            .expect("the import does not wait for a hanging Redis");
    assert!(errors.is_empty());
    assert_eq!(totals.persons_created, 900);
    println!("import of 900 rows with Redis hanging: {:?}", started.elapsed());
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query_async(&mut admin).await.unwrap();
    server.stop().await;
}
