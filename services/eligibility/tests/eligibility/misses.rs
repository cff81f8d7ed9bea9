//! Concurrent cache misses read from the database together (`cache::misses`, one statement per
//! kind for many persons): every call still gets its own person, decided on its own facts,
//! and every read is audited.

use std::collections::HashMap;
use std::time::Duration;

use kaigo_eligibility::Config;
use kaigo_eligibility::key::PersonKey;
use kaigo_platform::access::{Category, OrganizationKind};
use kaigo_platform::auth::Role;
use kaigo_platform::ids::{InsuredNumber, InsurerNumber};
use kaigo_platform::testkit::{TestDatabase, eventually};
use kaigo_proto::kaigo::common::v1 as common;
use kaigo_proto::kaigo::eligibility::v1 as pb;

use crate::support::*;

const LEVELS: [common::CareLevel; 5] = [
    common::CareLevel::Care1,
    common::CareLevel::Care2,
    common::CareLevel::Care3,
    common::CareLevel::Care4,
    common::CareLevel::Care5,
];

fn key(insured: &str) -> PersonKey {
    PersonKey::new(&InsurerNumber::parse(INSURER).unwrap(), &InsuredNumber::parse(insured).unwrap())
}

/// Persons 0000000601..=0000000624: the even ones certified (a level by their number) and
/// registered with [`OFFICE`], which holds a consent to their certificates; the odd ones
/// neither. Returns each number with its level.
async fn persons(server: &Server) -> Vec<(String, Option<common::CareLevel>)> {
    let mut client = server.client(insurer(INSURER)).await;
    let mut out = Vec::new();
    for n in 1..=24usize {
        let insured = format!("{:010}", 600 + n);
        let version = create_person(&mut client, &insured).await;
        let level = if n % 2 == 0 {
            let level = LEVELS[n % LEVELS.len()];
            certify(&mut client, &insured, version, level, date(2025, 4, 1), date(2026, 3, 31)).await;
            server.grant(OrganizationKind::ServiceProvider, OFFICE, &insured, &[Category::InsuranceCertificates]).await;
            Some(level)
        } else {
            None
        };
        out.push((insured, level));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_of_many_persons_in_one_statement_is_each_persons_own_read() {
    let db = TestDatabase::create().await;
    let server = Server::start(&db, None).await;
    let persons = persons(&server).await;
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    // The registry's facts arrive through its events: wait until the last grant is in.
    let last = key(&persons[23].0);
    let arrived = eventually(Duration::from_secs(20), || {
        let conn = conn.clone();
        async move {
            let facts = kaigo_eligibility::store::access_facts(&conn, &last).await.unwrap();
            (!facts.registrations.is_empty() && !facts.consents.is_empty()).then_some(())
        }
    })
    .await;
    assert!(arrived.is_some(), "the grants reached the facts copy");

    // Every person, two unknown numbers, and one person named twice: more than a power of two,
    // so the statement names some persons again (padding).
    let mut keys: Vec<PersonKey> = persons.iter().map(|(insured, _)| key(insured)).collect();
    keys.push(key("0000000901"));
    keys.push(key("0000000902"));
    keys.push(key(&persons[3].0));
    let timelines = kaigo_eligibility::store::timelines(&conn, &keys).await.unwrap();
    let facts = kaigo_eligibility::store::access_facts_many(&conn, &keys).await.unwrap();
    assert_eq!(timelines.len(), 24, "the known persons, once each");
    assert_eq!(facts.len(), 26, "every distinct key");
    for key in &keys {
        let alone = kaigo_eligibility::store::timeline(&conn, key).await.unwrap();
        assert_eq!(timelines.get(key), alone.as_ref(), "the same timeline as the person's own read");
        let own = kaigo_eligibility::store::access_facts(&conn, key).await.unwrap();
        assert_eq!(facts.get(key), Some(&own), "the same facts as the person's own read");
    }
    let certified = timelines.values().filter(|(timeline, _)| timeline.records.len() > 1).count();
    assert_eq!(certified, 12, "the certified persons' records came with them");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_of_distinct_persons_each_get_their_own_answer_and_decision() {
    let db = TestDatabase::create().await;
    // No L1 and no Redis: every call reads the database.
    let server = Server::start_config(&db, None, &Config { l1_enabled: false, ..Config::default() }).await;
    let persons = persons(&server).await;
    let expected: HashMap<String, Option<common::CareLevel>> = persons.iter().cloned().collect();
    let unknown: Vec<String> = (1..=8).map(|n| format!("{:010}", 900 + n)).collect();
    let conn = kaigo_platform::db::connect(&db.config(), "eligibility").await.unwrap();
    let last = key(&persons[23].0);
    let arrived = eventually(Duration::from_secs(20), || {
        let conn = conn.clone();
        async move {
            let facts = kaigo_eligibility::store::access_facts(&conn, &last).await.unwrap();
            (!facts.consents.is_empty()).then_some(())
        }
    })
    .await;
    assert!(arrived.is_some(), "the grants reached the facts copy");

    // The insurer asks for every number eight times, all at once, interleaved: far more misses
    // at once than readers, so most are read in batches with other persons.
    let client = server.client(insurer(INSURER)).await;
    let numbers: Vec<String> = persons.iter().map(|(n, _)| n.clone()).chain(unknown.iter().cloned()).collect();
    let calls = (0..8).flat_map(|_| numbers.iter().cloned()).map(|insured| {
        let mut client = client.clone();
        async move {
            let result = check(&mut client, &insured, date(2025, 6, 1)).await;
            (insured, result)
        }
    });
    let answers = futures::future::join_all(calls).await;
    assert_eq!(answers.len(), 8 * 32);
    for (insured, result) in &answers {
        assert_eq!(&result.insured_number, insured, "each call answers its own person");
        match expected.get(insured) {
            Some(Some(level)) => {
                assert_eq!(verdict(result), pb::EligibilityVerdict::Eligible);
                assert_eq!(result.certification.as_ref().map(|c| c.care_level), Some(*level as i32));
                assert_eq!(result.person.as_ref().map(|p| p.name_kanji.as_str()), Some("介護 花子"));
            }
            Some(None) => assert_eq!(verdict(result), pb::EligibilityVerdict::NotCertified),
            None => assert_eq!(verdict(result), pb::EligibilityVerdict::NotInsured),
        }
    }

    // The office, at once for every person: allowed exactly where its registration and
    // consent are, each decided on that person's own facts.
    let office_client = server.client(office(Role::ServiceProvider, OFFICE)).await;
    let calls = (0..4).flat_map(|_| numbers.iter().cloned()).map(|insured| {
        let mut client = office_client.clone();
        async move {
            let answer = client
                .check_eligibility(pb::CheckEligibilityRequest {
                    insurer_number: INSURER.into(),
                    insured_number: insured.clone(),
                    as_of: Some(date(2025, 6, 1)),
                    ..Default::default()
                })
                .await;
            (insured, answer)
        }
    });
    for (insured, answer) in futures::future::join_all(calls).await {
        if matches!(expected.get(&insured), Some(Some(_))) {
            let result = answer.unwrap().into_inner().result.unwrap();
            assert_eq!(result.insured_number, insured, "each call answers its own person");
            assert_eq!(verdict(&result), pb::EligibilityVerdict::Eligible);
        } else {
            assert_eq!(answer.unwrap_err().code(), tonic::Code::PermissionDenied, "no registration, no answer");
        }
    }

    // Every read is on the audit trail, one record per call (flushed on a clean stop).
    server.stop().await;
    assert_eq!(kaigo_platform::audit::count_all(&conn).await.unwrap(), 8 * 32 + 4 * 32, "one record per call");
    for insured in &numbers {
        let person = kaigo_platform::audit::person(INSURER, insured);
        assert_eq!(
            kaigo_platform::audit::count_for_person(&conn, &person).await.unwrap(),
            12,
            "every read of each person"
        );
    }
}
