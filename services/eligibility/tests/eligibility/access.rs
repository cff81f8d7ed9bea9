//! Access from the registry's facts (docs/domain/access.md#facts-copy): a withdrawal through
//! two running replicas, batches decided per entry, and the accepted 作成依頼届出 recorded once.

use std::time::Duration;

use chrono::Utc;
use kaigo_platform::access::{Category, OrganizationKind, TOPIC_CONSENT_CHANGED};
use kaigo_platform::auth::Role;
use kaigo_platform::testkit::access as facts;
use kaigo_platform::testkit::{TestDatabase, TestRedis, eventually};
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;
use kaigo_proto::kaigo::registry::v1 as registry;
use prost::Message;

use crate::support::*;

async fn subscribers(channel: String) -> usize {
    let client = redis::Client::open(kaigo_platform::testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let counts: Vec<(String, usize)> =
        redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).query_async(&mut conn).await.unwrap();
    counts.iter().map(|(_, n)| n).sum::<usize>()
}

fn refused(result: Result<tonic::Response<pb::CheckEligibilityResponse>, tonic::Status>) -> Option<String> {
    result.err().map(|status| reason(&status))
}

#[tokio::test]
async fn a_withdrawal_takes_effect_on_two_running_replicas_within_a_second() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let a = Server::start(&db, Some(redis.config())).await;
    let b = Server::start(&db, Some(redis.config())).await;
    let channel = b.api.cache().l2().unwrap().channel();
    let listening = eventually(Duration::from_secs(10), || {
        let count = subscribers(channel.clone());
        async move { (count.await >= 2).then_some(()) }
    })
    .await;
    assert!(listening.is_some(), "both replicas listen for invalidations");

    let mut municipality = a.client(insurer(INSURER)).await;
    let v = create_person(&mut municipality, "0000000700").await;
    certify(&mut municipality, "0000000700", v, common::CareLevel::Care1, date(2025, 4, 1), date(2027, 3, 31)).await;
    let start = chrono::NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
    facts::register(&a.feed, OrganizationKind::CareOffice, OFFICE, INSURER, "0000000700", start).await;
    let consent =
        facts::consent(&a.feed, OrganizationKind::CareOffice, OFFICE, INSURER, "0000000700", &Category::ALL, start)
            .await;

    // Both replicas answer the office and keep the person (with the facts) in L1 and L2.
    let today = kaigo_proto::from_naive_date(kaigo_platform::time::today_jst());
    let query = pb::CheckEligibilityRequest {
        insurer_number: INSURER.into(),
        insured_number: "0000000700".into(),
        as_of: Some(today),
        ..Default::default()
    };
    let via_a = a.client(office(Role::CareOffice, OFFICE)).await;
    let via_b = b.client(office(Role::CareOffice, OFFICE)).await;
    for client in [&via_a, &via_b] {
        for _ in 0..2 {
            let answer = client.clone().check_eligibility(query.clone()).await.unwrap().into_inner();
            assert!(answer.result.unwrap().certification.is_some());
        }
    }

    // The registry records the withdrawal and publishes it; from then on, within a second,
    // both replicas refuse (their L1 would otherwise keep the old answer for 60 s).
    let mut withdrawn = consent.clone();
    withdrawn.version += 1;
    withdrawn.withdraw_time = consent.create_time.map(|mut t| {
        t.seconds = Utc::now().timestamp();
        t
    });
    let payload = registry::ConsentChanged { consent: Some(withdrawn), change_time: None }.encode_to_vec();
    let published = std::time::Instant::now();
    a.feed.bus.publish(&facts::event(TOPIC_CONSENT_CHANGED, &consent.consent_id, payload)).await.unwrap();
    let both = eventually(Duration::from_secs(1), || {
        let (mut via_a, mut via_b, query) = (via_a.clone(), via_b.clone(), query.clone());
        async move {
            let on_a = refused(via_a.check_eligibility(query.clone()).await);
            let on_b = refused(via_b.check_eligibility(query).await);
            (on_a.as_deref() == Some("CONSENT_REQUIRED") && on_b.as_deref() == Some("CONSENT_REQUIRED")).then_some(())
        }
    })
    .await;
    assert!(both.is_some(), "both replicas refuse within 1 s of the withdrawal");
    println!("withdrawal effective on both replicas after {:?}", published.elapsed());
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_batch_is_decided_entry_by_entry_and_audited_as_partly_denied() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    for insured in ["0000000801", "0000000802"] {
        create_person(&mut municipality, insured).await;
    }
    server.grant(OrganizationKind::ServiceProvider, OFFICE, "0000000801", &Category::ALL).await;
    let mut provider = server.client(office(Role::ServiceProvider, OFFICE)).await;
    let query = |insured: &str| pb::EligibilityQuery {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        ..Default::default()
    };
    // Served, not served, and a person nobody recorded: the last two refused alike.
    let queries = vec![query("0000000801"), query("0000000802"), query("0000000803")];
    let entries = provider
        .batch_check_eligibility(pb::BatchCheckEligibilityRequest { queries, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .entries;
    use pb::batch_check_eligibility_entry::Outcome;
    assert!(
        matches!(&entries[0].outcome, Some(Outcome::Result(r)) if r.verdict == pb::EligibilityVerdict::NotCertified as i32)
    );
    for entry in &entries[1..] {
        match &entry.outcome {
            Some(Outcome::Error(e)) => assert_eq!(e.reason, "NOT_REGISTERED"),
            other => panic!("entry {} should be refused: {other:?}", entry.index),
        }
    }
    assert_eq!(
        format!("{:?}", entries[1].outcome).replace("0000000802", "X"),
        format!("{:?}", entries[2].outcome).replace("0000000803", "X").replace("index: 2", "index: 1"),
        "a person who does not exist is refused in the same words"
    );
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    server.stop().await;
    let reads =
        kaigo_platform::audit::reads_of_person(&conn, &kaigo_platform::audit::person(INSURER, "0000000802"), 10)
            .await
            .unwrap();
    let seen: Vec<_> = reads.iter().map(|r| (r.rpc.as_str(), r.outcome.as_str())).collect();
    assert_eq!(seen, [("BatchCheckEligibility", "partly_denied")]);
}

fn accepted(
    notification_id: &str,
    office_number: &str,
    start: (i32, i32, i32),
) -> registry::CarePlanNotificationAccepted {
    registry::CarePlanNotificationAccepted {
        notification: Some(registry::CarePlanNotification {
            notification_id: notification_id.into(),
            person: Some(registry::PersonRef { insurer_number: INSURER.into(), insured_number: "0000000900".into() }),
            office_number: office_number.into(),
            start_date: Some(date(start.0, start.1, start.2)),
            status: registry::NotificationStatus::Accepted as i32,
            version: 2,
            ..Default::default()
        }),
        registration_id: uuid::Uuid::new_v4().to_string(),
    }
}

async fn care_management_records(client: &mut Client) -> Vec<pb::EligibilityRecord> {
    let history = client
        .get_eligibility_history(pb::GetEligibilityHistoryRequest {
            insurer_number: INSURER.into(),
            insured_number: "0000000900".into(),
            include_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    history.records.into_iter().filter(|r| r.kind == pb::RecordKind::CareManagement as i32).collect()
}

#[tokio::test]
async fn an_accepted_notification_records_the_care_management_office_once_across_a_restart() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    create_person(&mut municipality, "0000000900").await;
    let payload = accepted("0191d3c8-0000-7000-8000-000000000900", OFFICE, (2026, 4, 1)).encode_to_vec();
    let event = facts::event(kaigo_eligibility::NOTIFICATION_ACCEPTED_TOPIC, "n-900", payload.clone());
    server.feed.bus.publish(&event).await.unwrap();
    let recorded = eventually(Duration::from_secs(10), || {
        let mut client = municipality.clone();
        async move {
            let records = care_management_records(&mut client).await;
            (!records.is_empty()).then_some(records)
        }
    })
    .await
    .expect("the office is recorded");
    assert_eq!(recorded.len(), 1);
    match recorded[0].details.as_ref() {
        Some(pb::eligibility_record::Details::CareManagement(c)) => {
            assert_eq!(c.office_number, OFFICE);
            assert_eq!(c.period.as_ref().and_then(|p| p.start), Some(date(2026, 4, 1)));
        }
        other => panic!("not a care-management record: {other:?}"),
    }

    // The consumer stops and a new one starts over the same database (a restarted pod); the
    // same event is delivered again, and a second event repeats the same notification
    // (accepted twice): nothing changes.
    let conn = server.harness.db.clone();
    server.stop().await;
    let restarted = Server::serve(conn, None).await;
    restarted.feed.bus.publish(&event).await.unwrap();
    let again = facts::event(kaigo_eligibility::NOTIFICATION_ACCEPTED_TOPIC, "n-900", payload);
    restarted.feed.bus.publish(&again).await.unwrap();
    // A later notification of another office is applied after both, so once it shows, the
    // repeats have been handled.
    let later = accepted("0191d3c8-0000-7000-8000-000000000901", OTHER_OFFICE, (2026, 7, 1)).encode_to_vec();
    restarted
        .feed
        .bus
        .publish(&facts::event(kaigo_eligibility::NOTIFICATION_ACCEPTED_TOPIC, "n-901", later))
        .await
        .unwrap();
    let mut municipality = restarted.client(insurer(INSURER)).await;
    let records = eventually(Duration::from_secs(10), || {
        let mut client = municipality.clone();
        async move {
            let records = care_management_records(&mut client).await;
            (records.len() >= 2).then_some(records)
        }
    })
    .await
    .expect("the later office is recorded");
    // One record per office: the first ends the day before the second starts.
    assert_eq!(records.len(), 2, "{records:?}");
    let periods: Vec<_> = records
        .iter()
        .filter_map(|r| match r.details.as_ref() {
            Some(pb::eligibility_record::Details::CareManagement(c)) => {
                Some((c.office_number.clone(), c.period.as_ref().and_then(|p| p.end)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(periods, [(OFFICE.to_owned(), Some(date(2026, 6, 30))), (OTHER_OFFICE.to_owned(), None)]);
    let check = check(&mut municipality, "0000000900", date(2026, 5, 1)).await;
    assert_eq!(check.care_management.map(|c| c.office_number), Some(OFFICE.to_owned()));
    restarted.stop().await;
}

#[tokio::test]
async fn the_upgrade_hands_each_recorded_office_in_force_to_the_registry_once() {
    use sea_orm::{ConnectionTrait, Statement};
    use sea_orm_migration::MigratorTrait;
    let db = TestDatabase::create().await;
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    let before = kaigo_eligibility::Migrator::migrations()
        .iter()
        .position(|m| m.name() == kaigo_eligibility::store::migrate_offices::NAME)
        .unwrap();
    kaigo_eligibility::Migrator::up(&conn, Some(u32::try_from(before).unwrap())).await.unwrap();

    // The version before: offices recorded on the insurer's word.
    let server = Server::serve(conn.clone(), None).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    let offices = [
        ("0000000951", OFFICE, date(2024, 4, 1), None),
        ("0000000952", OTHER_OFFICE, date(2025, 1, 1), Some(date(2099, 3, 31))),
        // Ended long ago: history, not handed over.
        ("0000000953", OFFICE, date(2020, 4, 1), Some(date(2021, 3, 31))),
    ];
    for (insured, office_number, start, end) in offices {
        let v = create_person(&mut municipality, insured).await;
        municipality
            .record_care_management(pb::RecordCareManagementRequest {
                request_id: rid(),
                insurer_number: INSURER.into(),
                insured_number: insured.into(),
                expected_version: v,
                care_management: Some(pb::CareManagementPeriod {
                    kind: pb::CareManagementKind::HomeCareSupport as i32,
                    office_number: office_number.into(),
                    period: period(start, end),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }
    server.stop().await;

    // The upgrade, run twice (a second `kaigo migrate` finds it applied).
    kaigo_eligibility::Migrator::up(&conn, None).await.unwrap();
    kaigo_eligibility::Migrator::up(&conn, None).await.unwrap();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT payload FROM outbox WHERE topic = 'eligibility.care_management_migrated' ORDER BY seq",
        ))
        .await
        .unwrap();
    let handed: Vec<(String, String, Option<kaigo_proto::google::r#type::Date>)> = rows
        .iter()
        .map(|row| {
            let payload: Vec<u8> = row.try_get("", "payload").unwrap();
            let m = registry::CareManagementMigrated::decode(payload.as_slice()).unwrap();
            (m.person.unwrap().insured_number, m.office_number, m.start_date)
        })
        .collect();
    assert_eq!(
        handed,
        [
            ("0000000951".to_owned(), OFFICE.to_owned(), Some(date(2024, 4, 1))),
            ("0000000952".to_owned(), OTHER_OFFICE.to_owned(), Some(date(2025, 1, 1))),
        ]
    );
}

/// The person's own view (docs/domain/access.md#own-view): an `insured_person` caller whose
/// token subject is an unrevoked identity link of the person reads their own eligibility, on
/// the facts cached with the person (L1 and L2); another person's record and one nobody
/// recorded are refused alike, and a revoked link stops it.
#[tokio::test]
async fn a_person_reads_their_own_eligibility_until_their_link_is_revoked() {
    let redis = TestRedis::create().await;
    let db = TestDatabase::create().await;
    let server = Server::start(&db, Some(redis.config())).await;
    let mut municipality = server.client(insurer(INSURER)).await;
    let v = create_person(&mut municipality, "0000000901").await;
    certify(&mut municipality, "0000000901", v, common::CareLevel::Care2, date(2025, 4, 1), date(2027, 3, 31)).await;
    create_person(&mut municipality, "0000000902").await;
    let link = facts::link(&server.feed, "d000000901", INSURER, "0000000901").await;
    facts::link(&server.feed, "d000000902", INSURER, "0000000902").await;

    let me = kaigo_platform::auth::Caller {
        subject: "d000000901".into(),
        office: None,
        ..office(Role::InsuredPerson, OFFICE)
    };
    let mut client = server.client(me).await;
    let query = |insured: &str| pb::CheckEligibilityRequest {
        insurer_number: INSURER.into(),
        insured_number: insured.into(),
        ..Default::default()
    };
    // Twice: from the database, then from the cache with the facts.
    for _ in 0..2 {
        let result = client.check_eligibility(query("0000000901")).await.unwrap().into_inner().result.unwrap();
        assert_eq!(result.certification.map(|c| c.care_level), Some(common::CareLevel::Care2 as i32));
        assert!(result.withheld.is_empty(), "the person sees every section: {:?}", result.withheld);
    }
    // Another person's record, and one nobody recorded: NOT_REGISTERED, the same words.
    assert_eq!(refused(client.check_eligibility(query("0000000902")).await).as_deref(), Some("NOT_REGISTERED"));
    assert_eq!(refused(client.check_eligibility(query("0000000903")).await).as_deref(), Some("NOT_REGISTERED"));

    // Revoked: the cached answer is dropped with the change, and the person is refused.
    facts::revoke_link(&server.feed, &link).await;
    let stopped = eventually(Duration::from_secs(5), || {
        let mut client = client.clone();
        async move { refused(client.check_eligibility(query("0000000901")).await).filter(|r| r == "NOT_REGISTERED") }
    })
    .await;
    assert_eq!(stopped.as_deref(), Some("NOT_REGISTERED"));
    server.stop().await;
}
