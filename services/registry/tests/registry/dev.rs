//! `kaigo dev`: the registry on SQLite with its virtual cards, through the whole flow once.

use kaigo_platform::config::{DatabaseConfig, Secret};
use kaigo_proto::kaigo::registry::v1 as pb;
use kaigo_registry::cards::{VirtualCa, VirtualCard};

use crate::harness::*;

/// A care office the demo seed did not register (the seed registers the demo office for the
/// demo persons), so that the card flow registers it here.
const CARD_OFFICE: &str = "0300000106";

fn card_office() -> kaigo_platform::auth::Caller {
    kaigo_platform::testkit::caller_for(kaigo_platform::auth::Role::CareOffice, CARD_OFFICE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_runs_on_sqlite_with_the_demo_cards() {
    let data = tempfile::tempdir().unwrap();
    let database = DatabaseConfig {
        url: Secret::new(format!("sqlite://{}", data.path().join("db").display())),
        max_connections: 4,
        ..DatabaseConfig::default()
    };
    let db = kaigo_platform::db::connect(&database, kaigo_registry::NAME).await.unwrap();
    let cards = data.path().join("cards").display().to_string();
    let dir = cards.clone();
    let r = Registry::start_on(db, None, move |c| c.virtual_cards_dir = dir).await;
    let config = kaigo_registry::Config { virtual_cards_dir: cards.clone(), ..Default::default() };
    let (ctx, _control) = kaigo_platform::testkit::context(kaigo_registry::NAME, r.db.clone());
    kaigo_registry::seed_demo(&ctx, &config).await.unwrap();

    // The virtual reader confirms demo person 1; the office registers with a consent.
    let ca = VirtualCa::load_or_create(std::path::Path::new(&cards)).unwrap();
    let card = VirtualCard::load_or_issue(&ca, std::path::Path::new(&cards), "d000000001").unwrap();
    let confirmed = r.confirm(card_office(), &card).await;
    assert_eq!(confirmed.person, Some(person("0000000001")));
    let mut client = r.client(card_office()).await;
    client
        .register_organization(pb::RegisterOrganizationRequest {
            request_id: id(),
            person: Some(person("0000000001")),
            organization: None,
            evidence: pb::Evidence::CardConfirmation as i32,
            card_confirmation_id: confirmed.confirmation_id.clone(),
            start_date: None,
        })
        .await
        .unwrap();
    client
        .record_consent({
            let mut request = consent_request("0000000001", &confirmed.confirmation_id, &[pb::Category::CarePlan]);
            request.grantee = Some(pb::Grantee {
                grantee: Some(pb::grantee::Grantee::Organization(pb::Organization {
                    kind: pb::OrganizationKind::CareOffice as i32,
                    number: CARD_OFFICE.into(),
                })),
            });
            request
        })
        .await
        .unwrap();
    assert!(allowed(&r.check(card_office(), "0000000001", pb::Category::CarePlan).await));

    // A 届出 for demo person 2, accepted.
    let sent = client
        .submit_care_plan_notification(pb::SubmitCarePlanNotificationRequest {
            request_id: id(),
            person: Some(person("0000000002")),
            start_date: Some(date(2026, 12, 4)),
        })
        .await
        .unwrap()
        .into_inner()
        .notification
        .unwrap();
    r.client(insurer())
        .await
        .accept_care_plan_notification(pb::AcceptCarePlanNotificationRequest {
            request_id: id(),
            notification_id: sent.notification_id,
        })
        .await
        .unwrap();

    // The person's view, and the read the office made.
    let reads = kaigo_platform::testkit::eventually(std::time::Duration::from_secs(10), || async {
        let reads = r
            .client(person_caller("d000000001"))
            .await
            .list_my_record_reads(pb::ListMyRecordReadsRequest {
                identity_link: "d000000001".into(),
                page_size: 0,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .reads;
        reads.iter().any(|x| x.reader_organization == CARD_OFFICE).then_some(reads)
    })
    .await;
    assert!(reads.is_some(), "the office's reads appear in the access log");

    // The sweep on SQLite: seven months later, every registration ends.
    r.clock.set(t0() + chrono::Duration::days(215));
    let ended = kaigo_registry::sweep::sweep_once(&r.db, &r.clock, 6).await.unwrap();
    // The two made here and the nine of the demo seed (three organisations, three persons).
    assert!(ended <= 2 + 9);
    let left = kaigo_platform::testkit::eventually(std::time::Duration::from_secs(10), || async {
        (r.count("SELECT COUNT(*) FROM registrations WHERE ended_at IS NULL").await == 0).then_some(())
    })
    .await;
    assert!(left.is_some(), "no registration is left active");
    r.harness.shutdown().await;
}
